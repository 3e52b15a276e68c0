import { fromBase64Strict, isHex64 } from './encoding.ts';
import { ImageError } from './errors.ts';
import { verifyEd25519 } from './keys.ts';
import type { RootSigned } from './root.ts';
import { signedMessage } from './signing.ts';

/** A signature detached from the document it covers. */
export interface DetachedSignature {
  keyid: string;
  sig: Uint8Array;
}

/** The roles a root document defines. */
export type RoleName = 'root' | 'images' | 'server';

/**
 * Root keys decoded from their base64, by their base64: a device decodes the
 * same few root keys at every check (measured: decoding was a quarter of the
 * time of a remembered signature check). Never written to; the cap bounds
 * memory against roots full of fresh keys.
 */
const decodedKeys = new Map<string, Uint8Array | undefined>();
const DECODED_KEYS_MAX = 256;

function decodeKey(base64: string): Uint8Array | undefined {
  if (decodedKeys.has(base64)) return decodedKeys.get(base64);
  const raw = fromBase64Strict(base64);
  if (decodedKeys.size >= DECODED_KEYS_MAX) decodedKeys.clear();
  decodedKeys.set(base64, raw);
  return raw;
}

/** Most signatures a document may carry (the bundle format stores the count in one byte). */
export const MAX_SIGNATURES = 255;

/**
 * Checks that a threshold of distinct keys listed in `root.roles[roleName]`
 * signed `context || message`; returns the keyids that counted.
 *
 * Fail closed, in this order: no signatures at all (fwupd CVE-2020-10759),
 * a keyid appearing twice (the TUF duplicate-keyid threshold bypass), a
 * signature that is not exactly 64 bytes; then each listed key is verified
 * once. Keys outside the role never count, even when the root knows them:
 * that is what stops an online server key from making an image installable.
 */
export function verifyRoleSignatures(
  root: RootSigned,
  roleName: RoleName,
  context: string,
  message: Uint8Array,
  signatures: readonly DetachedSignature[],
): string[] {
  if (signatures.length === 0) throw new ImageError('SIGNATURE_MISSING', 'no signatures');
  if (signatures.length > MAX_SIGNATURES) {
    throw new ImageError('SIGNATURE_MALFORMED', `too many signatures (${signatures.length} > ${MAX_SIGNATURES})`);
  }
  const seen = new Set<string>();
  for (const s of signatures) {
    if (seen.has(s.keyid)) throw new ImageError('DUPLICATE_KEYID', `keyid ${s.keyid} signs more than once`);
    seen.add(s.keyid);
  }
  for (const s of signatures) {
    if (!isHex64(s.keyid)) throw new ImageError('SIGNATURE_MALFORMED', `keyid ${JSON.stringify(s.keyid)} is not 64 lowercase hex digits`);
    if (s.sig.byteLength !== 64) {
      throw new ImageError('SIGNATURE_MALFORMED', `signature by ${s.keyid} is ${s.sig.byteLength} bytes, ed25519 signatures are 64`);
    }
  }

  const role = root.roles[roleName];
  const listed = new Set(role.keyids);
  const signed = signedMessage(context, message);
  const valid: string[] = [];
  const invalid: string[] = [];
  const unauthorized: string[] = [];
  const unknown: string[] = [];
  for (const s of signatures) {
    if (valid.length >= role.threshold) break;
    if (!listed.has(s.keyid)) {
      (Object.hasOwn(root.keys, s.keyid) ? unauthorized : unknown).push(s.keyid);
      continue;
    }
    const entry = root.keys[s.keyid];
    const pub = entry === undefined ? undefined : decodeKey(entry.public);
    if (pub !== undefined && verifyEd25519(pub, signed, s.sig)) valid.push(s.keyid);
    else invalid.push(s.keyid);
  }
  if (valid.length >= role.threshold) return valid;

  const short = `${valid.length} of ${role.threshold} required ${roleName} signatures`;
  if (invalid.length > 0) {
    throw new ImageError('SIGNATURE_INVALID', `signature by ${invalid.join(', ')} does not verify (${short})`);
  }
  if (valid.length === 0 && unauthorized.length > 0) {
    const roles = (keyid: string) =>
      (['root', 'images', 'server'] as const).filter((r) => root.roles[r].keyids.includes(keyid)).join('/') || 'no role';
    throw new ImageError(
      'KEY_NOT_AUTHORIZED',
      `key ${unauthorized.map((k) => `${k} (${roles(k)})`).join(', ')} is not in the ${roleName} role`,
    );
  }
  if (valid.length === 0 && unknown.length > 0) {
    throw new ImageError('UNKNOWN_KEY', `key ${unknown.join(', ')} is not in the trusted root`);
  }
  throw new ImageError('THRESHOLD_NOT_MET', `only ${short}`);
}
