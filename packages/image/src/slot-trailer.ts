/**
 * How an installed image sits in a slot.
 *
 * The payload starts at offset 0 of the slot so a real bootloader can load it
 * raw; the signed bundle header (magic, canonical manifest, signatures) sits in
 * a trailer at the END of the slot, in the style of MCUboot's image trailer, so
 * the bootloader and the agent can re-verify exactly the bytes that will boot.
 *
 * Why a trailer and not a header: the agent erases the trailer FIRST, streams
 * the payload, reads it back, and writes the trailer LAST. A slot with a valid
 * trailer therefore always went through a complete, verified write; a power cut
 * anywhere earlier leaves a slot that no bootloader will boot.
 */
import { ImageError } from './errors.ts';
import { parseBundleHeader, verifyManifest } from './bundle.ts';
import { threadedChunkHasher } from './chunk-hasher.ts';
import type { ChunkHasher } from './chunk-hasher.ts';
import { countVerifiedChunks } from './payload.ts';
import { SpareBuffers } from './spare-buffers.ts';
import type { BundleHeader, VerifyPolicy } from './bundle.ts';
import type { Manifest } from './manifest.ts';
import type { RootSigned } from './root.ts';

const TRAILER_MAGIC = new TextEncoder().encode('UNIOTAT1');
const TRAILER_PREFIX = TRAILER_MAGIC.length + 4;

/** Default trailer size: room for a manifest with ~3,900 chunk hashes. */
export const DEFAULT_TRAILER_SIZE = 256 * 1024;

/** The storage a slot lives on (structurally a BlockDevice). */
export interface SlotStorage {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Optional: fills `target` in place with the bytes `read` would return (BlockDevice.readInto). */
  readInto?(offset: number, target: Uint8Array): Promise<void>;
}

/** Byte offset of the trailer inside a slot. */
export function trailerOffset(slotSize: number, trailerSize: number): number {
  if (trailerSize < TRAILER_PREFIX + 16 || trailerSize > slotSize) {
    throw new ImageError('SLOT_LAYOUT_INVALID', `trailer of ${trailerSize} bytes does not fit a slot of ${slotSize} bytes`);
  }
  return slotSize - trailerSize;
}

/** Largest payload a slot can hold next to its trailer. */
export function slotCapacity(slotSize: number, trailerSize: number): number {
  return trailerOffset(slotSize, trailerSize);
}

/** Encodes the trailer (magic | u32 BE header length | header bytes), padded to `trailerSize`. */
export function encodeSlotTrailer(headerBytes: Uint8Array, trailerSize: number): Uint8Array {
  if (TRAILER_PREFIX + headerBytes.length > trailerSize) {
    throw new ImageError(
      'SLOT_LAYOUT_INVALID',
      `signed header of ${headerBytes.length} bytes does not fit a ${trailerSize}-byte slot trailer`,
    );
  }
  const out = new Uint8Array(trailerSize);
  out.set(TRAILER_MAGIC, 0);
  new DataView(out.buffer).setUint32(TRAILER_MAGIC.length, headerBytes.length, false);
  out.set(headerBytes, TRAILER_PREFIX);
  return out;
}

/** Bytes that erase a trailer: writing them makes the slot unbootable until a new trailer lands. */
export function erasedTrailerPrefix(): Uint8Array {
  return new Uint8Array(TRAILER_PREFIX);
}

/** Decodes a trailer; null when the slot holds none (erased, torn or never written). */
export function decodeSlotTrailer(bytes: Uint8Array): Uint8Array | null {
  if (bytes.length < TRAILER_PREFIX) return null;
  for (let i = 0; i < TRAILER_MAGIC.length; i++) if (bytes[i] !== TRAILER_MAGIC[i]) return null;
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(TRAILER_MAGIC.length, false);
  if (len === 0 || TRAILER_PREFIX + len > bytes.length) return null;
  return bytes.subarray(TRAILER_PREFIX, TRAILER_PREFIX + len);
}

/** What a verified slot holds. */
export interface VerifiedSlot {
  manifest: Manifest;
  header: BundleHeader;
}

/** Bytes read per step when hashing a slot: bounded memory for any image size. */
const READ_STEP = 1024 * 1024;
/** Read steps being hashed at once: the next read overlaps the hashing of the last ones. */
const READ_AHEAD = 3;
/**
 * Read buffers kept for the next verification, let go after 30 s without
 * one: 8 MiB, two verifications' worth of 1 MiB steps on a device. A fleet
 * simulator's verifications overlap: with 2,000 devices and 256 KiB images,
 * 37 % of the reads still needed a new buffer with room for 8 buffers, 27 %
 * with room for 8 MiB. In a 2,000-device fleet profile the slot reads were
 * 6 % of the fleet's CPU and the collector 8 %.
 */
const plainReadBuffers = new SpareBuffers<Uint8Array>({
  // Not zero-filled: a read overwrites every byte it returns.
  allocate: (size) => new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size),
  capBytes: 8 * READ_STEP,
  idleMs: 30_000,
  fit: 'at-least',
  maxSize: READ_STEP,
});

