import { describe, expect, it } from 'vitest';
import { FaultyBlockDevice, isPowerCut, MemoryBlockDevice } from '@uniota/block-device';
import { decodeEnvCopy, encodeEnvCopy } from './uboot-env-format.ts';
import { UBootEnvStore } from './uboot-env-store.ts';

const SIZE = 0x4000;
const loc = { offsets: [0x1000, 0x1000 + SIZE] as [number, number], envSize: SIZE };
const disk = (): MemoryBlockDevice => new MemoryBlockDevice(0x10000);
const copyFlags = async (dev: MemoryBlockDevice): Promise<[number | undefined, number | undefined]> => [
  decodeEnvCopy(await dev.read(loc.offsets[0], SIZE))?.flags,
  decodeEnvCopy(await dev.read(loc.offsets[1], SIZE))?.flags,
];

describe('UBootEnvStore', () => {
  it('reads null from a blank disk and, like libubootenv, first writes copy 1 with flags 1', async () => {
    const dev = disk();
    const store = new UBootEnvStore(dev, loc);
    expect(await store.read()).toBeNull();
    await store.write(new Map([['a', '1']]));
    expect(await copyFlags(dev)).toEqual([undefined, 1]);
    expect(await store.read()).toEqual({ vars: new Map([['a', '1']]), flags: 1, copy: 1 });
  });

  it('alternates copies and increments flags, keeping the previous env in the other copy', async () => {
    const dev = disk();
    const store = new UBootEnvStore(dev, loc);
    for (let i = 1; i <= 4; i++) {
      await store.write(new Map([['n', String(i)]]));
      const env = await store.read();
      expect(env).toEqual({ vars: new Map([['n', String(i)]]), flags: i, copy: i % 2 === 1 ? 1 : 0 });
    }
    expect(decodeEnvCopy(await dev.read(loc.offsets[1], SIZE))?.vars.get('n')).toBe('3');
  });

  it('wraps flags 255 -> 0 and still reads the newest copy', async () => {
    const dev = disk();
    await dev.write(loc.offsets[0], encodeEnvCopy(new Map([['n', 'old']]), SIZE, 254));
    const store = new UBootEnvStore(dev, loc);
    const seen: [number, string | undefined][] = [];
    for (const n of ['a', 'b', 'c']) {
      await store.write(new Map([['n', n]]));
      const env = await store.read();
      seen.push([env!.flags, env!.vars.get('n')]);
    }
    expect(seen).toEqual([
      [255, 'a'],
      [0, 'b'],
      [1, 'c'],
    ]);
  });

  it('falls back to the other copy when the current one is corrupt, and overwrites the corrupt one next', async () => {
    const dev = disk();
    const store = new UBootEnvStore(dev, loc);
    await store.write(new Map([['n', '1']])); // copy 1, flags 1
    await store.write(new Map([['n', '2']])); // copy 0, flags 2
    await dev.write(loc.offsets[0] + 100, Uint8Array.of(0xff));
    expect(await store.read()).toEqual({ vars: new Map([['n', '1']]), flags: 1, copy: 1 });
    await store.write(new Map([['n', '3']]));
    expect(await copyFlags(dev)).toEqual([2, 1]);
    expect(await store.read()).toEqual({ vars: new Map([['n', '3']]), flags: 2, copy: 0 });
  });

  it('writes each copy in ONE write and then flushes', async () => {
    const inner = disk();
    const dev = new FaultyBlockDevice(inner);
    await new UBootEnvStore(dev, loc).write(new Map([['a', '1']]));
    expect(dev.operations).toBe(2);
  });

  // Power cuts during one env update: every row must leave either the old env
  // or the new one, never neither (what fwup #215 / nerves_runtime #375 hit).
  const big = 'x'.repeat(SIZE - 200); // reaches into the copy's last sector
  it.each([
    { name: 'before the write', cutAt: 1, mode: 'before', value: 'new', expect: 'old' },
    // New CRC and flags, but the variable itself only half replaced ("v=nlder").
    { name: 'torn 8 bytes in', cutAt: 1, mode: 'torn', tornBytes: 8, value: 'new', expect: 'old' },
    // Past the new data the old copy's bytes are zero padding too, so this prefix completes the copy.
    { name: 'torn 100 bytes in', cutAt: 1, mode: 'torn', tornBytes: 100, value: 'new', expect: 'new' },
    // The missing last sector is zero padding in old and new alike, so the torn copy is whole.
    { name: 'torn, all but the last sector, small env', cutAt: 1, mode: 'torn', value: 'new', expect: 'new' },
    { name: 'torn, all but the last sector, env filling the copy', cutAt: 1, mode: 'torn', value: big, expect: 'old' },
    { name: 'after the write', cutAt: 1, mode: 'after', value: 'new', expect: 'new' },
    { name: 'before the flush', cutAt: 2, mode: 'before', value: 'new', expect: 'new' },
    { name: 'after the flush', cutAt: 2, mode: 'after', value: 'new', expect: 'new' },
  ] as const)('a power cut $name leaves the $expect env', async (row) => {
    const inner = disk();
    const setup = new UBootEnvStore(inner, loc);
    await setup.write(new Map([['v', 'older']]));
    await setup.write(new Map([['v', 'old']]));
    const plan = { cutAt: row.cutAt, mode: row.mode, ...('tornBytes' in row ? { tornBytes: row.tornBytes } : {}) };
    const dev = new FaultyBlockDevice(inner, plan);
    await expect(new UBootEnvStore(dev, loc).write(new Map([['v', row.value]]))).rejects.toSatisfy(isPowerCut);
    const after = await new UBootEnvStore(inner, loc).read();
    expect(after?.vars.get('v')).toBe(row.expect === 'old' ? 'old' : row.value);
  });

  it('rejects overlapping copies', () => {
    expect(() => new UBootEnvStore(disk(), { offsets: [0, 100], envSize: SIZE })).toThrow(
      expect.objectContaining({ code: 'ENV_BAD_LOCATION' }),
    );
  });
});
