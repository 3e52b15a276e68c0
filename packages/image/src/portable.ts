import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';

/**
 * Pure-JS ed25519 (@noble/ed25519) for places without node:crypto, such as
 * the web console checking a bundle in the browser. About 17x slower than
 * keys.ts, so devices and the server use node:crypto; tests cross-check that
 * both produce identical signatures and accept each other's.
 */

// noble needs a synchronous SHA-512 for its sync API; @noble/hashes runs in
// browsers too. Only set it if nothing else has, to respect an app's choice.
if (ed.hashes.sha512 === undefined) ed.hashes.sha512 = sha512;

/** Portable ed25519 sign (from a 32-byte seed) and verify. */
export const portableEd25519: {
  sign(msg: Uint8Array, seed32: Uint8Array): Uint8Array;
  verify(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean;
} = {
  sign: (msg, seed32) => ed.sign(msg, seed32),
  verify: (sig, msg, pub) => {
    try {
      // zip215: false selects strict RFC 8032 rules, the ones OpenSSL applies,
      // so both implementations accept exactly the same signatures.
      return ed.verify(sig, msg, pub, { zip215: false });
    } catch {
      return false;
    }
  },
};

/** Raw public key for a 32-byte seed, computed without node:crypto. */
export function portablePublicKey(seed32: Uint8Array): Uint8Array {
  return ed.getPublicKey(seed32);
}
