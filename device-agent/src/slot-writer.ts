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
 * What the fault sweep relies on: writes reach the slot one at a time, in slot
 * order, each complete before the next starts; a durable point's flush starts
 * only after every write below it completed, and its journal entry is written
 * only after that flush returned, in order with the other durable points.
 * Writes past a durable point do not wait for its flush: the disk writes back
 * interval N while interval N+1 is copied into the page cache (and writeback
 * flushes, with no journal entry, keep it doing so every WRITEBACK_BYTES).
 * That is safe because a resume never trusts the slot past the journaled
 * point without reading each chunk back against its signed hash
 * (`firstMissingChunk`), so a chunk that was torn or lost by a power cut
 * during the flush is fetched again. Measured with the bench's install (64 MiB, 16 MiB durable points),
 * both ways alternating in one run, median of 9 and of 11 rounds against the
 * 1 MiB raw copy: a flush waited for cost ~10 ms per point, 0.73 and 0.66;
 * overlapped, 0.81 and 0.72.
 */
import { isPowerCut } from '@uniota/block-device';
import type { BlockDevice } from '@uniota/block-device';
import { availableParallelism } from 'node:os';
import { ImageError, checkChunkShape, countVerifiedChunks, threadedChunkHasherOn, verifyChunk } from '@uniota/image';
import type { ChunkHasher, Manifest } from '@uniota/image';
import { AgentError } from './errors.ts';
import type { ImageSource } from './image-source.ts';
import { SpareBatchBuffers } from './batch-buffers.ts';

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
  /** Chunks between writeback flushes (no journal entry) inside a durable interval; WRITEBACK_BYTES worth when not given. */
  writebackEvery?: number;
  /** Where chunk hashes are computed; `writerHasher` (niced worker threads) unless a test picks another. */
  hasher?: ChunkHasher;
}

/** Bytes between durable progress points when the caller does not choose. */
export const DEFAULT_DURABLE_BYTES = 16 * 1024 * 1024;

/**
 * Bytes between writeback flushes: flushes with no journal entry between
 * durable points, so the disk writes the slot back while the download goes on
 * (the writes do not wait for them) instead of all at the end, where the last
 * flush before the slot is verified would wait for up to a whole durable
 * interval. A journal entry at each of them would cost as much as they save:
 * measured with the bench's install journaling through the agent's own
 * Journal (a ~90 KiB record for a 64 MiB image), alternating in one run of 21
 * rounds, median against the 1 MiB raw copy: durable points every 16 MiB
 * alone 0.81; with writeback flushes every 4 MiB 0.86, every 8 MiB 0.86;
 * journaling every 4 MiB instead 0.83 (15 rounds).
 */
export const WRITEBACK_BYTES = 4 * 1024 * 1024;

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
 * How far fetching and hashing may run ahead of the slot's writes.
 *
 * Enough room that the hash workers are a few batches ahead when a write
 * finishes, so the next write never waits for a hash; little enough that an
 * install's fresh buffers cost few page faults (filling 16 MiB of new memory
 * took ~11 ms against ~3 ms for reused buffers). While flushes held back the
 * writes, the ring had to cover a whole 16 MiB durable interval to keep the
 * workers busy through each flush; since writes go on during a flush, 8 MiB
 * does. Measured with the bench's install, all sizes alternating in one run
 * of 21 rounds (median, against the 1 MiB raw copy): 16 MiB 0.77, 8 MiB 0.81,
 * 4 MiB 0.81, 2 MiB 0.73. Buffers are allocated on first use, so a small image
 * costs only what it needs.
 */
export const AHEAD_BYTES = 8 * 1024 * 1024;

/** One install's ring (and its alignment slack), kept for 30 s after an install completes. */
export const spareBatchBuffers = new SpareBatchBuffers(AHEAD_BYTES + 64 * 1024, 30_000);

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
 * Niceness of the install's hash workers: hashing takes only what the thread
 * that writes the slot and the event loop leave idle.
 *
 * A 1 MiB write is CPU work too (the kernel copies it into the page cache on a
 * libuv thread) and sits on the install's critical path; at equal priority,
 * two busy hash workers on two cores made each write wait for a scheduler
 * slice (~1 ms instead of ~0.3 ms), so the writer used to keep one core to
 * itself and hash on the other. Niced, the workers use every core and still
 * yield to each write at once. Measured with the bench's install, overlapped
 * flushes, all alternating in one run of 11 rounds (median, against the 1 MiB
 * raw copy): one worker at priority 0: 0.72; two at nice 10: 0.78; two at
 * nice 19: 0.81. On a device this is also the polite choice: an update's
 * hashing runs on time the device's own work leaves.
 */
