import { describe, expect, it } from 'vitest';
import { hasCode } from '@uniota/errors';
import { readInto } from './block-device.ts';
import { MemoryBlockDevice } from './memory-device.ts';

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

describe('MemoryBlockDevice', () => {
  it('reads zeros where nothing was written and allocates nothing for reads', async () => {
    const dev = new MemoryBlockDevice(1 << 20);
    expect(await dev.read(1000, 16)).toEqual(new Uint8Array(16));
    expect(dev.allocatedBytes).toBe(0);
  });

  it('round-trips a write that spans three 64 KiB pages', async () => {
    const dev = new MemoryBlockDevice(1 << 20);
    const data = bytes(150_000, 3);
    await dev.write(60_000, data);
    expect(Buffer.from(await dev.read(60_000, data.length)).equals(data)).toBe(true);
    expect(await dev.read(59_999, 1)).toEqual(new Uint8Array(1));
    expect(dev.allocatedBytes).toBe(4 * 64 * 1024);
  });

  it('handles a size that is not a page multiple', async () => {
    const dev = new MemoryBlockDevice(70_000);
    await dev.write(69_990, bytes(10, 1));
    expect(await dev.read(69_990, 10)).toEqual(bytes(10, 1));
  });

  it.each([
    ['read past the end', (d: MemoryBlockDevice) => d.read(4090, 7)],
    ['write past the end', (d: MemoryBlockDevice) => d.write(4095, new Uint8Array(2))],
    ['negative offset', (d: MemoryBlockDevice) => d.read(-1, 1)],
    ['fractional offset', (d: MemoryBlockDevice) => d.write(1.5, new Uint8Array(1))],
    ['fractional length', (d: MemoryBlockDevice) => d.read(0, 1.5)],
    ['NaN length', (d: MemoryBlockDevice) => d.read(0, Number.NaN)],
    ['huge length, refused before any allocation', (d: MemoryBlockDevice) => d.read(0, 2 ** 40)],
    ['readInto past the end', (d: MemoryBlockDevice) => d.readInto(4090, new Uint8Array(7))],
  ])('%s throws OUT_OF_RANGE', async (_name, op) => {
    const dev = new MemoryBlockDevice(4096);
    await expect(op(dev)).rejects.toSatisfy((e: unknown) => hasCode(e, 'OUT_OF_RANGE'));
  });

  it('clone is isolated in both directions and shares pages until written', async () => {
    const original = new MemoryBlockDevice(1 << 20);
    await original.write(0, bytes(200_000, 1));
    const copy = original.clone();
    expect(Buffer.from(await copy.read(0, 200_000)).equals(bytes(200_000, 1))).toBe(true);

    await copy.write(10, Uint8Array.of(0xaa));
    await original.write(100_000, Uint8Array.of(0xbb));
    expect((await original.read(10, 1))[0]).toBe(bytes(11, 1)[10]);
    expect((await copy.read(100_000, 1))[0]).toBe(bytes(100_001, 1)[100_000]);
    expect((await copy.read(10, 1))[0]).toBe(0xaa);
    expect((await original.read(100_000, 1))[0]).toBe(0xbb);

    // A clone of a clone still leaves both ancestors alone.
    const grandchild = copy.clone();
    await grandchild.write(10, Uint8Array.of(0xcc));
    expect((await copy.read(10, 1))[0]).toBe(0xaa);
    expect((await original.read(10, 1))[0]).toBe(bytes(11, 1)[10]);
  });

  it('1,000 devices of 4 MiB with a small write each allocate one page each', async () => {
    const devices: MemoryBlockDevice[] = [];
    for (let i = 0; i < 1_000; i++) {
      const d = new MemoryBlockDevice(4 << 20);
      await d.write(1 << 20, Uint8Array.of(i & 0xff));
      devices.push(d);
    }
    const total = devices.reduce((sum, d) => sum + d.allocatedBytes, 0);
    // One 64 KiB page each instead of 4 MiB each (4 GiB).
    expect(total).toBe(1_000 * 64 * 1024);
  });
});

describe('readInto', () => {
  it('goes through read for a device without readInto, and refuses a short read instead of leaving old bytes', async () => {
    const mem = new MemoryBlockDevice(4096);
    await mem.write(0, Uint8Array.of(1, 2, 3, 4));
    const plain = { size: mem.size, read: (o: number, n: number) => mem.read(o, n) };
    const target = new Uint8Array(4).fill(9);
    await readInto(plain, 0, target);
    expect(target).toEqual(Uint8Array.of(1, 2, 3, 4));
    const short = { size: mem.size, read: async (o: number, n: number) => (await mem.read(o, n)).subarray(0, n - 1) };
    await expect(readInto(short, 0, new Uint8Array(4))).rejects.toSatisfy((e: unknown) => hasCode(e, 'IO_ERROR'));
  });
});
