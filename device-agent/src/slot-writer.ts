/**
 * Streams verified chunks into the inactive slot, with no temporary copy.
 *
 * No byte is written before the chunk holding it matched its signed hash.
 * Chunks are copied into write batches of about 1 MiB; a full batch is hashed
 * (on worker threads, see @uniota/image's chunk-hasher) and written only once
 * every chunk in it verified. Batches form a pipeline over a ring of buffers:
 * while batch N is written, the batches after it are hashed on
 * other cores and filled, up to AHEAD_BYTES ahead of the slot. Measured
 * (bench/install.bench.ts): hashing on the writing thread made an install cost
 * hash time plus write time; overlapped, the two run side by side.
 *
 * What the fault sweep relies on is unchanged: writes reach the slot one at a
 * time, in slot order, each complete before the next starts; a flush follows
 * every write before it, and a durable point is journaled only after that
 * flush and before any later chunk is written. Only fetching and hashing run
 * ahead (by at most AHEAD_BYTES), also while a flush waits on the disk.
 */
import { isPowerCut } from '@uniota/block-device';
import type { BlockDevice } from '@uniota/block-device';
import { availableParallelism } from 'node:os';
import { ImageError, checkChunkShape, countVerifiedChunks, threadedChunkHasher, threadedChunkHasherOn, verifyChunk } from '@uniota/image';
import type { ChunkHasher, Manifest } from '@uniota/image';
import { AgentError } from './errors.ts';
import type { ImageSource } from './image-source.ts';

/** Target size of one slot write. */
export const WRITE_BATCH_BYTES = 1024 * 1024;

export interface StreamOptions {
  slot: BlockDevice;
  manifest: Manifest;
  source: ImageSource;
  actionId: string;
  /** First chunk to fetch (chunks below it are durably written). */
  from: number;
  /** Chunks between durable points. */
  every: number;
  /** Called after a flush with the first chunk not yet written: the caller journals it. */
  onDurable: (nextChunk: number) => Promise<void>;
  /** Where chunk hashes are computed; worker threads (`writerHasher`, every worker during a flush) unless a test picks another. */
  hasher?: ChunkHasher;
}

/** Bytes between durable progress points when the caller does not choose. */
export const DEFAULT_DURABLE_BYTES = 16 * 1024 * 1024;

/**
 * Finds the first chunk from `from` on that is not already in the slot.
 *
 * Durable points are sparse (a flush costs a full write-back), so after a
 * power cut or a dropped link the chunks written after the last journaled
 * point are read back and checked against the signed hashes: every one that
 * verifies is kept, and the download resumes at the first that does not. A
 * chunk that verifies is exactly the signed bytes, whoever wrote it.
 */
export async function firstMissingChunk(slot: BlockDevice, manifest: Manifest, from: number): Promise<number> {
  const count = manifest.payload.chunks.length;
  const chunkSize = manifest.payload.chunkSize;
  let i = from;
  for (; i < count; i++) {
    const len = Math.min(chunkSize, manifest.payload.size - i * chunkSize);
    try {
      verifyChunk(manifest, i, await slot.read(i * chunkSize, len));
    } catch (err) {
      if (err instanceof ImageError) break;
      throw err;
    }
  }
  return i;
}

/**
 * How far fetching and hashing may run ahead of the slot: one default durable
 * interval. A flush of a 16 MiB interval waits on the disk about as long as
 * hashing 16 MiB takes, so with this much room the hash workers verify the
 * next interval while the flush runs, and the writes after it never wait for a
 * hash. Traced with the bench's install on a shared 2-core machine, its
 * priority raised over the other load to see it as on a quiet one: with a
 * ring of 4 MiB the workers sat idle through every flush and each 16 MiB
 * interval cost ~25 ms of hash-gated writes plus ~12 ms of flush; with 16 MiB
 * the slot waited ~1 ms in all for a hash. Buffers are allocated on first
 * use, so a small image costs only what it needs. (Fresh memory costs page
 * faults: filling 16 MiB of new buffers took ~11 ms against ~3 ms for reused
 * ones, but keeping them between installs would hold 16 MiB for good.)
 */
