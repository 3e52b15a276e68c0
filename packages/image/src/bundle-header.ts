import { concatBytes } from './encoding.ts';
import { ImageError } from './errors.ts';
import { MANIFEST_MAX_BYTES } from './manifest.ts';

/**
 * The bundle's binary header. It comes before the payload so a device can
 * verify the manifest (and with it the payload's length and hashes) before
 * it accepts a single payload byte:
 *
 *   "UNIOTAB1" | u32 BE manifestLength | manifest | u8 signatureCount |
 *   per signature: u8 keyidLength, keyid (ASCII lowercase hex), u8 sigLength, sig |
 *   payload (exactly manifest.payload.size bytes)
 *
 * Signature and keyid lengths are explicit so wrong-length signatures can be
 * represented and then refused by verification rather than misparsed here.
 */

/** The 8-byte magic at offset 0. */
export const BUNDLE_MAGIC = new TextEncoder().encode('UNIOTAB1');

/** A parsed header; `headerLength` is the payload's offset in the bundle. */
export interface BundleHeader {
  manifestBytes: Uint8Array;
  signatures: { keyid: string; sig: Uint8Array }[];
  headerLength: number;
}

function need(total: number, have: number): never {
  throw new ImageError('NEED_MORE_BYTES', `bundle header needs at least ${total} bytes, have ${have}`, { needed: total });
}

function isLowerHexAscii(bytes: Uint8Array): boolean {
  for (const b of bytes) {
    if (!((b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66))) return false;
  }
  return true;
}

/**
 * Parses the header from a bundle prefix (structure only, nothing verified).
 * Throws BUNDLE_MALFORMED, or NEED_MORE_BYTES with `needed` when the prefix
 * ends inside the header. Returned arrays are views into `bytes`.
 */
export function parseBundleHeader(bytes: Uint8Array): BundleHeader {
  const have = bytes.byteLength;
  // Compare what we have of the magic first, so a wrong file fails at once
  // instead of asking for more bytes.
  for (let i = 0; i < Math.min(have, BUNDLE_MAGIC.byteLength); i++) {
    if (bytes[i] !== BUNDLE_MAGIC[i]) throw new ImageError('BUNDLE_MALFORMED', 'not a uniota bundle (bad magic)');
  }
  if (have < 12) need(12, have);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const manifestLength = view.getUint32(8, false);
  if (manifestLength < 1 || manifestLength > MANIFEST_MAX_BYTES) {
    throw new ImageError('BUNDLE_MALFORMED', `manifest length ${manifestLength} is outside 1..${MANIFEST_MAX_BYTES}`);
  }
  let off = 12;
  if (have < off + manifestLength + 1) need(off + manifestLength + 1, have);
  const manifestBytes = bytes.subarray(off, off + manifestLength);
  off += manifestLength;
  const count = bytes[off] ?? 0;
  off += 1;
  const signatures: BundleHeader['signatures'] = [];
  for (let i = 0; i < count; i++) {
    if (have < off + 1) need(off + 1, have);
    const keyidLength = bytes[off] ?? 0;
    off += 1;
    if (have < off + keyidLength + 1) need(off + keyidLength + 1, have);
    const keyidBytes = bytes.subarray(off, off + keyidLength);
    if (!isLowerHexAscii(keyidBytes)) throw new ImageError('BUNDLE_MALFORMED', `signature ${i}: keyid is not lowercase hex`);
    const keyid = String.fromCharCode(...keyidBytes);
    off += keyidLength;
    const sigLength = bytes[off] ?? 0;
    off += 1;
    if (have < off + sigLength) need(off + sigLength, have);
    signatures.push({ keyid, sig: bytes.subarray(off, off + sigLength) });
    off += sigLength;
  }
  return { manifestBytes, signatures, headerLength: off };
}

/** Encodes a header (the bundle minus its payload); BUNDLE_MALFORMED if a length cannot be represented. */
export function encodeBundleHeader(header: Omit<BundleHeader, 'headerLength'>): Uint8Array {
  const { manifestBytes, signatures } = header;
  if (manifestBytes.byteLength < 1 || manifestBytes.byteLength > MANIFEST_MAX_BYTES) {
    throw new ImageError('BUNDLE_MALFORMED', `manifest length ${manifestBytes.byteLength} is outside 1..${MANIFEST_MAX_BYTES}`);
  }
  if (signatures.length > 255) throw new ImageError('BUNDLE_MALFORMED', 'at most 255 signatures fit in a bundle');
  const lengthField = new Uint8Array(4);
  new DataView(lengthField.buffer).setUint32(0, manifestBytes.byteLength, false);
  const parts: Uint8Array[] = [BUNDLE_MAGIC, lengthField, manifestBytes, Uint8Array.of(signatures.length)];
  for (const s of signatures) {
    const keyid = new TextEncoder().encode(s.keyid);
    if (keyid.byteLength > 255 || !isLowerHexAscii(keyid)) {
      throw new ImageError('BUNDLE_MALFORMED', `keyid ${JSON.stringify(s.keyid)} is not short lowercase hex`);
    }
    if (s.sig.byteLength > 255) throw new ImageError('BUNDLE_MALFORMED', 'a signature longer than 255 bytes cannot be encoded');
    parts.push(Uint8Array.of(keyid.byteLength), keyid, Uint8Array.of(s.sig.byteLength), s.sig);
  }
  return concatBytes(...parts);
}
