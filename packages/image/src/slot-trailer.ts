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
import { parseBundleHeader, verifyManifest, PayloadVerifier } from './bundle.ts';
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

/**
 * Verifies a slot end to end: trailer present, signatures over the manifest,
 * policy (hardware, counter, expiry when asked), then every payload byte
 * against the signed chunk hashes. Throws ImageError; never returns a slot
 * that would not verify byte for byte.
 */
export async function verifySlot(
  slot: SlotStorage,
  trailerSize: number,
  root: RootSigned,
  policy: VerifyPolicy,
): Promise<VerifiedSlot> {
  const off = trailerOffset(slot.size, trailerSize);
  const headerBytes = decodeSlotTrailer(await slot.read(off, trailerSize));
  if (headerBytes === null) throw new ImageError('SLOT_EMPTY', 'slot holds no image trailer (erased or never completed)');
  const header = parseBundleHeader(headerBytes);
  const manifest = verifyManifest(header, root, policy);
  if (manifest.payload.size > off) {
    throw new ImageError('PAYLOAD_TOO_LONG', `payload of ${manifest.payload.size} bytes exceeds the slot capacity ${off}`);
  }
  const verifier = new PayloadVerifier(manifest);
  for (let pos = 0; pos < manifest.payload.size; pos += READ_STEP) {
    const n = Math.min(READ_STEP, manifest.payload.size - pos);
    verifier.update(await slot.read(pos, n));
  }
  verifier.finish();
  return { manifest, header };
}
