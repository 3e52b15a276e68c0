// Test-only helpers shared by this package's *.test.ts files (not exported
// from index.ts). Real keys are generated per call: ed25519 keygen is cheap
// and fixed keys would hide keyid/derivation bugs.
import { canonicalJson } from './shape.ts';
import { utf8 } from './encoding.ts';
import { generateKeyPair, signerFromPem, type Signer } from './keys.ts';
import { createRoot, signRoot, type RootDocument, type RootSigned } from './root.ts';
import { encodeBundleHeader } from './bundle-header.ts';
import { signManifestBytes } from './bundle.ts';
import { ImageError } from './errors.ts';

export const NOW = new Date('2030-01-01T00:00:00.000Z');
export const DAY = 86_400_000;

/** A key with its signer. */
export interface TestKey {
  signer: Signer;
  raw: Uint8Array;
  keyid: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

/** Fresh ed25519 key. */
export function key(): TestKey {
  const k = generateKeyPair();
  return { signer: signerFromPem(k.privateKeyPem), raw: k.publicKeyRaw, keyid: k.keyid, privateKeyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem };
}

/** A trust setup: root, images and server keys with the given thresholds. */
export function trust(opts: { rootKeys?: number; imageKeys?: number; imageThreshold?: number; version?: number } = {}): {
  rootKeys: TestKey[];
  imageKeys: TestKey[];
  serverKeys: TestKey[];
  signed: RootSigned;
  doc: RootDocument;
} {
  const rootKeys = Array.from({ length: opts.rootKeys ?? 1 }, key);
  const imageKeys = Array.from({ length: opts.imageKeys ?? 1 }, key);
  const serverKeys = [key()];
  const signed = createRoot({
    version: opts.version ?? 1,
    expiresAt: new Date(NOW.getTime() + 365 * DAY),
    root: { keys: rootKeys.map((k) => k.raw), threshold: rootKeys.length },
    images: { keys: imageKeys.map((k) => k.raw), threshold: opts.imageThreshold ?? 1 },
    server: { keys: serverKeys.map((k) => k.raw), threshold: 1 },
  });
  return { rootKeys, imageKeys, serverKeys, signed, doc: signRoot(signed, rootKeys.map((k) => k.signer)) };
}

/** Deterministic pseudo-random payload bytes. */
export function payloadOf(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A header around ANY manifest text (canonical or not), validly signed: for testing what verification does after signatures pass. */
export function signedHeaderForText(text: string, signers: Signer[]): Uint8Array {
  const manifestBytes = utf8(text);
  return encodeBundleHeader({ manifestBytes, signatures: signManifestBytes(manifestBytes, signers) });
}

/** Same, for an object encoded canonically. */
export function signedHeaderFor(manifest: unknown, signers: Signer[]): Uint8Array {
  return signedHeaderForText(canonicalJson(manifest), signers);
}

/** The ImageError code `fn` throws, or NO_ERROR; any other error propagates. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ImageError) return err.code;
    throw err;
  }
  return 'NO_ERROR';
}
