/**
 * SHA-256 of payload chunks for a fleet of simulated devices in one process.
 *
 * Thousands of simulated devices receive, write and read back the same image:
 * every device hashes the same 256 KiB five times per update (the chunk
 * check on receipt, the slot writer, the slot verify, the pre-arm verify,
 * the hello's inventory), so SHA-256 of identical bytes was most of the
 * fleet's hashing. Here a chunk is hashed once per process: each digest is
 * kept with a copy of the bytes it was computed from, and a later chunk gets
 * that digest only if it is byte for byte the same (a full memcmp, after a
 * fingerprint of sampled bytes to find the candidate). Bytes that differ in any bit, a corrupted or
 * forged chunk, miss and are hashed for real, so every check against the
 * signed manifest still sees the true SHA-256 of the bytes it was given.
 *
 * For simulated fleets only: a real device hashes its own bytes, and the
 * copies kept here cost memory (bounded by `maxBytes`).
 */
import { createHash } from 'node:crypto';
import type { ChunkHasher } from '@uniota/image';

interface Known {
  bytes: Uint8Array;
  digest: string;
}

/** Candidates kept per fingerprint; beyond this a chunk is hashed and not kept (the lookup stays short). */
const MAX_CANDIDATES = 8;

/**
 * Length and 64 bytes sampled across the chunk. Only a lookup key: a match
 * is confirmed by comparing every byte. (CRC-32 of the chunk cost 40 % of a
 * SHA-256 here; the samples cost ~0.1 µs.)
 */
function fingerprint(chunk: Uint8Array): number {
  const n = chunk.byteLength;
  let h = n | 0;
  if (n === 0) return h;
  for (let k = 0; k < 64; k++) h = Math.imul(h ^ (chunk[Math.floor((k * (n - 1)) / 63)] as number), 0x9e3779b1) >>> 0;
  return h;
}

/** Default bound on the bytes kept: a few distinct images' chunks. */
export const FLEET_HASHER_MAX_BYTES = 64 * 1024 * 1024;

export class FleetChunkHasher implements ChunkHasher {
  readonly #known = new Map<number, Known[]>();
  #bytesKept = 0;
  /** Chunks hashed with SHA-256 / answered from an identical chunk hashed before. */
  readonly stats = { hashed: 0, reused: 0 };

  constructor(private readonly maxBytes = FLEET_HASHER_MAX_BYTES) {}

  /** Digests of each consecutive `chunkSize` slice (the last may be shorter), as ChunkHasher promises. */
  async hashChunks(bytes: Uint8Array, chunkSize: number): Promise<string[]> {
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunk size ${chunkSize} is not a positive integer`);
    const out: string[] = [];
    for (let at = 0; at < bytes.byteLength; at += chunkSize) out.push(this.digest(bytes.subarray(at, Math.min(bytes.byteLength, at + chunkSize))));
    return out;
  }

  /** Lowercase hex SHA-256 of `chunk`. */
  digest(chunk: Uint8Array): string {
    const key = fingerprint(chunk);
    const candidates = this.#known.get(key);
    if (candidates !== undefined) {
      for (const k of candidates) {
        if (k.bytes.byteLength === chunk.byteLength && Buffer.compare(k.bytes, chunk) === 0) {
          this.stats.reused += 1;
          return k.digest;
        }
      }
    }
    this.stats.hashed += 1;
    const digest = createHash('sha256').update(chunk).digest('hex');
    if (this.#bytesKept + chunk.byteLength > this.maxBytes) {
      // Simplest bound: start over (a fleet updates to one or two images at a time).
      this.#known.clear();
      this.#bytesKept = 0;
    }
    if (candidates !== undefined && candidates.length >= MAX_CANDIDATES) return digest;
    // A private copy: the caller's buffer may be reused or changed later.
    const known = { bytes: new Uint8Array(chunk), digest };
    if (candidates !== undefined && this.#known.has(key)) candidates.push(known);
    else this.#known.set(key, [known]);
    this.#bytesKept += chunk.byteLength;
    return digest;
  }
}
