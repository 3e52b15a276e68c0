import { ImageError, inspectBundle, verifyBundle, verifyRoot, type RootDocument } from '@uniota/image';
import { UniotaError } from '@uniota/errors';
import { ServerError, ServerErrorCode } from '../errors.ts';

/** What the server keeps from a verified bundle. */
export interface VerifiedImage {
  version: string;
  compatible: string[];
  manifest: unknown;
}

/** Checks a whole uploaded bundle; throws SERVER_IMAGE_REJECTED with the verifier's code otherwise. */
export type ImageVerifier = (bundle: Uint8Array) => VerifiedImage;

/**
 * Verifies uploads against the trust root exactly as a device will: images
 * role signatures over the manifest, expiry, and every payload byte. The
 * server is not a device, so the hardware check is satisfied with the
 * bundle's own first entry and the security counter floor is 0; devices
 * apply both for real.
 */
export function rootBundleVerifier(root: RootDocument, now: () => Date): ImageVerifier {
  return (bundle) => {
    try {
      const trusted = verifyRoot(root, now());
      let claimed: { compatibleHardware?: unknown };
      try {
        claimed = inspectBundle(bundle).manifest as { compatibleHardware?: unknown };
      } catch (err) {
        // A whole upload that still "needs more bytes" is simply truncated.
        if (err instanceof ImageError && err.code === 'NEED_MORE_BYTES') {
          throw new ImageError('BUNDLE_MALFORMED', `bundle is truncated inside its header (${bundle.byteLength} bytes)`, { cause: err });
        }
        throw err;
      }
      const hw = Array.isArray(claimed.compatibleHardware) && typeof claimed.compatibleHardware[0] === 'string' ? claimed.compatibleHardware[0] : '';
      const { manifest } = verifyBundle(bundle, trusted, { hardware: hw, minSecurityCounter: 0, now: now() });
      return { version: manifest.version, compatible: [...manifest.compatibleHardware], manifest };
    } catch (err) {
      throw rejection(err);
    }
  };
}

/** Wraps a verifier failure so the HTTP answer carries the image package's code. */
export function rejection(err: unknown): ServerError {
  const inner = err instanceof UniotaError ? err.code : 'UNKNOWN';
  const msg = err instanceof Error ? err.message : String(err);
  return new ServerError(ServerErrorCode.ImageRejected, `bundle rejected (${inner}): ${msg}`, { cause: err });
}
