import { createHash } from 'node:crypto';
import { bytesEqual, decodeUtf8Strict, isHex64, utf8 } from './encoding.ts';
import { ImageError } from './errors.ts';
import { arrayOf, canonicalJson, exactObject, integerIn, isoTimestamp, stringMatching, type Fail } from './shape.ts';

/**
 * The signed description of one image: what it is, which boards may run it,
 * its security counter, and the hash and length of every byte of its payload.
 * Everything a device acts on is in here, covered by the signature (Mender
 * CVE-2025-67903 was a payload the manifest did not describe).
 */

/** Hash, length and chunking of the payload. */
export interface PayloadDescriptor {
  /** bytes; a safe integer, so images over 4 GiB are representable */
  size: number;
  sha256: string;
  chunkSize: number;
  /** sha256 of each chunkSize slice; the last may be shorter */
  chunks: string[];
}

/** A parsed, validated manifest (formatVersion 1). */
export interface Manifest {
  formatVersion: 1;
  product: string;
  version: string;
  securityCounter: number;
  compatibleHardware: string[];
  payload: PayloadDescriptor;
  createdAt: string;
  expiresAt: string;
  releaseNotes?: string;
}

/** What a publisher supplies; the payload fields are computed. */
export interface ManifestInput {
  product: string;
  version: string;
  securityCounter: number;
  compatibleHardware: string[];
  createdAt?: Date;
  expiresAt: Date;
  releaseNotes?: string;
  /** default 64 KiB (grown for very large payloads so the manifest stays small) */
  chunkSize?: number;
}

/** Largest manifest accepted (the format's u32 length is capped here). */
export const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;
/** Smallest and largest chunk size. */
export const CHUNK_SIZE_MIN = 1024;
export const CHUNK_SIZE_MAX = 16 * 1024 * 1024;
/** Chunk size used when the publisher does not choose one. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
// Keeps default-chunked manifests around 2 MiB at most, well under the cap.
const DEFAULT_MAX_CHUNKS = 32 * 1024;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
// The semver 2.0.0 grammar: numeric parts without leading zeros, optional
// pre-release and build metadata.
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$/;

const failManifest: Fail = (message) => {
  throw new ImageError('MANIFEST_MALFORMED', message);
};

/** Number of chunks for a payload; BigInt so sizes near 2^53 cannot round. */
export function chunkCount(size: number, chunkSize: number): number {
  return Number((BigInt(size) + BigInt(chunkSize) - 1n) / BigInt(chunkSize));
}

/** Length of chunk `index` of the manifest's payload (the last chunk may be short). */
export function chunkLength(payload: PayloadDescriptor, index: number): number {
  return Math.min(payload.chunkSize, payload.size - index * payload.chunkSize);
}

function validatePayload(value: unknown): PayloadDescriptor {
  const p = exactObject(value, 'payload', ['size', 'sha256', 'chunkSize', 'chunks'], [], failManifest);
  const size = integerIn(p.size, 'payload.size', 0, Number.MAX_SAFE_INTEGER, failManifest);
  if (!isHex64(p.sha256)) failManifest('payload.sha256 must be 64 lowercase hex digits');
  const chunkSize = integerIn(p.chunkSize, 'payload.chunkSize', CHUNK_SIZE_MIN, CHUNK_SIZE_MAX, failManifest);
  const chunks = arrayOf(p.chunks, 'payload.chunks', failManifest);
  const expected = chunkCount(size, chunkSize);
  if (chunks.length !== expected) {
    failManifest(`payload.chunks has ${chunks.length} entries, size ${size} / chunkSize ${chunkSize} needs ${expected}`);
  }
  chunks.forEach((c, i) => {
    if (!isHex64(c)) failManifest(`payload.chunks[${i}] must be 64 lowercase hex digits`);
  });
  return { size, sha256: p.sha256 as string, chunkSize, chunks: chunks as string[] };
}

