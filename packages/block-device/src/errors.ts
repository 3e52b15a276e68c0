import { UniotaError } from '@uniota/errors';

/** Every code a block-device operation can fail with; each is described in README.md. */
export const BlockDeviceErrorCode = {
  OUT_OF_RANGE: 'OUT_OF_RANGE',
  DISK_FULL: 'DISK_FULL',
  IO_ERROR: 'IO_ERROR',
  POWER_CUT: 'POWER_CUT',
  LAYOUT_INVALID: 'LAYOUT_INVALID',
  GPT_INVALID: 'GPT_INVALID',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
} as const;

export type BlockDeviceErrorCode = (typeof BlockDeviceErrorCode)[keyof typeof BlockDeviceErrorCode];

/** The one error type of @uniota/block-device. */
export class BlockDeviceError extends UniotaError<BlockDeviceErrorCode> {}
