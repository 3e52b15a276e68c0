import { createPublicKey, verify as nodeVerify } from 'node:crypto';

/**
 * Local signing adapter for command envelopes.
 *
 * @uniota/image owns `signWithContext`/`verifyWithContext`, but it has no
 * public entry point yet; this file mirrors its scheme exactly (ed25519 over
 * `context || message`, context ending in NUL, raw 32-byte public keys,
 * Signer = {keyid, sign}) so switching to the shared functions is a change
 * to this file only.
 */
export const COMMAND_CONTEXT = 'uniota-command-v1\0';

/** Something that signs under one keyid (same shape as @uniota/image's Signer). */
export interface CommandSigner {
  keyid: string;
  sign(message: Uint8Array): Uint8Array;
}

function withContext(message: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(COMMAND_CONTEXT, 'utf8'), message]);
}

// DER prefix of an SPKI ed25519 public key; the raw 32 bytes follow.
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Signs a command message under the command context. */
export function signCommandBytes(signer: CommandSigner, message: Uint8Array): Uint8Array {
  return signer.sign(withContext(message));
}

/** Verifies a command signature; false for any malformed key or signature. */
export function verifyCommandBytes(publicKeyRaw: Uint8Array, message: Uint8Array, sig: Uint8Array): boolean {
  if (publicKeyRaw.byteLength !== 32 || sig.byteLength !== 64) return false;
  try {
    const key = createPublicKey({
      key: Buffer.concat([SPKI_ED25519_PREFIX, publicKeyRaw]),
      format: 'der',
      type: 'spki',
    });
    return nodeVerify(null, withContext(message), key, sig);
  } catch {
    return false;
  }
}