/** Validates every field of a manifest object; unknown fields are refused. */
export function validateManifest(value: unknown): Manifest {
  const obj = exactObject(
    value,
    'manifest',
    ['formatVersion', 'product', 'version', 'securityCounter', 'compatibleHardware', 'payload', 'createdAt', 'expiresAt'],
    ['releaseNotes'],
    failManifest,
  );
  if (obj.formatVersion !== 1) {
    throw new ImageError('FORMAT_UNSUPPORTED', `manifest formatVersion ${JSON.stringify(obj.formatVersion)} is not supported (expected 1)`);
  }
  const product = stringMatching(obj.product, 'product', NAME, 'a name of letters, digits, ".", "_" or "-" (max 128)', failManifest);
  if (typeof obj.version !== 'string' || obj.version.length > 256 || !SEMVER.test(obj.version)) {
    failManifest(`version must be a semver string like 1.2.3, got ${JSON.stringify(obj.version)}`);
  }
  const securityCounter = integerIn(obj.securityCounter, 'securityCounter', 0, Number.MAX_SAFE_INTEGER, failManifest);
  const hw = arrayOf(obj.compatibleHardware, 'compatibleHardware', failManifest);
  if (hw.length === 0) failManifest('compatibleHardware must list at least one board');
  const compatibleHardware = hw.map((h, i) =>
    stringMatching(h, `compatibleHardware[${i}]`, NAME, 'a board name of letters, digits, ".", "_" or "-"', failManifest),
  );
  if (new Set(compatibleHardware).size !== compatibleHardware.length) failManifest('compatibleHardware lists a board twice');
  const payload = validatePayload(obj.payload);
  const createdAt = isoTimestamp(obj.createdAt, 'createdAt', failManifest);
  const expiresAt = isoTimestamp(obj.expiresAt, 'expiresAt', failManifest);
  if (Date.parse(expiresAt) <= Date.parse(createdAt)) failManifest('expiresAt must be after createdAt');
  const manifest: Manifest = {
    formatVersion: 1,
    product,
    version: obj.version as string,
    securityCounter,
    compatibleHardware,
    payload,
    createdAt,
    expiresAt,
  };
  if (obj.releaseNotes !== undefined) {
    if (typeof obj.releaseNotes !== 'string') failManifest('releaseNotes must be a string');
    manifest.releaseNotes = obj.releaseNotes as string;
  }
  return manifest;
}

/** Canonical (RFC 8785) UTF-8 bytes of a manifest: exactly what gets signed. */
export function encodeManifest(manifest: Manifest): Uint8Array {
  return utf8(canonicalJson(validateManifest(manifest)));
}

/**
 * Parses manifest bytes. Call only AFTER their signature verified: this is
 * the first place attacker-controlled JSON would reach a parser. Bytes must be
 * the canonical encoding, so there is exactly one byte string per manifest
 * (no duplicate keys or alternative spellings that two parsers might read
 * differently).
 */
export function parseManifestBytes(bytes: Uint8Array): Manifest {
  const key = createHash('sha256').update(bytes).digest('base64');
  const known = parsedMemo.get(key);
  if (known !== undefined) {
    manifestParseStats.remembered += 1;
    // Most recently used last: eviction takes the oldest first.
    parsedMemo.delete(key);
    parsedMemo.set(key, known);
    return known.manifest;
  }
  manifestParseStats.parsed += 1;
  const manifest = deepFreeze(parseManifestUncached(bytes));
  if (bytes.byteLength <= PARSED_MEMO_MAX_BYTES) {
    for (const [k, old] of parsedMemo) {
      if (parsedMemoBytes + bytes.byteLength <= PARSED_MEMO_MAX_BYTES && parsedMemo.size < PARSED_MEMO_MAX_ENTRIES) break;
      parsedMemo.delete(k);
      parsedMemoBytes -= old.bytes;
    }
    parsedMemo.set(key, { manifest, bytes: bytes.byteLength });
    parsedMemoBytes += bytes.byteLength;
  }
  return manifest;
}

