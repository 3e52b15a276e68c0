import { describe, expect, it } from 'vitest';
import { FaultyBlockDevice, isPowerCut, type FaultPlan } from './faulty-device.ts';
import { MemoryBlockDevice } from './memory-device.ts';

/**
 * The script every row runs: op1 write 1024 bytes of 0x11 at 0, op2 flush,
 * op3 write 300 bytes of 0x22 at 2048, op4 flush, op5 write 1000 bytes of 0x33 at 3000.
 */
async function script(dev: FaultyBlockDevice): Promise<void> {
  await dev.write(0, new Uint8Array(1024).fill(0x11));
  await dev.flush();
  await dev.write(2048, new Uint8Array(300).fill(0x22));
  await dev.flush();
  await dev.write(3000, new Uint8Array(1000).fill(0x33));
}

/** How many bytes of each write landed: [write 1, write 2, write 3]. */
async function landed(inner: MemoryBlockDevice): Promise<[number, number, number]> {
  const count = (b: Uint8Array, v: number): number => b.filter((x) => x === v).length;
  return [
    count(await inner.read(0, 1024), 0x11),
    count(await inner.read(2048, 300), 0x22),
    count(await inner.read(3000, 1000), 0x33),
  ];
}

interface Row {
  name: string;
  plan: FaultPlan;
  /** Operations counted when the script stops (the cut one included). */
  ops: number;
  landed: [number, number, number];
}

const rows: Row[] = [
  { name: 'no cut', plan: {}, ops: 5, landed: [1024, 300, 1000] },
  { name: 'cut before write 1', plan: { cutAt: 1, mode: 'before' }, ops: 1, landed: [0, 0, 0] },
  { name: 'cut after write 1', plan: { cutAt: 1, mode: 'after' }, ops: 1, landed: [1024, 0, 0] },
  { name: 'torn write 1 (default: all but last sector)', plan: { cutAt: 1, mode: 'torn' }, ops: 1, landed: [512, 0, 0] },
  { name: 'torn write 1, 100 bytes', plan: { cutAt: 1, mode: 'torn', tornBytes: 100 }, ops: 1, landed: [100, 0, 0] },
  { name: 'torn flush = before', plan: { cutAt: 2, mode: 'torn' }, ops: 2, landed: [1024, 0, 0] },
  { name: 'torn small write lands half', plan: { cutAt: 3, mode: 'torn' }, ops: 3, landed: [1024, 150, 0] },
  // 3000..4000 touches sectors 5..7; the last sector starts at 3584, so 584 bytes land.
  { name: 'torn unaligned write stops at its last sector', plan: { cutAt: 5, mode: 'torn' }, ops: 5, landed: [1024, 300, 584] },
  {
    name: 'torn random uses the injected random',
    plan: { cutAt: 5, mode: 'torn', tornBytes: 'random', random: () => 0.25 },
    ops: 5,
    landed: [1024, 300, 250],
  },
  { name: 'cut at op 4 after', plan: { cutAt: 4, mode: 'after' }, ops: 4, landed: [1024, 300, 0] },
  { name: 'cut beyond the script never fires', plan: { cutAt: 6 }, ops: 5, landed: [1024, 300, 1000] },
];

describe('FaultyBlockDevice', () => {
  it.each(rows)('$name', async (row) => {
    const inner = new MemoryBlockDevice(8192);
    const dev = new FaultyBlockDevice(inner, row.plan);
    const err = await script(dev).then(
      () => null,
      (e: unknown) => e,
    );
    const shouldCut = row.plan.cutAt !== undefined && row.plan.cutAt <= 5;
    expect(err === null ? null : isPowerCut(err)).toBe(shouldCut ? true : null);
    expect(dev.powerIsCut).toBe(shouldCut);
    expect(dev.operations).toBe(row.ops);
    expect(await landed(inner)).toEqual(row.landed);
  });

  it('after the cut every read, write and flush throws until a new device powers on', async () => {
    const inner = new MemoryBlockDevice(4096);
    const dead = new FaultyBlockDevice(inner, { cutAt: 1, mode: 'after' });
    await expect(dead.write(0, Uint8Array.of(5))).rejects.toSatisfy(isPowerCut);
    await expect(dead.read(0, 1)).rejects.toSatisfy(isPowerCut);
    await expect(dead.write(1, Uint8Array.of(6))).rejects.toSatisfy(isPowerCut);
    await expect(dead.flush()).rejects.toSatisfy(isPowerCut);
    expect(dead.operations).toBe(1);
    expect(await inner.read(0, 2)).toEqual(Uint8Array.of(5, 0));

    const poweredOn = new FaultyBlockDevice(inner);
    expect(await poweredOn.read(0, 2)).toEqual(Uint8Array.of(5, 0));
    await poweredOn.write(1, Uint8Array.of(6));
    expect(await inner.read(0, 2)).toEqual(Uint8Array.of(5, 6));
  });

  it('flips bits in what reads return, not in storage', async () => {
    const inner = new MemoryBlockDevice(4096);
    await inner.write(100, Uint8Array.of(0, 0, 0));
    const dev = new FaultyBlockDevice(inner, { bitFlipsOnRead: [{ offset: 101, bit: 3 }] });
    expect(await dev.read(100, 3)).toEqual(Uint8Array.of(0, 8, 0));
    expect(await dev.read(101, 1)).toEqual(Uint8Array.of(8));
    expect(await dev.read(102, 2)).toEqual(Uint8Array.of(0, 0));
    expect(await inner.read(101, 1)).toEqual(Uint8Array.of(0));
    expect(dev.operations).toBe(0);
  });

  it('rejects plans that would not be reproducible or make no sense', () => {
    const inner = new MemoryBlockDevice(4096);
    expect(() => new FaultyBlockDevice(inner, { cutAt: 1, mode: 'torn', tornBytes: 'random' })).toThrow(/random/);
    expect(() => new FaultyBlockDevice(inner, { cutAt: 0 })).toThrow(/cutAt/);
  });
});
