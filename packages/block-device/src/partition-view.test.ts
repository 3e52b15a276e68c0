import { describe, expect, it } from 'vitest';
import { hasCode } from '@uniota/errors';
import { MemoryBlockDevice } from './memory-device.ts';
import { PartitionView } from './partition-view.ts';

describe('PartitionView', () => {
  it('maps offsets into the parent', async () => {
    const disk = new MemoryBlockDevice(8192);
    const part = new PartitionView(disk, 4096, 1024);
    expect(part.size).toBe(1024);
    await part.write(10, Uint8Array.of(1, 2, 3));
    expect(await disk.read(4106, 3)).toEqual(Uint8Array.of(1, 2, 3));
    await disk.write(5000, Uint8Array.of(9));
    expect(await part.read(904, 1)).toEqual(Uint8Array.of(9));
    const into = new Uint8Array(3);
    await part.readInto(10, into);
    expect(into).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('refuses to spill into the neighbour and leaves it untouched', async () => {
    const disk = new MemoryBlockDevice(8192);
    const part = new PartitionView(disk, 4096, 1024);
    await expect(part.write(1020, new Uint8Array(8).fill(0xff))).rejects.toSatisfy((e: unknown) =>
      hasCode(e, 'OUT_OF_RANGE'),
    );
    expect(await disk.read(4096 + 1020, 8)).toEqual(new Uint8Array(8));
    await expect(part.read(1024, 1)).rejects.toSatisfy((e: unknown) => hasCode(e, 'OUT_OF_RANGE'));
    await expect(part.readInto(1020, new Uint8Array(8))).rejects.toSatisfy((e: unknown) => hasCode(e, 'OUT_OF_RANGE'));
  });

  it('cannot be made larger than its parent', () => {
    const disk = new MemoryBlockDevice(8192);
    expect(() => new PartitionView(disk, 8000, 1024)).toThrow(/outside the device/);
  });
});
