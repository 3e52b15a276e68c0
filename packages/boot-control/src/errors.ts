import { UniotaError } from '@uniota/errors';

/** Every code boot control can fail with; each is described in README.md. */
export const BootControlErrorCode = {
  ENV_NO_VALID_COPY: 'ENV_NO_VALID_COPY',
  ENV_TOO_LARGE: 'ENV_TOO_LARGE',
  ENV_INVALID_NAME: 'ENV_INVALID_NAME',
  ENV_INVALID_VALUE: 'ENV_INVALID_VALUE',
  ENV_BAD_LOCATION: 'ENV_BAD_LOCATION',
} as const;

export type BootControlErrorCode = (typeof BootControlErrorCode)[keyof typeof BootControlErrorCode];

/** The one error type of @uniota/boot-control. */
export class BootControlError extends UniotaError<BootControlErrorCode> {}
