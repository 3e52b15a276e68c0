/**
 * Root rotations for cross-package tests: the next root version of a trust
 * fixture with fresh root (and optionally images / server) keys, signed by
 * whichever keys a test wants (both, only the old, only the new).
 */
import { createRoot, generateKeyPair, signRoot, signerFromPem } from '@uniota/image';
import type { RootDocument, Signer } from '@uniota/image';
import { TEST_NOW, type TrustFixture } from './fixtures.ts';

export interface Rotation {
  /** The trust fixture after the rotation (its rootDoc signed as `signedBy` says). */
  next: TrustFixture;
  /** Root text as an offer carries it. */
  text: string;
}

/** Who signs the new root: a valid rotation needs both. */
export type RotationSigners = 'both' | 'old-only' | 'new-only';

function pub(doc: RootDocument, id: string): Uint8Array {
  return Buffer.from(doc.signed.keys[id]!.public, 'base64');
}

/** Root v(N+1) of `prev` with a new root key and, unless kept, a new images key; the server key is kept. */
export function rotateTrust(
  prev: TrustFixture,
  opts: { signedBy?: RotationSigners; newImagesKey?: boolean; expiresAt?: Date; version?: number } = {},
): Rotation {
  const rootKey = generateKeyPair();
  const rootSigner = signerFromPem(rootKey.privateKeyPem);
  const imageKey = opts.newImagesKey === false ? null : generateKeyPair();
  const imageSigner: Signer = imageKey === null ? prev.imageSigner : signerFromPem(imageKey.privateKeyPem);
  const p = prev.rootDoc;
  const signed = createRoot({
    version: opts.version ?? p.signed.version + 1,
    expiresAt: opts.expiresAt ?? new Date(TEST_NOW.getTime() + 365 * 86400_000),
    root: { keys: [rootKey.publicKeyRaw], threshold: 1 },
    images: { keys: imageKey === null ? p.signed.roles.images.keyids.map((id) => pub(p, id)) : [imageKey.publicKeyRaw], threshold: 1 },
    server: { keys: p.signed.roles.server.keyids.map((id) => pub(p, id)), threshold: 1 },
  });
  const by = opts.signedBy ?? 'both';
  const signers = by === 'both' ? [prev.rootSigner, rootSigner] : by === 'old-only' ? [prev.rootSigner] : [rootSigner];
  const rootDoc = signRoot(signed, signers);
  return { next: { ...prev, rootDoc, root: signed, rootSigner, imageSigner }, text: JSON.stringify(rootDoc) };
}
