export { ImageError, ImageErrorCode } from './errors.ts';
export {
  generateKeyPair,
  keyIdOf,
  publicKeyPemFromRaw,
  publicKeyRawFromPem,
  seedFromPem,
  signerFromPem,
  verifyEd25519,
  ed25519Stats,
} from './keys.ts';
export type { Signer } from './keys.ts';
export { SigningContext, signWithContext, verifyWithContext } from './signing.ts';
export { verifyRoleSignatures } from './threshold.ts';
export type { DetachedSignature, RoleName } from './threshold.ts';
export {
  createRoot,
  parseRootDocument,
  signRoot,
  updateTrustedRoot,
  validateRootSigned,
  verifyRoot,
  verifyRootRotation,
} from './root.ts';
export { advanceTrustedRoot, parseRootChain } from './root-chain.ts';
export type { RootAdvance } from './root-chain.ts';
export type { Role, RootDocument, RootKey, RootSignature, RootSigned } from './root.ts';
export {
  buildManifest,
  chunkCount,
  chunkLength,
  encodeManifest,
  CHUNK_SIZE_MAX,
  CHUNK_SIZE_MIN,
  DEFAULT_CHUNK_SIZE,
  defaultChunkSize,
  MANIFEST_MAX_BYTES,
  manifestParseStats,
  validateManifest,
} from './manifest.ts';
export type { Manifest, ManifestInput, PayloadDescriptor } from './manifest.ts';
export { BUNDLE_MAGIC, encodeBundleHeader, parseBundleHeader } from './bundle-header.ts';
export type { BundleHeader } from './bundle-header.ts';
export { PayloadVerifier, checkChunkShape, countVerifiedChunks, verifyChunk } from './payload.ts';
export { inlineChunkHasher, threadedChunkHasher, threadedChunkHasherOn, THREADED_MIN_BYTES } from './chunk-hasher.ts';
export type { ThreadedHasherOptions } from './chunk-hasher.ts';
export type { ChunkHasher } from './chunk-hasher.ts';
export { createBundle, inspectBundle, signManifestBytes, verifyBundle, verifyManifest } from './bundle.ts';
export type { VerifyPolicy } from './bundle.ts';
export { portableEd25519, portablePublicKey } from './portable.ts';
// Slot trailer (an installed image at rest) is written by the device-agent
// lead; re-exported whole so its API is owned in that one file.
export * from './slot-trailer.ts';
export { SpareBuffers, type IdleTimers, type SpareBuffersOptions } from './spare-buffers.ts';