export const AHEAD_BYTES = 16 * 1024 * 1024;

interface Batch {
  /** batchSize + 7 bytes, so the batch can start at any offset mod 8 (see `alignTo`). */
  memory: SharedArrayBuffer;
  /** The batch: `batchSize` bytes of `memory` from the offset the last `alignTo` chose. */
  bytes: Uint8Array;
  /** Becomes settled once this buffer's last write finished (or was skipped): it may be refilled. */
  free: Promise<void>;
}

/**
 * Starts an empty batch at the same offset mod 8 as `chunk`.
 *
 * V8 copies into shared memory with a race-tolerant memcpy that moves 8-byte
 * words only when source and destination agree mod 8 and single bytes
 * otherwise. A bundle's payload starts after a header of any length, so its
 * chunks are rarely 8-aligned: measured (64 MiB, bench/install.bench.ts
 * payload), copying them into an aligned batch took 69 ms, into a batch at
 * their own alignment 25 ms. A source's chunks usually share one alignment
 * (slices of one buffer at multiples of the chunk size); a chunk that does not
 * is still copied correctly, only bytewise.
 */
function alignTo(batch: Batch, chunk: Uint8Array): void {
  const at = chunk.byteOffset % 8;
  if (batch.bytes.byteOffset !== at) batch.bytes = new Uint8Array(batch.memory, at, batch.bytes.byteLength);
}

/**
 * The slot writer's hasher: worker threads, one core fewer than the machine has.
 *
 * The writes are the install's critical path (with 16 MiB hashed ahead the
 * slot never waits for a hash), and a write is CPU work too: the kernel copies
 * it into the page cache on a libuv thread. With two hash workers on two
 * cores that thread shared its core and each 1 MiB write took ~1 ms instead
 * of ~0.3 ms. Measured with bench/install.bench.ts on 2 cores, priority raised:
 * one worker: 0.58-0.59 of the raw copy, two workers: 0.43-0.52. Batches
 * sealed while a durable flush waits on the disk (nothing is written then) go
 * to every worker instead: 0.52-0.56 against 0.43-0.49 with one worker always,
 * in three back-to-back pairs.
 */
export const writerHasher: ChunkHasher = threadedChunkHasherOn(Math.max(1, availableParallelism() - 1));

