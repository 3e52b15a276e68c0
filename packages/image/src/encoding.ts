import { createHash } from 'node:crypto';

// Small byte helpers shared inside the package; not part of the public API.

const HEX64 = /^[0-9a-f]{64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** True for a lowercase 64-digit hex string (a sha256 or a keyid). */
export function isHex64(s: unknown): s is string {
  return typeof s === 'string' && HEX64.test(s);
}

/** Standard base64 of bytes. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * Strict base64 decode: Buffer.from silently skips junk characters, which
 * would let two different strings name the same key, so the alphabet and
 * padding are checked first.
 */
export function fromBase64Strict(s: string): Uint8Array | undefined {
  if (!BASE64.test(s)) return undefined;
  const out = new Uint8Array(Buffer.from(s, 'base64'));
  return toBase64(out) === s ? out : undefined;
}

/** Concatenates byte arrays into a fresh array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.byteLength;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/** Lowercase hex sha256 of bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes UTF-8, returning undefined for invalid sequences instead of inventing U+FFFD. */
export function decodeUtf8Strict(bytes: Uint8Array): string | undefined {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** UTF-8 encodes a string. */
export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/**
 * Byte equality. Used on public data (manifest bytes, digests are compared as
 * hex strings), so no constant-time loop is needed and Buffer.equals is ~30x
 * faster on a 64 KiB manifest.
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
