import { UniotaError } from '@uniota/errors';

/** Error codes of the device agent; each is documented in device-agent/README.md. */
export const AgentErrorCode = {
  /** Neither journal copy holds a valid record and the device was never provisioned. */
  JOURNAL_EMPTY: 'JOURNAL_EMPTY',
  /** A journal record does not fit its copy area. */
  JOURNAL_TOO_LARGE: 'JOURNAL_TOO_LARGE',
  /** A journal record was written by a newer, unknown format version. */
  JOURNAL_FORMAT_UNSUPPORTED: 'JOURNAL_FORMAT_UNSUPPORTED',
  /** An event arrived that the lifecycle table has no row for in the current state. */
  ILLEGAL_TRANSITION: 'ILLEGAL_TRANSITION',
  /** An offer arrived while another update is in progress. */
  BUSY: 'BUSY',
  /** The image does not fit the inactive slot. */
  IMAGE_TOO_LARGE: 'IMAGE_TOO_LARGE',
  /** The inactive slot did not read back exactly as verified. */
  SLOT_VERIFY_FAILED: 'SLOT_VERIFY_FAILED',
  /** The target slot is the one running: writing it would destroy the running image. */
  TARGET_IS_RUNNING: 'TARGET_IS_RUNNING',
  /** Downloading the image failed (network, source); the server may retry. */
  DOWNLOAD_FAILED: 'DOWNLOAD_FAILED',
  /** The offer's transfer fields (size, chunk size, chunk count) disagree with the signed manifest. */
  OFFER_MISMATCH: 'OFFER_MISMATCH',
  /** Received chunks kept failing their signed hash until the retries ran out (tampering on the way). */
  CHUNK_VERIFY_FAILED: 'CHUNK_VERIFY_FAILED',
  /** The new image booted but its health check failed. */
  HEALTH_CHECK_FAILED: 'HEALTH_CHECK_FAILED',
  /** The bootloader fell back to the old slot before the new one was committed. */
  TRIAL_BOOT_FAILED: 'TRIAL_BOOT_FAILED',
  /** The operator or server cancelled the update. */
  CANCELLED: 'CANCELLED',
  /** Not an error: the offered image already runs committed; the offer is acknowledged without installing. */
  ALREADY_INSTALLED: 'ALREADY_INSTALLED',
  /** Configuration is missing or invalid. */
  CONFIG_INVALID: 'CONFIG_INVALID',
} as const;
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

export class AgentError extends UniotaError<AgentErrorCode> {}
