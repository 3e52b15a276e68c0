import { UniotaError } from '@uniota/errors';

/**
 * Error codes of @uniota/protocol. Stable strings: agents journal them and the
 * server shows them; never rename one (each is listed in the package README).
 */
export const ProtocolErrorCode = {
  BAD_TOPIC_ID: 'PROTOCOL_BAD_TOPIC_ID',
  BAD_FRAME: 'PROTOCOL_BAD_FRAME',
  TRANSFER_TIMEOUT: 'PROTOCOL_TRANSFER_TIMEOUT',
  TRANSFER_TOO_SLOW: 'PROTOCOL_TRANSFER_TOO_SLOW',
  TRANSFER_ABORTED: 'PROTOCOL_TRANSFER_ABORTED',
  SINK_FAILED: 'PROTOCOL_SINK_FAILED',
  BROKER_START_FAILED: 'PROTOCOL_BROKER_START_FAILED',
  NOT_CONNECTED: 'PROTOCOL_NOT_CONNECTED',
} as const;

export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

/** The one error type thrown by @uniota/protocol. */
export class ProtocolError extends UniotaError<ProtocolErrorCode> {}
