import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inlineChunkHasher, threadedChunkHasher, threadedChunkHasherOn, THREADED_MIN_BYTES } from './chunk-hasher.ts';
import { payloadOf } from './test-fixtures.ts';

/** The digests computed one slice at a time with node:crypto, as the reference. */
function reference(bytes: Uint8Array, chunkSize: number): string[] {
  const out: string[] = [];
  for (let at = 0; at < bytes.length; at += chunkSize) out.push(createHash('sha256').update(bytes.subarray(at, at + chunkSize)).digest('hex'));
  return out;
}

describe('chunk hashers', () => {
  // Sizes below and above the threaded threshold, with and without a short last chunk.
  const cases = [
    { size: 5_000, chunkSize: 1024 },
    { size: THREADED_MIN_BYTES - 1, chunkSize: 4096 },
    { size: 3 * 1024 * 1024 + 123, chunkSize: 64 * 1024 },
    { size: 1024 * 1024, chunkSize: 64 * 1024 },
    { size: 200_000, chunkSize: 200_000 },
  ];
  for (const { size, chunkSize } of cases) {
    it(`hash ${size} bytes in ${chunkSize}-byte chunks exactly like node:crypto, inline and threaded`, async () => {
      const bytes = payloadOf(size, size);
      const want = reference(bytes, chunkSize);
      expect(want).toHaveLength(Math.ceil(size / chunkSize));
      expect(await inlineChunkHasher.hashChunks(bytes, chunkSize)).toEqual(want);
      expect(await threadedChunkHasher.hashChunks(bytes, chunkSize)).toEqual(want);
      expect(await threadedChunkHasherOn(1).hashChunks(bytes, chunkSize)).toEqual(want);
    });
  }

  it('hashes a view into shared memory in place, at its offset, without touching the bytes around it', async () => {
    const shared = new Uint8Array(new SharedArrayBuffer(2 * 1024 * 1024));
    shared.set(payloadOf(shared.length, 9));
    const view = shared.subarray(4096, 4096 + 1024 * 1024 + 17);
    const before = Buffer.from(shared).toString('hex').slice(0, 64);
    expect(await threadedChunkHasher.hashChunks(view, 65536)).toEqual(reference(view, 65536));
    expect(Buffer.from(shared).toString('hex').slice(0, 64)).toBe(before);
  });

  it('keeps every answer with its own request when many run at once, on one thread or all', async () => {
    const inputs = Array.from({ length: 12 }, (_, i) => payloadOf(256 * 1024 + i * 4096, 100 + i));
    const one = threadedChunkHasherOn(1);
    // Alternating hashers share one pool: one-thread jobs queue on its first worker among the others.
    const got = await Promise.all(inputs.map((b, i) => (i % 2 === 0 ? threadedChunkHasher : one).hashChunks(b, 32 * 1024)));
    got.forEach((digests, i) => expect(digests).toEqual(reference(inputs[i] as Uint8Array, 32 * 1024)));
  });

  it('refuses a chunk size that is not a positive integer', async () => {
    await expect(threadedChunkHasher.hashChunks(payloadOf(100_000), 0)).rejects.toThrow(RangeError);
    await expect(inlineChunkHasher.hashChunks(payloadOf(10), 1.5)).rejects.toThrow(RangeError);
  });

  it('refuses a thread count that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => threadedChunkHasherOn(bad)).toThrow(RangeError);
  });

  it('refuses a niceness outside 0..19', () => {
    for (const bad of [-1, 20, 2.5, Number.NaN]) expect(() => threadedChunkHasherOn(1, { nice: bad })).toThrow(RangeError);
  });

  /** Niceness of each thread of this process, from /proc (field 19 of a task's stat, after the parenthesised name). */
  const threadNices = () =>
    readdirSync('/proc/self/task').map((tid) => Number((readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1] as string).split(' ')[16]));

  it.runIf(existsSync('/proc/thread-self'))('runs a niced pool on threads of that niceness, and the default pool beside it', async () => {
    const bytes = payloadOf(512 * 1024, 7);
    const before = threadNices().filter((n) => n === 17).length;
    expect(await threadedChunkHasherOn(2, { nice: 17 }).hashChunks(bytes, 64 * 1024)).toEqual(reference(bytes, 64 * 1024));
    expect(threadNices().filter((n) => n === 17).length).toBeGreaterThan(before);
    // A pool at the process's own priority stays beside it: no more threads at 17.
    const niced = threadNices().filter((n) => n === 17).length;
    expect(await threadedChunkHasher.hashChunks(bytes, 64 * 1024)).toEqual(reference(bytes, 64 * 1024));
    expect(threadNices().filter((n) => n === 17).length).toBe(niced);
  });
});