/**
 * The same, in shared memory, for hashers that hash shared memory in place
 * (worker threads): they would otherwise copy every step into new shared
 * memory. Measured verifying a 64 MiB file-backed slot with the threaded
 * hasher, both ways alternating in one process (median of 10, two runs):
 * 101.5 / 104.4 ms reading into shared memory, 138.9 / 135.2 ms into
 * ordinary memory. Not for the other hashers: V8 copies into shared memory with a
 * race-tolerant memcpy, measured at 40-51 µs per 256 KiB read from the
 * fleet's in-memory disk against 20-23 µs into ordinary memory.
 */
const sharedReadBuffers = new SpareBuffers<Uint8Array>({
  allocate: (size) => new Uint8Array(new SharedArrayBuffer(size)),
  capBytes: 8 * READ_STEP,
  idleMs: 30_000,
  fit: 'at-least',
  maxSize: READ_STEP,
});

/**
 * Bytes read first from a trailer: a signed header is a few KiB unless the
 * image has thousands of chunks, and the trailer area is often 256 KiB, so
 * the rest is read only when the header's length says it is needed.
 */
const TRAILER_FIRST_READ = 16 * 1024;

/** The signed header in the slot's trailer, or null (see decodeSlotTrailer); reads only the bytes the header takes. */
async function readSlotHeader(slot: SlotStorage, off: number, trailerSize: number): Promise<Uint8Array | null> {
  const first = await slot.read(off, Math.min(trailerSize, TRAILER_FIRST_READ));
  const header = decodeSlotTrailer(first);
  if (header !== null || first.length < TRAILER_PREFIX || first.length === trailerSize) return header;
  for (let i = 0; i < TRAILER_MAGIC.length; i++) if (first[i] !== TRAILER_MAGIC[i]) return null;
  const needed = TRAILER_PREFIX + new DataView(first.buffer, first.byteOffset, first.byteLength).getUint32(TRAILER_MAGIC.length, false);
  return needed > trailerSize ? null : decodeSlotTrailer(await slot.read(off, needed));
}

/**
 * Verifies a slot end to end: trailer present, signatures over the manifest,
 * policy (hardware, counter, expiry when asked), then every payload byte
 * against the signed chunk hashes. Throws ImageError; never returns a slot
 * that would not verify byte for byte.
 *
 * The payload is checked chunk by chunk, not with one serial pass of the
 * whole-payload sha256: validateManifest guarantees the signed chunk list
 * covers bytes [0, size) exactly (ceil(size / chunkSize) hashes, the last one
 * for the short tail), so every chunk matching is every byte matching, and the
 * chunks can be hashed on several cores while the next bytes are read. The
 * whole-payload hash is a property of the manifest the server checked when the
 * bundle was uploaded (verifyBundle checks both).
 */
export async function verifySlot(
  slot: SlotStorage,
  trailerSize: number,
  root: RootSigned,
  policy: VerifyPolicy,
  hasher: ChunkHasher = threadedChunkHasher,
): Promise<VerifiedSlot> {
  const off = trailerOffset(slot.size, trailerSize);
  const headerBytes = await readSlotHeader(slot, off, trailerSize);
  if (headerBytes === null) throw new ImageError('SLOT_EMPTY', 'slot holds no image trailer (erased or never completed)');
  const header = parseBundleHeader(headerBytes);
  const manifest = verifyManifest(header, root, policy);
  const { size, chunkSize } = manifest.payload;
  if (size > off) {
    throw new ImageError('PAYLOAD_TOO_LONG', `payload of ${size} bytes exceeds the slot capacity ${off}`);
  }
  const step = Math.max(chunkSize, Math.floor(READ_STEP / chunkSize) * chunkSize);
  const readBuffers = hasher.prefersSharedMemory === true ? sharedReadBuffers : plainReadBuffers;
  interface Job {
    first: number;
    count: number;
    verified: Promise<number>;
    /** The pooled buffer the bytes were read into, if any. */
    buffer: Uint8Array | null;
  }
  const inFlight: Job[] = [];
  const settle = async (job: Job) => {
    const n = await job.verified;
    if (n < job.count) {
      const bad = job.first + n;
      throw new ImageError('CHUNK_HASH_MISMATCH', `chunk ${bad} (bytes from ${bad * chunkSize}) does not match its signed hash`);
    }
    // Its hashing is over: nothing reads the buffer any more. (After a
    // failure, buffers still being hashed are left to the collector.)
    if (job.buffer !== null) readBuffers.giveBack([job.buffer]);
  };
  // Reads stay strictly in order, one at a time; only the hashing overlaps.
  for (let pos = 0; pos < size; pos += step) {
    const n = Math.min(step, size - pos);
    let bytes: Uint8Array;
    let buffer: Uint8Array | null = null;
    if (slot.readInto !== undefined && n <= READ_STEP) {
      buffer = readBuffers.take(n);
      bytes = buffer.subarray(0, n);
      await slot.readInto(pos, bytes);
    } else {
      bytes = await slot.read(pos, n);
    }
    const verified = countVerifiedChunks(manifest, pos / chunkSize, bytes, hasher);
    // Awaited in order below; this only keeps an early failure from being reported as unhandled.
    verified.catch(() => undefined);
    inFlight.push({ first: pos / chunkSize, count: Math.ceil(n / chunkSize), verified, buffer });
    if (inFlight.length >= READ_AHEAD) await settle(inFlight.shift() as (typeof inFlight)[number]);
  }
  for (const job of inFlight) await settle(job);
  return { manifest, header };
}