/** Streams chunks `from`.. into the slot; returns the first chunk not written (== count when complete). */
export async function streamIntoSlot(o: StreamOptions): Promise<number> {
  const { slot, manifest } = o;
  // While a durable flush waits on the disk nothing is written, so the batches
  // sealed meanwhile may hash on every core; otherwise the writes keep one.
  let flushing = false;
  const hasherNow = () => o.hasher ?? (flushing ? threadedChunkHasher : writerHasher);
  const count = manifest.payload.chunks.length;
  const chunkSize = manifest.payload.chunkSize;
  let next = o.from;
  let unsaved = 0;
  // Never larger than what is left to fetch, so a small image costs small buffers.
  const remaining = Math.max(1, manifest.payload.size - o.from * chunkSize);
  const batchSize = Math.max(chunkSize, Math.min(Math.floor(WRITE_BATCH_BYTES / chunkSize) * chunkSize, Math.ceil(remaining / chunkSize) * chunkSize));
  // Shared memory so the hash workers read the batch in place, without a copy.
  const ring: (Batch | undefined)[] = new Array(Math.max(1, Math.min(Math.floor(AHEAD_BYTES / batchSize), Math.ceil(remaining / batchSize))));
  /** The batch buffer at ring position `i`, allocated on first use. */
  const batchAt = (i: number): Batch => {
    let batch = ring[i];
    if (batch === undefined) {
      const memory = new SharedArrayBuffer(batchSize + 7);
      batch = { memory, bytes: new Uint8Array(memory, 0, batchSize), free: Promise.resolve() };
      ring[i] = batch;
    }
    return batch;
  };
  let current = 0;
  let fill = 0;
  let batchFirst = o.from;
  // Every slot operation (write, flush, journal) is a link of this one chain, so they keep their order.
  let chain: Promise<void> = Promise.resolve();
  let failure: { err: unknown } | null = null;
  let storageFailed = false;
  const link = (step: () => Promise<void>): Promise<void> => {
    const p = chain.then(step);
    chain = p;
    // Observed through `failure` and by awaiting `chain`; never an unhandled rejection.
    p.catch((err: unknown) => {
      failure ??= { err };
    });
    return p;
  };
  /** Hands the filled part of the current batch to the pipeline and moves to the next buffer. */
  const seal = async () => {
    if (fill === 0) return;
    const batch = batchAt(current);
    const bytes = batch.bytes.subarray(0, fill);
    const first = batchFirst;
    const chunks = next - first;
    const verified = countVerifiedChunks(manifest, first, bytes, hasherNow());
    verified.catch(() => undefined);
    batch.free = link(async () => {
      const good = await verified;
      const goodBytes = good === chunks ? bytes.byteLength : good * chunkSize;
      if (goodBytes > 0) {
        // Chunks before a bad one verified: keep them for the resume, as a chunk-by-chunk writer would.
        await slot.write(first * chunkSize, bytes.subarray(0, goodBytes)).catch((err: unknown) => {
          storageFailed = true;
          throw err;
        });
      }
      if (good < chunks) throw new ImageError('CHUNK_HASH_MISMATCH', `chunk ${first + good} does not match its signed hash`);
    });
    batch.free.catch(() => undefined);
    current = (current + 1) % ring.length;
    batchFirst = next;
    fill = 0;
    // Reuse a buffer only once its write is done; a failed pipeline stops the download here.
    await ring[current]?.free.catch(() => undefined);
    // A source that has its chunks at hand (a bundle in memory) would otherwise
    // fill the whole ring in one run of microtasks, and hash results and write
    // completions would wait for it: the first write started only after 16 MiB
    // were copied. One turn of the event loop per batch lets them in.
    await new Promise((resolve) => setImmediate(resolve));
    if (failure !== null) throw failure.err;
  };
  try {
    await o.source.fetch(o.actionId, o.from, async (index, bytes) => {
      if (failure !== null) throw failure.err;
      if (index !== next) throw new AgentError('DOWNLOAD_FAILED', `chunk ${index} arrived, expected ${next}`, { transient: true });
      checkChunkShape(manifest, index, bytes);
      if (fill + bytes.length > batchSize) await seal();
      const batch = batchAt(current);
      if (fill === 0) alignTo(batch, bytes);
      batch.bytes.set(bytes, fill);
      fill += bytes.length;
      next += 1;
      unsaved += 1;
      if (unsaved >= o.every && next < count) {
        await seal();
        const reached = next;
        // The flush and the journal entry take their place in the chain: no
        // later chunk is written before both are done. Not awaited here, so the
        // next chunks are fetched and hashed while the flush waits on the disk
        // (bounded by the ring); a failure stops the download at the next chunk.
        void link(async () => {
          flushing = true;
          try {
            await slot.flush();
          } finally {
            flushing = false;
          }
          await o.onDurable(reached);
        });
        unsaved = 0;
      }
    });
    await seal();
    await chain;
  } catch (err) {
    if (failure === null && !storageFailed && !isPowerCut(err)) {
      // The source failed (dropped link, chunk out of order), not the slot:
      // the chunks received so far still go through verification, and the
      // ones that verify are written for the resume.
      try {
        await seal();
      } catch {
        // Reported below as the source's error; the resume re-checks the slot.
      }
    }
    // Never leave a write running behind an error: its bytes could land after the caller moved on.
    await chain.catch(() => undefined);
    throw err;
  }
  return next;
}
