import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FaultyBlockDevice, MemoryBlockDevice, isPowerCut } from '@uniota/block-device';
import type { BlockDevice } from '@uniota/block-device';
import { ImageError, buildManifest, inlineChunkHasher, threadedChunkHasher } from '@uniota/image';
import type { ChunkHasher, Manifest } from '@uniota/image';
import type { ImageSource } from './image-source.ts';
import { AHEAD_BYTES, WRITE_BATCH_BYTES, spareBatchBuffers, streamIntoSlot } from './slot-writer.ts';

const CHUNK = 64 * 1024;
const payload = new Uint8Array(randomBytes(5 * 1024 * 1024 + 4321));
const manifest: Manifest = buildManifest(
  { product: 'p', version: '1.0.0', securityCounter: 1, compatibleHardware: ['hw'], expiresAt: new Date(Date.now() + 86_400_000), chunkSize: CHUNK },
  payload,
);
const COUNT = manifest.payload.chunks.length;

/** Serves the payload's chunks, optionally corrupting one or failing after some. */
function sourceOf(bytes: Uint8Array, opts: { corrupt?: number; failAfter?: number } = {}): ImageSource {
  return {
    async fetch(_id, from, sink) {
      for (let i = from; i < COUNT; i++) {
        if (opts.failAfter !== undefined && i === opts.failAfter) throw new Error('link dropped');
        let chunk = bytes.slice(i * CHUNK, Math.min(bytes.length, (i + 1) * CHUNK));
        if (i === opts.corrupt) chunk[10] = (chunk[10] as number) ^ 0xff;
        await sink(i, chunk);
        // The source may reuse its buffer once the sink returned: the writer must have copied it.
        chunk.fill(0xee);
        chunk = new Uint8Array(0);
      }
    },
  };
}

type Op =
  | { kind: 'write'; offset: number; length: number }
  | { kind: 'flush'; covers: number }
  | { kind: 'flushed'; covers: number }
  | { kind: 'journal'; next: number };

/**
 * A memory slot that records every operation and fails the test if two writes
 * or two flushes are ever in flight at once. A flush may run beside a write
 * (the next interval's); `covers` is how far the completed writes reached when
 * it started, i.e. what it makes durable.
 */
function recordingSlot(ops: Op[], inner: BlockDevice = new MemoryBlockDevice(payload.length + CHUNK)): BlockDevice & { inner: BlockDevice } {
  const inFlight = { write: false, flush: false };
  let completedEnd = 0;
  const exclusive = async <T>(kind: 'write' | 'flush', fn: () => Promise<T>): Promise<T> => {
    if (inFlight[kind]) throw new Error(`two slot ${kind}s in flight at once`);
    inFlight[kind] = true;
    try {
      return await fn();
    } finally {
      inFlight[kind] = false;
    }
  };
  return {
    inner,
    size: inner.size,
    read: (o, n) => inner.read(o, n),
    write: (offset, data) =>
      exclusive('write', async () => {
        ops.push({ kind: 'write', offset, length: data.length });
        await new Promise((r) => setImmediate(r));
        await inner.write(offset, data);
        completedEnd = Math.max(completedEnd, offset + data.length);
      }),
    flush: () =>
      exclusive('flush', async () => {
        const covers = completedEnd;
        ops.push({ kind: 'flush', covers });
        await new Promise((r) => setImmediate(r));
        await inner.flush();
        ops.push({ kind: 'flushed', covers });
      }),
  };
}

/** A hasher that answers late and remembers which chunks it cleared, to catch a write that runs ahead of verification. */
function slowHasher(cleared: Set<number>): ChunkHasher {
  return {
    async hashChunks(bytes, chunkSize) {
      await new Promise((r) => setTimeout(r, 2));
      const digests = await inlineChunkHasher.hashChunks(bytes, chunkSize);
      for (const d of digests) {
        const i = manifest.payload.chunks.indexOf(d);
        if (i >= 0) cleared.add(i);
      }
      return digests;
    },
  };
}

const hashers = [
  ['threaded', threadedChunkHasher],
  ['inline', inlineChunkHasher],
] as const;

