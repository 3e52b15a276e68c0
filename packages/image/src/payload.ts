import { createHash, type Hash } from 'node:crypto';
import { ImageError } from './errors.ts';
import type { ChunkHasher } from './chunk-hasher.ts';
import { chunkLength, type Manifest } from './manifest.ts';

/**
 * Checks payload bytes against a verified manifest while they stream in, in
 * any slicing. Bytes past the signed size are refused the moment they arrive
 * (endless-data attack), and each chunk is checked as soon as it completes so
 * a corrupt download stops early. After any failure the verifier stays failed.
 */
export class PayloadVerifier {
  readonly #manifest: Manifest;
  readonly #whole: Hash = createHash('sha256');
  #chunk: Hash = createHash('sha256');
  #chunkIndex = 0;
  #chunkFill = 0;
  #received = 0;
  #failure: ImageError | undefined;
  #finished = false;

  /** Starts verifying a payload described by an already-verified manifest. */
  constructor(manifest: Manifest) {
    this.#manifest = manifest;
  }

  /** Payload bytes accepted so far. */
  get received(): number {
    return this.#received;
  }

  #fail(err: ImageError): never {
    this.#failure = err;
    throw err;
  }

  /** Feeds the next payload bytes; throws PAYLOAD_TOO_LONG or CHUNK_HASH_MISMATCH. */
  update(bytes: Uint8Array): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#finished) {
      if (bytes.byteLength === 0) return;
      this.#fail(new ImageError('PAYLOAD_TOO_LONG', 'bytes arrived after the payload was finished'));
    }
    const { size, chunkSize, chunks } = this.#manifest.payload;
    if (bytes.byteLength > size - this.#received) {
      this.#fail(new ImageError('PAYLOAD_TOO_LONG', `payload exceeds its signed size of ${size} bytes`));
    }
    this.#whole.update(bytes);
    let off = 0;
    while (off < bytes.byteLength) {
      const want = chunkLength(this.#manifest.payload, this.#chunkIndex) - this.#chunkFill;
      const take = Math.min(want, bytes.byteLength - off);
      this.#chunk.update(bytes.subarray(off, off + take));
      this.#chunkFill += take;
      off += take;
      if (take === want) {
        const got = this.#chunk.digest('hex');
        if (got !== chunks[this.#chunkIndex]) {
          this.#fail(new ImageError('CHUNK_HASH_MISMATCH', `chunk ${this.#chunkIndex} (bytes from ${this.#chunkIndex * chunkSize}) does not match its signed hash`));
        }
        this.#chunkIndex += 1;
        this.#chunkFill = 0;
        this.#chunk = createHash('sha256');
      }
    }
    this.#received += bytes.byteLength;
  }

  /** Ends the stream; throws PAYLOAD_TOO_SHORT or PAYLOAD_HASH_MISMATCH. */
  finish(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#finished) return;
    const { size, sha256 } = this.#manifest.payload;
    if (this.#received < size) {
      this.#fail(new ImageError('PAYLOAD_TOO_SHORT', `payload ended after ${this.#received} of ${size} signed bytes`));
    }
    this.#finished = true;
    if (this.#whole.digest('hex') !== sha256) {
      this.#fail(new ImageError('PAYLOAD_HASH_MISMATCH', 'payload does not match its signed sha256'));
    }
  }
}

/**
 * The cheap checks of verifyChunk (index in range, exact length): a streaming
 * writer runs them as a chunk arrives and leaves the hash to its batch.
 */
export function checkChunkShape(manifest: Manifest, index: number, bytes: Uint8Array): void {
  const { chunks } = manifest.payload;
  if (!Number.isSafeInteger(index) || index < 0 || index >= chunks.length) {
    throw new ImageError('CHUNK_INDEX_INVALID', `chunk index ${index} is outside 0..${chunks.length - 1}`);
  }
  const expected = chunkLength(manifest.payload, index);
  if (bytes.byteLength !== expected) {
    throw new ImageError('CHUNK_LENGTH_MISMATCH', `chunk ${index} is ${bytes.byteLength} bytes, expected ${expected}`);
  }
}

/** Verifies one chunk by index (chunked download): index in range, exact length, signed hash. */
export function verifyChunk(manifest: Manifest, index: number, bytes: Uint8Array): void {
  checkChunkShape(manifest, index, bytes);
  if (createHash('sha256').update(bytes).digest('hex') !== manifest.payload.chunks[index]) {
    throw new ImageError('CHUNK_HASH_MISMATCH', `chunk ${index} does not match its signed hash`);
  }
}

/**
 * Checks the consecutive whole chunks `first`.. that `bytes` holds against
 * their signed hashes, hashing through `hasher` (possibly on other threads);
 * resolves with how many leading chunks match (all of them when none fails).
 * Throws CHUNK_INDEX_INVALID / CHUNK_LENGTH_MISMATCH when `bytes` is not
 * exactly a run of whole chunks of the manifest.
 */
export async function countVerifiedChunks(manifest: Manifest, first: number, bytes: Uint8Array, hasher: ChunkHasher): Promise<number> {
  const { chunks, chunkSize, size } = manifest.payload;
  if (!Number.isSafeInteger(first) || first < 0 || first >= chunks.length) {
    throw new ImageError('CHUNK_INDEX_INVALID', `chunk index ${first} is outside 0..${chunks.length - 1}`);
  }
  const end = first * chunkSize + bytes.byteLength;
  // Whole chunks only: the run ends on a chunk boundary or at the payload's end.
  if (end > size || (end !== size && bytes.byteLength % chunkSize !== 0) || bytes.byteLength === 0) {
    throw new ImageError('CHUNK_LENGTH_MISMATCH', `${bytes.byteLength} bytes from chunk ${first} are not a run of whole chunks`);
  }
  const digests = await hasher.hashChunks(bytes, chunkSize);
  let n = 0;
  while (n < digests.length && digests[n] === chunks[first + n]) n++;
  return n;
}