// A device parses the same signed manifest again and again: on the offer,
// at the download, at the slot verify, before arming, at each boot and in the
// hello's inventory; a fleet simulator's devices, all in one process, parse
// the same one thousands of times (measured: parsing, canonical-form check and
// validation were 4 % of a 2,000-device fleet's CPU, ~70 µs a parse).
// Parsing is a pure function of the bytes, so a manifest that parsed is
// remembered under SHA-256 of its bytes and handed out frozen (shared, so
// nobody may change it); bytes that differ in one bit miss and are parsed for
// real, and a refusal is never remembered. The least recently used go first
// past 2 MiB of manifest bytes (a 64 MiB image's manifest is ~70 KiB; the
// parsed objects take about twice their bytes) or 64 manifests.
const parsedMemo = new Map<string, { manifest: Manifest; bytes: number }>();
let parsedMemoBytes = 0;
const PARSED_MEMO_MAX_BYTES = 2 * 1024 * 1024;
const PARSED_MEMO_MAX_ENTRIES = 64;

/** Manifests parsed / answered from an earlier parse of the same bytes. */
export const manifestParseStats = { parsed: 0, remembered: 0 };

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function parseManifestUncached(bytes: Uint8Array): Manifest {
  const text = decodeUtf8Strict(bytes);
  if (text === undefined) throw new ImageError('MANIFEST_MALFORMED', 'manifest is not valid UTF-8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ImageError('MANIFEST_MALFORMED', `manifest is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const v = (value as Record<string, unknown>).formatVersion;
    if (v !== 1) throw new ImageError('FORMAT_UNSUPPORTED', `manifest formatVersion ${JSON.stringify(v)} is not supported (expected 1)`);
  }
  // A number outside the double range (1e999) parses to Infinity, which has
  // no canonical form: canonicalize throws a plain Error, not a refusal code.
  let canonical: string;
  try {
    canonical = canonicalJson(value);
  } catch (err) {
    throw new ImageError('MANIFEST_NOT_CANONICAL', `manifest has no RFC 8785 canonical form: ${(err as Error).message}`, { cause: err });
  }
  if (!bytesEqual(utf8(canonical), bytes)) {
    throw new ImageError('MANIFEST_NOT_CANONICAL', 'manifest bytes are not RFC 8785 canonical JSON');
  }
  return validateManifest(value);
}

/** Chunk size used when none is given: 64 KiB, doubled while the chunk list would exceed 32768 entries. */
export function defaultChunkSize(payloadSize: number): number {
  let chunkSize = DEFAULT_CHUNK_SIZE;
  while (chunkSize < CHUNK_SIZE_MAX && chunkCount(payloadSize, chunkSize) > DEFAULT_MAX_CHUNKS) chunkSize *= 2;
  return chunkSize;
}

/** Builds the manifest for a payload, hashing it whole and per chunk. */
export function buildManifest(input: ManifestInput, payload: Uint8Array, now: Date = new Date()): Manifest {
  const chunkSize = input.chunkSize ?? defaultChunkSize(payload.byteLength);
  const chunks: string[] = [];
  const size = payload.byteLength;
  if (Number.isSafeInteger(chunkSize) && chunkSize >= CHUNK_SIZE_MIN && chunkSize <= CHUNK_SIZE_MAX) {
    for (let off = 0; off < size; off += chunkSize) {
      chunks.push(createHash('sha256').update(payload.subarray(off, off + chunkSize)).digest('hex'));
    }
  }
  const candidate: Record<string, unknown> = {
    formatVersion: 1,
    product: input.product,
    version: input.version,
    securityCounter: input.securityCounter,
    compatibleHardware: input.compatibleHardware,
    payload: { size, sha256: createHash('sha256').update(payload).digest('hex'), chunkSize, chunks },
    createdAt: (input.createdAt ?? now).toISOString(),
    expiresAt: input.expiresAt.toISOString(),
  };
  if (input.releaseNotes !== undefined) candidate.releaseNotes = input.releaseNotes;
  return validateManifest(candidate);
}
