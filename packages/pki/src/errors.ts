import { UniotaError } from '@uniota/errors';

/** Error codes of @uniota/pki. Stable strings, each listed in the package README. */
export const PkiErrorCode = {
  BAD_PEM: 'PKI_BAD_PEM',
  BAD_CSR_SIGNATURE: 'PKI_BAD_CSR_SIGNATURE',
  BAD_IDENTITY: 'PKI_BAD_IDENTITY',
  RESERVED_IDENTITY: 'PKI_RESERVED_IDENTITY',
  KEY_MISMATCH: 'PKI_KEY_MISMATCH',
  NOT_A_CA: 'PKI_NOT_A_CA',
} as const;

export type PkiErrorCode = (typeof PkiErrorCode)[keyof typeof PkiErrorCode];

/** The one error type thrown by @uniota/pki. */
export class PkiError extends UniotaError<PkiErrorCode> {}
