import { concatBytes, decodeUtf8Strict } from './encoding.ts';
import { ImageError } from './errors.ts';
import type { Signer } from './keys.ts';
import { buildManifest, encodeManifest, parseManifestBytes, type Manifest, type ManifestInput } from './manifest.ts';
import { encodeBundleHeader, parseBundleHeader, type BundleHeader } from './bundle-header.ts';
import { PayloadVerifier } from './payload.ts';
import type { RootSigned } from './root.ts';
import { SigningContext, signWithContext } from './signing.ts';
import { verifyRoleSignatures } from './threshold.ts';

// The spec names bundle.ts as the home of the whole bundle API; the header
// codec and payload verifier live in their own files and are re-exported here.
export { encodeBundleHeader, parseBundleHeader, type BundleHeader } from './bundle-header.ts';
export { PayloadVerifier, verifyChunk } from './payload.ts';

/** What this device is and what it already trusts; `now` comes from the caller's clock. */
export interface VerifyPolicy {
  hardware: string;
  /** the device's committed security counter; lower images are rollbacks */
  minSecurityCounter: number;
  now: Date;
  /**
   * Default true. Expiry defends INSTALLATION against freeze attacks; a
   * bootloader (no trusted clock) and an agent re-verifying an image it
   * already accepted pass false, so an installed image never stops booting
   * because its deadline passed.
   */
  checkExpiry?: boolean;
}

/** Signs canonical manifest bytes with each signer (images keys). */
export function signManifestBytes(manifestBytes: Uint8Array, signers: Signer[]): BundleHeader['signatures'] {
  return signers.map((s) => ({ keyid: s.keyid, sig: signWithContext(s, SigningContext.manifest, manifestBytes) }));
}

/** Builds a complete signed bundle: header (manifest + signatures) followed by the payload. */
export function createBundle(input: ManifestInput, payload: Uint8Array, signers: Signer[]): Uint8Array {
  if (signers.length === 0) throw new ImageError('SIGNATURE_MISSING', 'a bundle needs at least one signer');
  const manifestBytes = encodeManifest(buildManifest(input, payload));
  const header = encodeBundleHeader({ manifestBytes, signatures: signManifestBytes(manifestBytes, signers) });
  return concatBytes(header, payload);
}

/**
 * Decides whether a header's manifest may be installed here, in this order:
 * a threshold of `images` keys signed the raw bytes (before any JSON parser
 * sees them), the bytes are canonical and every field valid, not expired,
 * built for this hardware, and not older than the device's security counter.
 */
export function verifyManifest(header: BundleHeader, root: RootSigned, policy: VerifyPolicy): Manifest {
  verifyRoleSignatures(root, 'images', SigningContext.manifest, header.manifestBytes, header.signatures);
  const manifest = parseManifestBytes(header.manifestBytes);
  if (policy.checkExpiry !== false && policy.now.getTime() >= Date.parse(manifest.expiresAt)) {
    throw new ImageError('MANIFEST_EXPIRED', `manifest for ${manifest.product} ${manifest.version} expired at ${manifest.expiresAt}`);
  }
  if (!manifest.compatibleHardware.includes(policy.hardware)) {
    throw new ImageError(
      'HARDWARE_INCOMPATIBLE',
      `image is for ${manifest.compatibleHardware.join(', ')}, not ${policy.hardware}`,
    );
  }
  if (manifest.securityCounter < policy.minSecurityCounter) {
    throw new ImageError(
      'SECURITY_COUNTER_ROLLBACK',
      `image security counter ${manifest.securityCounter} is below the device's ${policy.minSecurityCounter}`,
    );
  }
  return manifest;
}

/** Verifies a whole in-memory bundle: header, manifest, then every payload byte. */
export function verifyBundle(
  bundle: Uint8Array,
  root: RootSigned,
  policy: VerifyPolicy,
): { manifest: Manifest; header: BundleHeader; payload: Uint8Array } {
  let header: BundleHeader;
  try {
    header = parseBundleHeader(bundle);
  } catch (err) {
    if (err instanceof ImageError && err.code === 'NEED_MORE_BYTES') {
      throw new ImageError('BUNDLE_MALFORMED', `bundle is truncated inside its header (${bundle.byteLength} bytes)`, { cause: err });
    }
    throw err;
  }
  const manifest = verifyManifest(header, root, policy);
  const payload = bundle.subarray(header.headerLength);
  // Cheap length check first: extra trailing bytes are unsigned data and are
  // refused without hashing anything.
  if (payload.byteLength > manifest.payload.size) {
    throw new ImageError(
      'PAYLOAD_TOO_LONG',
      `bundle carries ${payload.byteLength - manifest.payload.size} bytes after the ${manifest.payload.size}-byte signed payload`,
    );
  }
  const verifier = new PayloadVerifier(manifest);
  verifier.update(payload);
  verifier.finish();
  return { manifest, header, payload };
}

/**
 * Reads a bundle for display only. NOTHING here is verified: the manifest is
 * whatever the file claims (the raw text if it is not JSON).
 */
export function inspectBundle(bundle: Uint8Array): {
  manifest: unknown;
  signatures: { keyid: string; sigLength: number }[];
  payloadLength: number;
} {
  const header = parseBundleHeader(bundle);
  const text = decodeUtf8Strict(header.manifestBytes) ?? Buffer.from(header.manifestBytes).toString('latin1');
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch {
    manifest = text;
  }
  return {
    manifest,
    signatures: header.signatures.map((s) => ({ keyid: s.keyid, sigLength: s.sig.byteLength })),
    payloadLength: bundle.byteLength - header.headerLength,
  };
}
