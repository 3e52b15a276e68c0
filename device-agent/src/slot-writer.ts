/**
 * Streams verified chunks into the inactive slot, with no temporary copy.
 *
 * Each chunk is checked against the signed manifest before a byte of it is
 * written. Verification of chunk i+1 (CPU, this thread) overlaps the write
 * of chunk i (I/O, libuv's pool): at most one write is in flight, so memory
 * stays bounded and the order of writes on disk stays sequential.
 */
import type { BlockDevice } from '@uniota/block-device';
import { ImageError, verifyChunk } from '@uniota/image';
import type { Manifest } from '@uniota/image';
import { AgentError } from './errors.ts';
import type { ImageSource } from './image-source.ts';

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

/** Streams chunks `from`.. into the slot; returns the first chunk not written (== count when complete). */
export async function streamIntoSlot(o: StreamOptions): Promise<number> {
  const { slot, manifest } = o;
  const count = manifest.payload.chunks.length;
  const chunkSize = manifest.payload.chunkSize;
  let next = o.from;
  let unsaved = 0;
  let pending: Promise<void> | null = null;
  const settle = async () => {
    if (pending !== null) {
      const p = pending;
      pending = null;
      await p;
    }
  };
  try {
    await o.source.fetch(o.actionId, o.from, async (index, bytes) => {
      if (index !== next) throw new AgentError('DOWNLOAD_FAILED', `chunk ${index} arrived, expected ${next}`, { transient: true });
      verifyChunk(manifest, index, bytes);
      await settle();
      pending = slot.write(index * chunkSize, bytes);
      next += 1;
      unsaved += 1;
      if (unsaved >= o.every && next < count) {
        await settle();
        await slot.flush();
        unsaved = 0;
        await o.onDurable(next);
      }
    });
    await settle();
  } catch (err) {
    // Never leave a write running behind an error: its rejection would be
    // unhandled and its bytes could land after the caller moved on.
    await settle().catch(() => undefined);
    throw err;
  }
  return next;
}
