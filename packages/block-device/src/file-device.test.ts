import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasCode } from '@uniota/errors';
import { FileBlockDevice } from './file-device.ts';

const dir = mkdtempSync(join(tmpdir(), 'uniota-filedev-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('FileBlockDevice', () => {
  it('creates a sparse file of the given size and persists writes across reopen', async () => {
    const path = join(dir, 'disk.img');
    const dev = await FileBlockDevice.open(path, { create: true, size: 64 << 20 });
    expect(dev.size).toBe(64 << 20);
    await dev.write(32 << 20, Uint8Array.of(1, 2, 3, 4));
    await dev.flush();
    await dev.close();
    const st = statSync(path);
    expect(st.size).toBe(64 << 20);
    // Sparse: far fewer blocks than 64 MiB are allocated.
    expect(st.blocks * 512).toBeLessThan(1 << 20);

    const again = await FileBlockDevice.open(path);
    expect(again.size).toBe(64 << 20);
    expect(await again.read((32 << 20) - 2, 8)).toEqual(Uint8Array.of(0, 0, 1, 2, 3, 4, 0, 0));
    await again.close();
  });

  it('writes MiBs from shared memory at an unaligned view and file offset exactly, complete when the promise settles', async () => {
    const path = join(dir, 'shared.img');
    const dev = await FileBlockDevice.open(path, { create: true, size: 8 << 20 });
    const shared = new Uint8Array(new SharedArrayBuffer((3 << 20) + 8), 3, 3 << 20);
    for (let i = 0; i < shared.length; i++) shared[i] = (i * 31 + 7) & 0xff;
    await dev.write(12345, shared);
    // Read through another handle: the bytes are in the file, not only in this device.
    const other = await FileBlockDevice.open(path);
    expect(Buffer.from(await other.read(12345, shared.length)).equals(Buffer.from(shared))).toBe(true);
    expect(await other.read(12344, 1)).toEqual(Uint8Array.of(0));
    await other.close();
    await dev.close();
  });

  it('reads zeros past the end of a file shorter than its declared size', async () => {
    const path = join(dir, 'short.img');
    writeFileSync(path, Uint8Array.of(7, 7));
    const dev = await FileBlockDevice.open(path, { size: 4096 });
    expect(await dev.read(0, 4)).toEqual(Uint8Array.of(7, 7, 0, 0));
    const reused = new Uint8Array(4).fill(0xee);
    await dev.readInto(0, reused);
    expect(reused).toEqual(Uint8Array.of(7, 7, 0, 0));
    await dev.close();
  });

  it('throws OUT_OF_RANGE beyond the device size and does not grow the file', async () => {
    const path = join(dir, 'small.img');
    const dev = await FileBlockDevice.open(path, { create: true, size: 4096 });
    await expect(dev.write(4095, new Uint8Array(2))).rejects.toSatisfy((e: unknown) => hasCode(e, 'OUT_OF_RANGE'));
    await dev.close();
    expect(statSync(path).size).toBe(4096);
  });

  it('maps ENOSPC to DISK_FULL (writing to /dev/full)', async () => {
    const dev = await FileBlockDevice.open('/dev/full', { size: 4096 });
    const err = await dev.write(0, new Uint8Array(512)).catch((e: unknown) => e);
    await dev.close();
    expect(hasCode(err, 'DISK_FULL')).toBe(true);
    expect((err as Error).message).toMatch(/no space left/);
  });

  it('reports a missing file as IO_ERROR', async () => {
    const err = await FileBlockDevice.open(join(dir, 'missing.img')).catch((e: unknown) => e);
    expect(hasCode(err, 'IO_ERROR')).toBe(true);
  });
});