export const HASH_NICE = 19;

/** The slot writer's hasher: every worker of the pool at HASH_NICE. */
export const writerHasher: ChunkHasher = threadedChunkHasherOn(Math.max(1, availableParallelism()), { nice: HASH_NICE });

/** Streams chunks `from`.. into the slot; returns the first chunk not written (== count when complete). */
export async function streamIntoSlot(o: StreamOptions): Promise<number> {
  const { slot, manifest } = o;
  const hasher = o.hasher ?? writerHasher;
  const count = manifest.payload.chunks.length;
  const chunkSize = manifest.payload.chunkSize;
  let next = o.from;
  let unsaved = 0;
  let unflushed = 0;
  const writebackEvery = o.writebackEvery ?? Math.max(1, Math.floor(WRITEBACK_BYTES / chunkSize));
  // Never larger than what is left to fetch, so a small image costs small buffers.
  const remaining = Math.max(1, manifest.payload.size - o.from * chunkSize);
  const batchSize = Math.max(chunkSize, Math.min(Math.floor(WRITE_BATCH_BYTES / chunkSize) * chunkSize, Math.ceil(remaining / chunkSize) * chunkSize));
  // Shared memory so the hash workers read the batch in place, without a copy.
  const ring: (Batch | undefined)[] = new Array(Math.max(1, Math.min(Math.floor(AHEAD_BYTES / batchSize), Math.ceil(remaining / batchSize))));
  /** The batch buffer at ring position `i`, allocated on first use. */
  const batchAt = (i: number): Batch => {
    let batch = ring[i];
    if (batch === undefined) {
      const memory = spareBatchBuffers.take(batchSize + 7);
      batch = { memory, bytes: new Uint8Array(memory, 0, batchSize), free: Promise.resolve() };
      ring[i] = batch;
    }
    return batch;
  };
  let current = 0;
  let fill = 0;
  let batchFirst = o.from;
  // Every slot write is a link of this chain, so writes keep their order.
  let chain: Promise<void> = Promise.resolve();
  // Every durable point (flush, then journal) is a link of this one: each
  // waits for the writes below it and for the durable point before it.
  let durable: Promise<void> = Promise.resolve();
  let failure: { err: unknown } | null = null;
  let storageFailed = false;
  // Observed through `failure` and by awaiting the chains; never an unhandled rejection.
  const observe = (p: Promise<void>) => {
    p.catch((err: unknown) => {
      failure ??= { err };
    });
    return p;
  };
  const link = (step: () => Promise<void>): Promise<void> => {
    chain = observe(chain.then(step));
    return chain;
  };
  /** Hands the filled part of the current batch to the pipeline and moves to the next buffer. */
  const seal = async () => {
    if (fill === 0) return;
    const batch = batchAt(current);
    const bytes = batch.bytes.subarray(0, fill);
    const first = batchFirst;
    const chunks = next - first;
    const verified = countVerifiedChunks(manifest, first, bytes, hasher);
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
      unflushed += 1;
      if (next < count && (unsaved >= o.every || unflushed >= writebackEvery)) {
        await seal();
        const reached = next;
        const journal = unsaved >= o.every;
        // The flush starts once every write below `reached` is done, and the
        // journal entry (at a durable point) follows it. Not awaited here, and
        // later writes do not wait for it (see the top of this file); a
        // failure stops the download at the next chunk.
        const writesBelow = chain;
        durable = observe(
          Promise.all([writesBelow, durable]).then(async () => {
            await slot.flush();
            if (journal) await o.onDurable(reached);
          }),
        );
        if (journal) unsaved = 0;
        unflushed = 0;
      }
    });
    await seal();
    await chain;
    await durable;
    // Every write is done, and with it every hash (a batch is written only
    // after its hash): nothing reads the ring any more. Only a complete run
    // gives it back; after a failure a hash may still be reading a batch.
    spareBatchBuffers.giveBack(ring.flatMap((b) => (b === undefined ? [] : [b.memory])));
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
    // Never leave a write or a journal entry running behind an error: it could land after the caller moved on.
    await chain.catch(() => undefined);
    await durable.catch(() => undefined);
    throw err;
  }
  return next;
}
