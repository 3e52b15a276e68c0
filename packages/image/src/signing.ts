import { concatBytes, utf8 } from './encoding.ts';
import { ImageError } from './errors.ts';
import { verifyEd25519, type Signer } from './keys.ts';

/**
 * Domain separation: every signed message is prefixed with a context string
 * ending in NUL, so a signature made for one purpose (a server command) can
 * never be replayed as another (an image manifest), even if the bytes after
 * the prefix happened to coincide.
 */
export const SigningContext = {
  manifest: 'uniota-manifest-v1\0',
  root: 'uniota-root-v1\0',
  command: 'uniota-command-v1\0',
} as const;

// One NUL, at the end: otherwise "a\0" + "b\0..." and "a\0b\0" + "..." could
// collide between two contexts.
const CONTEXT_SHAPE = /^[a-z0-9][a-z0-9-]*-v[0-9]+\0$/;

// The contexts in use, encoded once: every manifest, command and root check
// needs its context's bytes (never written to: concatBytes copies them).
const KNOWN_CONTEXT_BYTES = new Map<string, Uint8Array>(Object.values(SigningContext).map((c) => [c, utf8(c)]));

function contextBytes(context: string): Uint8Array {
  const known = KNOWN_CONTEXT_BYTES.get(context);
  if (known !== undefined) return known;
  if (!CONTEXT_SHAPE.test(context)) {
    throw new ImageError('CONTEXT_INVALID', `signing context must look like "name-v1\\0", got ${JSON.stringify(context)}`);
  }
  return utf8(context);
}

/** The exact bytes signed for `message` under `context`. */
export function signedMessage(context: string, message: Uint8Array): Uint8Array {
  return concatBytes(contextBytes(context), message);
}

/** Signs `context || message` with signer. */
export function signWithContext(signer: Signer, context: string, message: Uint8Array): Uint8Array {
  return signer.sign(signedMessage(context, message));
}

/** Verifies an ed25519 signature over `context || message`; false for any mismatch or malformed input. */
export function verifyWithContext(
  publicKeyRaw: Uint8Array,
  context: string,
  message: Uint8Array,
  sig: Uint8Array,
): boolean {
  return verifyEd25519(publicKeyRaw, signedMessage(context, message), sig);
}
