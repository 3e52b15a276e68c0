import { describe, expect, it } from 'vitest';
import { SpareBuffers } from './spare-buffers.ts';

/** As slot verification keeps its read buffers: any kept buffer large enough serves, up to `maxSize`. */
const readBuffers = (maxSize: number, capBytes: number) =>
  new SpareBuffers<Uint8Array>({ allocate: (n) => new Uint8Array(n), capBytes, idleMs: 30_000, fit: 'at-least', maxSize });

describe('SpareBuffers, fitting at least the size asked', () => {
  it('hands back a free buffer large enough, else a new one of the size asked', () => {
    const pool = readBuffers(1024, 4096);
    const a = pool.take(1024);
    const b = pool.take(100);
    expect([a.byteLength, b.byteLength]).toEqual([1024, 100]);
    pool.giveBack([a, b]);
    expect(pool.take(512)).toBe(a);
    expect(pool.take(50)).toBe(b);
    expect(pool.take(60)).not.toBe(b);
    expect(() => pool.take(1025)).toThrow(RangeError);
  });

  it('keeps at most `keepBytes` of buffers, the larger ones, and never the same one twice', () => {
    const pool = readBuffers(1024, 1500);
    const [small, mid, big] = [pool.take(10), pool.take(500), pool.take(1000)];
    pool.giveBack([small, mid, mid]);
    expect(pool.held).toBe(2);
    // 1,000 more bytes do not fit beside 510: the 10-byte buffer makes room, the 500 stays.
    pool.giveBack([big]);
    expect(pool.held).toBe(2);
    expect(pool.take(1000)).toBe(big);
    expect(pool.take(400)).toBe(mid);
    expect(pool.held).toBe(0);
    // A buffer larger than the whole allowance is never kept.
    const tight = readBuffers(1024, 100);
    tight.giveBack([tight.take(200)]);
    expect(tight.held).toBe(0);
  });
});