describe('streamIntoSlot', () => {
  for (const [name, hasher] of hashers) {
    it(`${name}: writes exactly the signed payload, one write at a time, front to back; journals only what a finished flush covered`, async () => {
      const ops: Op[] = [];
      const slot = recordingSlot(ops);
      const every = 20;
      const next = await streamIntoSlot({
        slot,
        manifest,
        source: sourceOf(payload),
        actionId: 'a',
        from: 0,
        every,
        hasher,
        onDurable: async (n) => {
          ops.push({ kind: 'journal', next: n });
        },
      });
      expect(next).toBe(COUNT);
      expect(Buffer.from(await slot.read(0, payload.length)).equals(Buffer.from(payload))).toBe(true);
      // Writes cover the payload contiguously, front to back.
      let end = 0;
      let durableEnd = 0;
      const journals: number[] = [];
      for (const op of ops) {
        if (op.kind === 'write') {
          expect(op.offset).toBe(end);
          expect(op.length).toBeLessThanOrEqual(1024 * 1024);
          end += op.length;
        } else if (op.kind === 'flushed') {
          durableEnd = op.covers;
        } else if (op.kind === 'journal') {
          // Every chunk below `next` was written before a flush that has returned.
          expect(durableEnd).toBeGreaterThanOrEqual(op.next * CHUNK);
          journals.push(op.next);
        }
      }
      expect(end).toBe(payload.length);
      expect(journals).toEqual(Array.from({ length: Math.floor((COUNT - 1) / every) }, (_, k) => (k + 1) * every));
    });
  }

  it('flushes every writebackEvery chunks between durable points, journaling only at the durable ones', async () => {
    const ops: Op[] = [];
    const slot = recordingSlot(ops);
    const journals: number[] = [];
    const next = await streamIntoSlot({ slot, manifest, source: sourceOf(payload), actionId: 'a', from: 0, every: 64, writebackEvery: 16, hasher: inlineChunkHasher, onDurable: async (n) => void journals.push(n) });
    expect(next).toBe(COUNT);
    // 81 chunks: writeback flushes after 16, 32, 48 and 80, a durable point (flush + journal) after 64.
    const flushed = ops.filter((op) => op.kind === 'flushed').map((op) => (op.kind === 'flushed' ? op.covers : -1));
    expect(flushed).toHaveLength(5);
    [16, 32, 48, 64, 80].forEach((at, k) => expect(flushed[k]).toBeGreaterThanOrEqual(at * CHUNK));
    expect(journals).toEqual([64]);
  });

  it('hands a complete install\'s batch buffers to the next install, and keeps none from a failed one', async () => {
    const buffersOf = async (source: ImageSource) => {
      const seen = new Set<ArrayBufferLike>();
      const recording: ChunkHasher = {
        async hashChunks(bytes, chunkSize) {
          seen.add(bytes.buffer);
          return inlineChunkHasher.hashChunks(bytes, chunkSize);
        },
      };
      const result = await streamIntoSlot({ slot: new MemoryBlockDevice(payload.length), manifest, source, actionId: 'a', from: 0, every: 1000, hasher: recording, onDurable: async () => undefined }).catch((e: unknown) => e);
      return { seen, result };
    };
    spareBatchBuffers.release();
    const first = await buffersOf(sourceOf(payload));
    expect(first.result).toBe(COUNT);
    // 5 MiB in 1 MiB batches: a ring of 6 buffers, all kept.
    expect(first.seen.size).toBe(6);
    expect(spareBatchBuffers.heldBytes).toBe(6 * (WRITE_BATCH_BYTES + 7));
    const second = await buffersOf(sourceOf(payload));
    expect(second.seen).toEqual(first.seen);
    spareBatchBuffers.release();
    const failed = await buffersOf(sourceOf(payload, { corrupt: 40 }));
    expect(failed.result).toBeInstanceOf(ImageError);
    expect(spareBatchBuffers.heldBytes).toBe(0);
  });

  it('copies chunks at any byte alignment exactly, into shared batches at the alignment of their first chunk', async () => {
    // Chunks sliced from a bundle sit after a header of any length; the
    // second source mixes alignments within a batch (still correct, only slower).
    for (const shift of [(_i: number) => 3, (i: number) => i % 8]) {
      const seen: { shared: boolean; mod8: number; first: number }[] = [];
      const recording: ChunkHasher = {
        async hashChunks(bytes, chunkSize) {
          const digests = await inlineChunkHasher.hashChunks(bytes, chunkSize);
          seen.push({ shared: bytes.buffer instanceof SharedArrayBuffer, mod8: bytes.byteOffset % 8, first: manifest.payload.chunks.indexOf(digests[0] as string) });
          return digests;
        },
      };
      const source: ImageSource = {
        async fetch(_id, from, sink) {
          for (let i = from; i < COUNT; i++) {
            const len = Math.min(CHUNK, payload.length - i * CHUNK);
            const holder = new Uint8Array(len + 8);
            holder.set(payload.subarray(i * CHUNK, i * CHUNK + len), shift(i));
            await sink(i, holder.subarray(shift(i), shift(i) + len));
          }
        },
      };
      const slot = new MemoryBlockDevice(payload.length);
      const next = await streamIntoSlot({ slot, manifest, source, actionId: 'a', from: 0, every: 1000, hasher: recording, onDurable: async () => undefined });
      expect(next).toBe(COUNT);
      expect(Buffer.from(await slot.read(0, payload.length)).equals(Buffer.from(payload))).toBe(true);
      expect(seen.length).toBeGreaterThan(1);
      for (const batch of seen) {
        expect(batch.shared).toBe(true);
        expect(batch.mod8).toBe(shift(batch.first));
      }
    }
  });

  /** An image of AHEAD_BYTES + 8 MiB, its source, and a hasher that counts the bytes it verified. */
  function bigImage() {
    const big = new Uint8Array(randomBytes(AHEAD_BYTES + 8 * WRITE_BATCH_BYTES));
    const bigManifest = buildManifest({ product: 'p', version: '1.0.0', securityCounter: 1, compatibleHardware: ['hw'], expiresAt: new Date(Date.now() + 86_400_000), chunkSize: CHUNK }, big);
    const bigCount = bigManifest.payload.chunks.length;
    const source: ImageSource = {
      async fetch(_id, from, sink) {
        for (let i = from; i < bigCount; i++) await sink(i, big.subarray(i * CHUNK, (i + 1) * CHUNK));
      },
    };
    const counter = { hashed: 0 };
    const counting: ChunkHasher = {
      async hashChunks(bytes, chunkSize) {
        counter.hashed += bytes.byteLength;
        return inlineChunkHasher.hashChunks(bytes, chunkSize);
      },
    };
    return { big, bigManifest, bigCount, source, counter, counting };
  }

  const settle = async (until: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!until() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
  };

  it('verifies up to AHEAD_BYTES past a write that waits on the disk, and no more', async () => {
    const { big, bigManifest, bigCount, source, counter, counting } = bigImage();
    let release = () => {};
    const writeHeld = new Promise<void>((r) => (release = r));
    const held = 4 * WRITE_BATCH_BYTES;
    let written = 0;
    const inner = new MemoryBlockDevice(big.length);
    const slot: BlockDevice = {
      size: inner.size,
      read: (o, n) => inner.read(o, n),
      write: async (o, d) => {
        // The fifth 1 MiB write waits until the test lets it go.
        if (o === held) await writeHeld;
        await inner.write(o, d);
        written = Math.max(written, o + d.length);
      },
      flush: () => inner.flush(),
    };
    const done = streamIntoSlot({ slot, manifest: bigManifest, source, actionId: 'a', from: 0, every: bigCount, hasher: counting, onDurable: async () => undefined });
    await settle(() => counter.hashed >= held + AHEAD_BYTES);
    expect(counter.hashed).toBe(held + AHEAD_BYTES);
    expect(written).toBe(held);
    release();
    expect(await done).toBe(bigCount);
    expect(Buffer.from(await inner.read(0, big.length)).equals(Buffer.from(big))).toBe(true);
  });

  it('keeps writing while a durable flush waits on the disk; its journal entry and the next flush wait for it', async () => {
    const { big, bigManifest, bigCount, source, counting } = bigImage();
    let release = () => {};
    const flushHeld = new Promise<void>((r) => (release = r));
    let written = 0;
    let flushes = 0;
    const journals: number[] = [];
    const inner = new MemoryBlockDevice(big.length);
    const slot: BlockDevice = {
      size: inner.size,
      read: (o, n) => inner.read(o, n),
      write: async (o, d) => {
        await inner.write(o, d);
        written = Math.max(written, o + d.length);
      },
      // The first durable point's flush waits until the test lets it go.
      flush: async () => {
        flushes++;
        await flushHeld;
      },
    };
    const every = (4 * WRITE_BATCH_BYTES) / CHUNK;
    const done = streamIntoSlot({ slot, manifest: bigManifest, source, actionId: 'a', from: 0, every, hasher: counting, onDurable: async (n) => void journals.push(n) });
    await settle(() => written === big.length);
    expect(written).toBe(big.length);
    expect(flushes).toBe(1);
    expect(journals).toEqual([]);
    release();
    expect(await done).toBe(bigCount);
    expect(journals).toEqual(Array.from({ length: Math.floor((bigCount - 1) / every) }, (_, k) => (k + 1) * every));
    expect(Buffer.from(await inner.read(0, big.length)).equals(Buffer.from(big))).toBe(true);
  });

  it('never writes a byte of a chunk before that chunk verified', async () => {
    const cleared = new Set<number>();
    const ops: Op[] = [];
    const slot = recordingSlot(ops);
    const checked: BlockDevice = {
      ...slot,
      write: async (offset, data) => {
        for (let i = offset / CHUNK; i < (offset + data.length) / CHUNK; i++) expect(cleared.has(Math.floor(i))).toBe(true);
        await slot.write(offset, data);
      },
    };
    await streamIntoSlot({ slot: checked, manifest, source: sourceOf(payload), actionId: 'a', from: 0, every: 1000, hasher: slowHasher(cleared), onDurable: async () => undefined });
    expect(cleared.size).toBe(COUNT);
  });

  for (const [name, hasher] of hashers) {
    it(`${name}: a corrupt chunk fails with CHUNK_HASH_MISMATCH; the chunks before it are kept, nothing from it on is written`, async () => {
      const ops: Op[] = [];
      const slot = recordingSlot(ops);
      const bad = 37;
      const err = await streamIntoSlot({ slot, manifest, source: sourceOf(payload, { corrupt: bad }), actionId: 'a', from: 0, every: 1000, hasher, onDurable: async () => undefined }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageError);
      expect((err as ImageError).code).toBe('CHUNK_HASH_MISMATCH');
      expect((err as ImageError).message).toContain(`chunk ${bad} `);
      const written = ops.filter((o) => o.kind === 'write').reduce((end, o) => (o.kind === 'write' ? Math.max(end, o.offset + o.length) : end), 0);
      expect(written).toBe(bad * CHUNK);
      expect(Buffer.from(await slot.read(0, bad * CHUNK)).equals(Buffer.from(payload.subarray(0, bad * CHUNK)))).toBe(true);
      expect((await slot.read(bad * CHUNK, CHUNK)).every((b) => b === 0)).toBe(true);
    });
  }

  it('keeps the verified chunks when the source drops, and rethrows the source error', async () => {
    const ops: Op[] = [];
    const slot = recordingSlot(ops);
    const err = await streamIntoSlot({ slot, manifest, source: sourceOf(payload, { failAfter: 50 }), actionId: 'a', from: 0, every: 1000, onDurable: async () => undefined }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('link dropped');
    const written = ops.filter((o) => o.kind === 'write').reduce((end, o) => (o.kind === 'write' ? Math.max(end, o.offset + o.length) : end), 0);
    expect(written).toBe(50 * CHUNK);
    expect(Buffer.from(await slot.read(0, 50 * CHUNK)).equals(Buffer.from(payload.subarray(0, 50 * CHUNK)))).toBe(true);
  });

  it('resumes from a later chunk and completes the slot', async () => {
    const slot = new MemoryBlockDevice(payload.length);
    await slot.write(0, payload.subarray(0, 30 * CHUNK));
    const next = await streamIntoSlot({ slot, manifest, source: sourceOf(payload), actionId: 'a', from: 30, every: 16, onDurable: async () => undefined });
    expect(next).toBe(COUNT);
    expect(Buffer.from(await slot.read(0, payload.length)).equals(Buffer.from(payload))).toBe(true);
  });

  it('stops at a power cut: the cut write is the last operation and the cut is what is thrown', async () => {
    for (const cutAt of [1, 3, 6]) {
      const inner = new MemoryBlockDevice(payload.length);
      const ops: Op[] = [];
      const faulty = new FaultyBlockDevice(recordingSlot(ops, inner), { cutAt, mode: 'before' });
      const journals: number[] = [];
      const err = await streamIntoSlot({ slot: faulty, manifest, source: sourceOf(payload), actionId: 'a', from: 0, every: 32, onDurable: async (n) => void journals.push(n) }).catch((e: unknown) => e);
      expect(isPowerCut(err)).toBe(true);
      expect(faulty.operations).toBe(cutAt);
      // Operations 1..cutAt-1 reached the slot; the cut one did not (mode 'before'), and nothing after it ran.
      expect(ops.filter((op) => op.kind === 'write' || op.kind === 'flush')).toHaveLength(cutAt - 1);
      // 32 chunks = 2 MiB = two 1 MiB writes, then a flush and a journal entry.
      expect(journals).toEqual(cutAt > 3 ? [32] : []);
    }
  });
});
