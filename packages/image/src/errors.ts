import { UniotaError } from '@uniota/errors';

/**
 * Every way an image, bundle or trust root can be refused. Codes are stable
 * strings (devices report them upstream and docs list them); never renumber or
 * rename one. None is transient except NEED_MORE_BYTES: a bad signature stays
 * bad, but a short prefix becomes parseable once more bytes arrive.
 */
export const ImageErrorCode = {
  BUNDLE_MALFORMED: 'BUNDLE_MALFORMED',
  NEED_MORE_BYTES: 'NEED_MORE_BYTES',
  MANIFEST_MALFORMED: 'MANIFEST_MALFORMED',
  MANIFEST_NOT_CANONICAL: 'MANIFEST_NOT_CANONICAL',
  FORMAT_UNSUPPORTED: 'FORMAT_UNSUPPORTED',
  SIGNATURE_MISSING: 'SIGNATURE_MISSING',
  SIGNATURE_MALFORMED: 'SIGNATURE_MALFORMED',
  SIGNATURE_INVALID: 'SIGNATURE_INVALID',
  UNKNOWN_KEY: 'UNKNOWN_KEY',
  KEY_NOT_AUTHORIZED: 'KEY_NOT_AUTHORIZED',
  DUPLICATE_KEYID: 'DUPLICATE_KEYID',
  THRESHOLD_NOT_MET: 'THRESHOLD_NOT_MET',
  MANIFEST_EXPIRED: 'MANIFEST_EXPIRED',
  ROOT_EXPIRED: 'ROOT_EXPIRED',
  ROOT_INVALID: 'ROOT_INVALID',
  ROOT_ROTATION_INVALID: 'ROOT_ROTATION_INVALID',
  ROOT_ROLLBACK: 'ROOT_ROLLBACK',
  ROOT_CONFLICT: 'ROOT_CONFLICT',
  HARDWARE_INCOMPATIBLE: 'HARDWARE_INCOMPATIBLE',
  SECURITY_COUNTER_ROLLBACK: 'SECURITY_COUNTER_ROLLBACK',
  PAYLOAD_TOO_LONG: 'PAYLOAD_TOO_LONG',
  PAYLOAD_TOO_SHORT: 'PAYLOAD_TOO_SHORT',
  CHUNK_HASH_MISMATCH: 'CHUNK_HASH_MISMATCH',
  CHUNK_INDEX_INVALID: 'CHUNK_INDEX_INVALID',
  CHUNK_LENGTH_MISMATCH: 'CHUNK_LENGTH_MISMATCH',
  PAYLOAD_HASH_MISMATCH: 'PAYLOAD_HASH_MISMATCH',
  KEY_INVALID: 'KEY_INVALID',
  CONTEXT_INVALID: 'CONTEXT_INVALID',
  // Used by slot-trailer.ts (an installed image at rest in a slot).
  SLOT_LAYOUT_INVALID: 'SLOT_LAYOUT_INVALID',
  SLOT_EMPTY: 'SLOT_EMPTY',
} as const;

export type ImageErrorCode = (typeof ImageErrorCode)[keyof typeof ImageErrorCode];

/** The one error type of @uniota/image. */
export class ImageError extends UniotaError<ImageErrorCode> {
  /**
   * For NEED_MORE_BYTES: the smallest total prefix length that could make
   * progress, so a streaming reader knows how much to fetch before retrying.
   */
  readonly needed: number | undefined;

  constructor(
    code: ImageErrorCode,
    message: string,
    options: { cause?: unknown; needed?: number } = {},
  ) {
    super(code, message, {
      cause: options.cause,
      transient: code === ImageErrorCode.NEED_MORE_BYTES,
    });
    this.needed = options.needed;
  }
}
