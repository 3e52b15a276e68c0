import { SigningContext, signWithContext, verifyWithContext, type Signer } from '@uniota/image';
import type { RootSigned } from '@uniota/image';

/**
 * Command signatures: ed25519 over `"uniota-command-v1\0" || message`, the
 * scheme @uniota/image uses for every signed object, so a signature made for
 * a command can never pass as a manifest or root signature (and back).
 */
export const COMMAND_CONTEXT = SigningContext.command;

/** Something that signs under one keyid (@uniota/image's Signer). */
export type CommandSigner = Signer;

/** Signs a command message under the command context. */
export function signCommandBytes(signer: CommandSigner, message: Uint8Array): Uint8Array {
  return signWithContext(signer, COMMAND_CONTEXT, message);
}

/** Verifies a command signature; false for any malformed key or signature. */
export function verifyCommandBytes(publicKeyRaw: Uint8Array, message: Uint8Array, sig: Uint8Array): boolean {
  try {
    return verifyWithContext(publicKeyRaw, COMMAND_CONTEXT, message, sig);
  } catch {
    return false;
  }
}

/**
 * Key lookup for CommandGuard from a VERIFIED trusted root: only keys listed
 * in the `server` role count. Image or root keys are refused on purpose: the
 * online server key must not be interchangeable with the offline ones.
 */
export function serverKeysFromRoot(root: RootSigned): (keyId: string) => Uint8Array | undefined {
  const allowed = new Set(root.roles.server.keyids);
  return (keyId) => {
    if (!allowed.has(keyId)) return undefined;
    const key = root.keys[keyId];
    if (key === undefined || key.scheme !== 'ed25519') return undefined;
    const raw = Buffer.from(key.public, 'base64');
    return raw.length === 32 ? new Uint8Array(raw) : undefined;
  };
}
