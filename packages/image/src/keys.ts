import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { sha256Hex } from './encoding.ts';
import { ImageError } from './errors.ts';

/**
 * Ed25519 keys through node:crypto (OpenSSL): the hot path on devices and the
 * server, about 17x faster than the pure-JS implementation in portable.ts.
 * Keys on disk are PEM (PKCS#8 private, SPKI public) so `openssl pkey` and HSM
 * tooling can read them; inside the system a key is its 32 raw public bytes.
 */

/** Something that can produce ed25519 signatures under one keyid. */
export interface Signer {
  keyid: string;
  sign(message: Uint8Array): Uint8Array;
}

/** A keyid: lowercase hex sha256 of the 32 raw public key bytes. */
export function keyIdOf(publicKeyRaw: Uint8Array): string {
  if (publicKeyRaw.byteLength !== 32) {
    throw new ImageError('KEY_INVALID', `an ed25519 public key is 32 bytes, got ${publicKeyRaw.byteLength}`);
  }
  return sha256Hex(publicKeyRaw);
}

function rawPublicOf(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new ImageError('KEY_INVALID', 'key has no public part');
  return new Uint8Array(Buffer.from(jwk.x, 'base64url'));
}

/** Generates a fresh ed25519 key pair as PEM plus its raw public key and keyid. */
export function generateKeyPair(): {
  privateKeyPem: string;
  publicKeyPem: string;
  keyid: string;
  publicKeyRaw: Uint8Array;
} {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicKeyRaw = rawPublicOf(publicKey);
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    keyid: keyIdOf(publicKeyRaw),
    publicKeyRaw,
  };
}

function loadPrivate(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new ImageError('KEY_INVALID', 'not a readable PEM private key', { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ImageError('KEY_INVALID', `expected an ed25519 key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return key;
}

/** A Signer backed by a PKCS#8 PEM ed25519 private key. */
export function signerFromPem(privateKeyPem: string): Signer {
  const key = loadPrivate(privateKeyPem);
  const keyid = keyIdOf(rawPublicOf(key));
  return {
    keyid,
    sign: (message) => new Uint8Array(nodeSign(null, message, key)),
  };
}

/** The 32-byte ed25519 seed inside a PKCS#8 PEM private key (for the portable signer and tests). */
export function seedFromPem(privateKeyPem: string): Uint8Array {
  const jwk = loadPrivate(privateKeyPem).export({ format: 'jwk' });
  if (typeof jwk.d !== 'string') throw new ImageError('KEY_INVALID', 'private key has no seed');
  return new Uint8Array(Buffer.from(jwk.d, 'base64url'));
}

/** Raw 32-byte public key from a public (SPKI) or private (PKCS#8) PEM. */
export function publicKeyRawFromPem(publicOrPrivatePem: string): Uint8Array {
  let key: KeyObject;
  try {
    // createPublicKey derives the public half when handed a private key.
    key = createPublicKey(publicOrPrivatePem);
  } catch (err) {
    throw new ImageError('KEY_INVALID', 'not a readable PEM key', { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ImageError('KEY_INVALID', `expected an ed25519 key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return rawPublicOf(key);
}

/** SPKI PEM for a raw public key (what `uniota keygen` writes as <name>.pub). */
export function publicKeyPemFromRaw(publicKeyRaw: Uint8Array): string {
  return publicKeyObject(publicKeyRaw).export({ format: 'pem', type: 'spki' }).toString();
}

// Importing a key costs about as much as a verify, and devices check the same
// handful of root keys over and over, so imported keys are cached. The cap
// keeps a hostile stream of fresh keys from growing memory without bound.
const keyCache = new Map<string, KeyObject>();
const KEY_CACHE_MAX = 256;

function publicKeyObject(publicKeyRaw: Uint8Array): KeyObject {
  if (publicKeyRaw.byteLength !== 32) {
    throw new ImageError('KEY_INVALID', `an ed25519 public key is 32 bytes, got ${publicKeyRaw.byteLength}`);
  }
  const x = Buffer.from(publicKeyRaw).toString('base64url');
  let key = keyCache.get(x);
  if (key === undefined) {
    try {
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    } catch (err) {
      throw new ImageError('KEY_INVALID', 'not a valid ed25519 public key', { cause: err });
    }
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    keyCache.set(x, key);
  }
  return key;
}

// A device checks the same signed bytes again and again: the bundle header on
// the offer, at the slot verify, before arming, at every boot's inventory; and
// a fleet simulator's devices, all in one process, check the same ones
// thousands of times (measured: ed25519 verification was 12 % of a 2,000-device
// fleet's CPU). Checks that passed are remembered under SHA-256 of key,
// signature and message (fixed-length key and signature, so the input is
// unambiguous): the same triple verifies the same way every time, and anything
// that differs in one bit misses and is verified for real. Failures are never
// remembered. The cap bounds memory against a stream of distinct signatures.
const verifiedMemo = new Set<string>();
const VERIFIED_MEMO_MAX = 1024;

/** Ed25519 checks run with node:crypto / answered from a check of the same key, signature and message that passed. */
export const ed25519Stats = { verified: 0, remembered: 0 };

/** Plain ed25519 verification with node:crypto; false (never a throw) for any bad input. */
export function verifyEd25519(publicKeyRaw: Uint8Array, message: Uint8Array, sig: Uint8Array): boolean {
  if (sig.byteLength !== 64 || publicKeyRaw.byteLength !== 32) return false;
  const memoKey = createHash('sha256').update(publicKeyRaw).update(sig).update(message).digest('base64');
  if (verifiedMemo.has(memoKey)) {
    ed25519Stats.remembered += 1;
    return true;
  }
  ed25519Stats.verified += 1;
  let ok: boolean;
  try {
    ok = nodeVerify(null, message, publicKeyObject(publicKeyRaw), sig);
  } catch {
    return false;
  }
  if (ok) {
    if (verifiedMemo.size >= VERIFIED_MEMO_MAX) verifiedMemo.clear();
    verifiedMemo.add(memoKey);
  }
  return ok;
}
