import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryBlockDevice } from '@uniota/block-device';
import { PagePool, SHARED_PAGE_SIZE, SharedPageDisk } from './shared-page-disk.ts';

const P = SHARED_PAGE_SIZE;
const filled = (n: number, v: number) => new Uint8Array(n).fill(v);

describe('SharedPageDisk', () => {
  it('devices that flushed the same bytes at the same place share one copy; a later write stays private', async () => {
    const pool = new PagePool();
    const disks = Array.from({ length: 100 }, () => new SharedPageDisk(16 * P, pool));
    for (const d of disks) {
      await d.write(2 * P, filled(4 * P, 7)); // the same image in every device
      await d.write(0, Uint8Array.of(disks.indexOf(d) % 256)); // a per-device byte
      await d.flush();
    }
    // 4 shared image pages + at most 100 distinct first pages (here all differ: 100).
    expect(SharedPageDisk.distinctBytes(disks)).toBe((4 + 100) * P);
    await disks[0]!.write(2 * P, Uint8Array.of(1));
    expect((await disks[0]!.read(2 * P, 2))).toEqual(Uint8Array.of(1, 7));
    expect((await disks[1]!.read(2 * P, 2))).toEqual(Uint8Array.of(7, 7));
    expect(disks[0]!.privateBytes).toBe(P);
  });

  it('a whole-page write of the fleet\'s bytes shares its page at once; a whole-page write of other bytes is private', async () => {
    const pool = new PagePool();
    const [a, b] = [new SharedPageDisk(4 * P, pool), new SharedPageDisk(4 * P, pool)] as const;
    await a.write(P, filled(2 * P, 9));
    await a.flush();
    await b.write(P, filled(2 * P, 9));
    // Shared before any flush: nothing private, one copy for both disks.
    expect(b.privateBytes).toBe(0);
    expect(SharedPageDisk.distinctBytes([a, b])).toBe(2 * P);
    await b.write(P, filled(P, 4));
    expect(b.privateBytes).toBe(P);
    expect(await a.read(P, 1)).toEqual(Uint8Array.of(9));
    expect(await b.read(P, 1)).toEqual(Uint8Array.of(4));
  });

  it('a clone and its original never see each other\'s writes', async () => {
    const a = new SharedPageDisk(4 * P);
    await a.write(10, filled(20, 3));
    await a.flush();
    const b = a.clone();
    await b.write(12, filled(2, 9));
    await a.write(14, filled(2, 5));
    expect(await a.read(10, 8)).toEqual(Uint8Array.of(3, 3, 3, 3, 5, 5, 3, 3));
    expect(await b.read(10, 8)).toEqual(Uint8Array.of(3, 3, 9, 9, 3, 3, 3, 3));
  });

  it('refuses reads and writes outside the device', async () => {
    const d = new SharedPageDisk(P + 10);
    await expect(d.read(P, 11)).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });
    await expect(d.write(-1, filled(1, 0))).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });
    await d.write(P, filled(10, 1)); // the short last page
    expect(await d.read(P + 8, 2)).toEqual(filled(2, 1));
  });

  it('reads back exactly what a MemoryBlockDevice would, under any writes, flushes and clones', async () => {
    const size = 6 * P + 100;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), disk: fc.nat(2), offset: fc.nat(size - 1), len: fc.integer({ min: 1, max: 2 * P }), v: fc.nat(255) }),
      // Whole pages with few distinct values, so the fleet's canonical page often matches.
      fc.record({ kind: fc.constant('page' as const), disk: fc.nat(2), page: fc.nat(6), v: fc.nat(2) }),
      fc.record({ kind: fc.constant('flush' as const), disk: fc.nat(2) }),
      fc.record({ kind: fc.constant('clone' as const), disk: fc.nat(2), into: fc.nat(2) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const pool = new PagePool();
        const shared = [0, 1, 2].map(() => new SharedPageDisk(size, pool));
        const plain = [0, 1, 2].map(() => new MemoryBlockDevice(size));
        for (const o of ops) {
          if (o.kind === 'write') {
            const len = Math.min(o.len, size - o.offset);
            await shared[o.disk]!.write(o.offset, filled(len, o.v));
            await plain[o.disk]!.write(o.offset, filled(len, o.v));
          } else if (o.kind === 'page') {
            const len = Math.min(P, size - o.page * P);
            await shared[o.disk]!.write(o.page * P, filled(len, o.v));
            await plain[o.disk]!.write(o.page * P, filled(len, o.v));
          } else if (o.kind === 'flush') {
            await shared[o.disk]!.flush();
          } else {
            shared[o.into] = shared[o.disk]!.clone();
            plain[o.into] = plain[o.disk]!.clone();
          }
        }
        // Buffer.compare: a deep toEqual over 24 KiB arrays is far too slow for 150 runs.
        for (let i = 0; i < 3; i++) {
          const expected = await plain[i]!.read(0, size);
          expect(Buffer.compare(await shared[i]!.read(0, size), expected)).toBe(0);
          // Into a buffer that held other bytes (a reused one): holes too come back as zeros.
          for (const dev of [shared[i]!, plain[i]!]) {
            const reused = new Uint8Array(size).fill(0xee);
            await dev.readInto(0, reused);
            expect(Buffer.compare(reused, expected)).toBe(0);
          }
        }
      }),
      { numRuns: 150, seed: 7 },
    );
  });
});
