import { fromBase64Strict, isHex64, toBase64, utf8 } from './encoding.ts';
import { ImageError } from './errors.ts';
import { keyIdOf, type Signer } from './keys.ts';
import { arrayOf, canonicalJson, exactObject, integerIn, isoTimestamp, type Fail } from './shape.ts';
import { SigningContext, signWithContext } from './signing.ts';
import { MAX_SIGNATURES, verifyRoleSignatures, type DetachedSignature, type RoleName } from './threshold.ts';

/**
 * The trust root (TUF style). Three roles with separate keys: `root` signs
 * root documents (offline), `images` signs bundles (offline), `server` is the
 * online server's key for commands and offers. The server role is kept
 * disjoint from the other two, so compromising the online server can neither
 * sign an image nor rotate the root to give itself that power.
 */

/** A set of keys and how many of them must sign. */
export interface Role {
  keyids: string[];
  threshold: number;
}

/** One trusted public key. */
export interface RootKey {
  scheme: 'ed25519';
  /** base64 of the 32 raw public key bytes */
  public: string;
}

/** The signed part of a root document. */
export interface RootSigned {
  type: 'uniota-root';
  version: number;
  expiresAt: string;
  keys: Record<string, RootKey>;
  roles: { root: Role; images: Role; server: Role };
}

/** One root signature: base64 ed25519 over `"uniota-root-v1\0" || canonical(signed)`. */
export interface RootSignature {
  keyid: string;
  sig: string;
}

/** A root document as stored in root.json. */
export interface RootDocument {
  signed: RootSigned;
  signatures: RootSignature[];
}

const ROLE_NAMES: readonly RoleName[] = ['root', 'images', 'server'];

const failRoot: Fail = (message) => {
  throw new ImageError('ROOT_INVALID', message);
};

function validateRole(value: unknown, path: string, keys: Record<string, RootKey>): Role {
  const obj = exactObject(value, path, ['keyids', 'threshold'], [], failRoot);
  const keyids = arrayOf(obj.keyids, `${path}.keyids`, failRoot).map((k, i) => {
    if (!isHex64(k)) failRoot(`${path}.keyids[${i}] must be 64 lowercase hex digits`);
    if (!Object.hasOwn(keys, k as string)) failRoot(`${path}.keyids[${i}] ${k as string} is not in keys`);
    return k as string;
  });
  if (new Set(keyids).size !== keyids.length) failRoot(`${path}.keyids lists a key twice`);
  if (keyids.length === 0) failRoot(`${path} has no keys`);
  // Threshold 0 would accept no signatures at all; above the key count it can
  // never be met. Both are refused instead of silently clamped.
  const threshold = integerIn(obj.threshold, `${path}.threshold`, 1, keyids.length, failRoot);
  return { keyids, threshold };
}

/** Validates the structure and internal consistency of a RootSigned (no signatures, no clock). */
export function validateRootSigned(value: unknown): RootSigned {
  const obj = exactObject(value, 'signed', ['type', 'version', 'expiresAt', 'keys', 'roles'], [], failRoot);
  if (obj.type !== 'uniota-root') failRoot('signed.type must be "uniota-root"');
  const version = integerIn(obj.version, 'signed.version', 1, Number.MAX_SAFE_INTEGER, failRoot);
  const expiresAt = isoTimestamp(obj.expiresAt, 'signed.expiresAt', failRoot);
  if (typeof obj.keys !== 'object' || obj.keys === null || Array.isArray(obj.keys)) failRoot('signed.keys must be an object');
  const keys: Record<string, RootKey> = {};
  for (const [keyid, entry] of Object.entries(obj.keys as Record<string, unknown>)) {
    const path = `signed.keys[${keyid}]`;
    if (!isHex64(keyid)) failRoot(`${path}: keyid must be 64 lowercase hex digits`);
    const e = exactObject(entry, path, ['scheme', 'public'], [], failRoot);
    if (e.scheme !== 'ed25519') failRoot(`${path}.scheme must be "ed25519"`);
    const raw = typeof e.public === 'string' ? fromBase64Strict(e.public) : undefined;
    if (raw === undefined || raw.byteLength !== 32) failRoot(`${path}.public must be base64 of 32 bytes`);
    // The keyid is derived, never chosen: otherwise one key could pose as
    // several and count more than once toward a threshold.
    if (keyIdOf(raw as Uint8Array) !== keyid) failRoot(`${path}: keyid is not the sha256 of the public key`);
    keys[keyid] = { scheme: 'ed25519', public: e.public as string };
  }
  const rolesObj = exactObject(obj.roles, 'signed.roles', ROLE_NAMES, [], failRoot);
  const roles = {
    root: validateRole(rolesObj.root, 'signed.roles.root', keys),
    images: validateRole(rolesObj.images, 'signed.roles.images', keys),
    server: validateRole(rolesObj.server, 'signed.roles.server', keys),
  };
  for (const keyid of roles.server.keyids) {
    if (roles.images.keyids.includes(keyid) || roles.root.keyids.includes(keyid)) {
      failRoot(`server key ${keyid} must not also be a root or images key`);
    }
  }
  return { type: 'uniota-root', version, expiresAt, keys, roles };
}

function validateDocument(value: unknown): RootDocument {
  const obj = exactObject(value, 'root document', ['signed', 'signatures'], [], failRoot);
  const signed = validateRootSigned(obj.signed);
  const list = arrayOf(obj.signatures, 'signatures', failRoot);
  if (list.length > MAX_SIGNATURES) failRoot(`too many signatures (${list.length})`);
  const signatures = list.map((s, i) => {
    const e = exactObject(s, `signatures[${i}]`, ['keyid', 'sig'], [], failRoot);
    if (typeof e.keyid !== 'string' || typeof e.sig !== 'string') failRoot(`signatures[${i}] keyid and sig must be strings`);
    return { keyid: e.keyid as string, sig: e.sig as string };
  });
  return { signed, signatures };
}

/** Parses root.json text into a RootDocument; structure and consistency only (ROOT_INVALID), no signatures checked. */
export function parseRootDocument(json: string): RootDocument {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new ImageError('ROOT_INVALID', `root document is not JSON: ${(err as Error).message}`, { cause: err });
  }
  return validateDocument(value);
}

function decodeSignatures(list: readonly RootSignature[]): DetachedSignature[] {
  return list.map((s) => {
    const sig = fromBase64Strict(s.sig);
    if (sig === undefined) throw new ImageError('SIGNATURE_MALFORMED', `signature by ${s.keyid} is not valid base64`);
    return { keyid: s.keyid, sig };
  });
}

function signedBytes(signed: RootSigned): Uint8Array {
  return utf8(canonicalJson(signed));
}

function keysFor(role: { keys: Uint8Array[]; threshold: number }): { keyids: string[]; threshold: number } {
  return { keyids: role.keys.map(keyIdOf), threshold: role.threshold };
}

/** Builds a RootSigned from raw public keys per role; throws ROOT_INVALID for an unusable layout. */
export function createRoot(opts: {
  version: number;
  expiresAt: Date;
  root: { keys: Uint8Array[]; threshold: number };
  images: { keys: Uint8Array[]; threshold: number };
  server: { keys: Uint8Array[]; threshold: number };
}): RootSigned {
  const keys: Record<string, RootKey> = {};
  for (const role of [opts.root, opts.images, opts.server]) {
    for (const raw of role.keys) keys[keyIdOf(raw)] = { scheme: 'ed25519', public: toBase64(raw) };
  }
  return validateRootSigned({
    type: 'uniota-root',
    version: opts.version,
    expiresAt: opts.expiresAt.toISOString(),
    keys,
    roles: { root: keysFor(opts.root), images: keysFor(opts.images), server: keysFor(opts.server) },
  });
}

/** Signs a RootSigned with each signer (root keys, and for a rotation also the previous root keys). */
export function signRoot(signed: RootSigned, signers: Signer[]): RootDocument {
  const bytes = signedBytes(validateRootSigned(signed));
  return {
    signed,
    signatures: signers.map((s) => ({ keyid: s.keyid, sig: toBase64(signWithContext(s, SigningContext.root, bytes)) })),
  };
}

function checkExpiry(signed: RootSigned, now: Date): void {
  if (now.getTime() >= Date.parse(signed.expiresAt)) {
    throw new ImageError('ROOT_EXPIRED', `root version ${signed.version} expired at ${signed.expiresAt}`);
  }
}

/** Verifies a root document on its own: structure, a threshold of its own root keys, then expiry. */
export function verifyRoot(doc: RootDocument, now: Date): RootSigned {
  const { signed, signatures } = validateDocument(doc);
  verifyRoleSignatures(signed, 'root', SigningContext.root, signedBytes(signed), decodeSignatures(signatures));
  checkExpiry(signed, now);
  return signed;
}

function rotate(trusted: RootDocument, next: RootDocument, now: Date, checkNextExpiry: boolean): RootSigned {
  const current = validateDocument(trusted).signed;
  const candidate = validateDocument(next);
  const version = candidate.signed.version;
  if (version !== current.version + 1) {
    const why = version <= current.version ? 'an old or replayed root' : 'a root that skips versions';
    throw new ImageError(
      'ROOT_ROTATION_INVALID',
      `root version ${version} after trusted version ${current.version} is ${why}; expected ${current.version + 1}`,
    );
  }
  const bytes = signedBytes(candidate.signed);
  const sigs = decodeSignatures(candidate.signatures);
  // Both thresholds: the old keys vouch that the change is authorised, the new
  // keys prove they are held by whoever will sign the next rotation.
  for (const [who, by] of [['current', current], ['new', candidate.signed]] as const) {
    try {
      verifyRoleSignatures(by, 'root', SigningContext.root, bytes, sigs);
    } catch (err) {
      const detail = err instanceof ImageError ? `${err.code}: ${err.message}` : String(err);
      throw new ImageError(
        'ROOT_ROTATION_INVALID',
        `root version ${version} is not signed by a threshold of the ${who} root keys (${detail})`,
        { cause: err },
      );
    }
  }
  if (checkNextExpiry) checkExpiry(candidate.signed, now);
  return candidate.signed;
}

/** Accepts root v(N+1) only if signed by thresholds of both v(N)'s and its own root role, and not expired. */
export function verifyRootRotation(trusted: RootDocument, next: RootDocument, now: Date): RootSigned {
  return rotate(trusted, next, now, true);
}

/**
 * Walks a chain of rotations from a trusted root; returns the newest root
 * document. As in TUF, only the final root must be unexpired: a device that
 * slept through several rotations must still be able to catch up.
 */
export function updateTrustedRoot(trusted: RootDocument, chain: readonly RootDocument[], now: Date): RootDocument {
  let current = trusted;
  chain.forEach((next, i) => {
    rotate(current, next, now, i === chain.length - 1);
    current = next;
  });
  if (chain.length === 0) checkExpiry(validateDocument(trusted).signed, now);
  return current;
}
