import { UniotaError } from '@uniota/errors';

/**
 * Every code the update server can put in front of a user (HTTP error body,
 * CLI line, audit verification). Stable strings: the console and scripts
 * switch on them, so a code is never renamed once released. Each one is
 * described in update-server/README.md (a test checks that).
 */
export const ServerErrorCode = {
  BadRequest: 'SERVER_BAD_REQUEST',
  NotFound: 'SERVER_NOT_FOUND',
  IllegalState: 'SERVER_ILLEGAL_STATE',
  ImageRejected: 'SERVER_IMAGE_REJECTED',
  ImageExists: 'SERVER_IMAGE_EXISTS',
  NoTargets: 'SERVER_NO_TARGETS',
  IncompatibleImage: 'SERVER_INCOMPATIBLE_IMAGE',
  Config: 'SERVER_CONFIG_INVALID',
  Migration: 'SERVER_MIGRATION_FAILED',
  AuditChainBroken: 'SERVER_AUDIT_CHAIN_BROKEN',
  Gateway: 'SERVER_GATEWAY_FAILED',
  Internal: 'SERVER_INTERNAL',
  Unauthenticated: 'SERVER_UNAUTHENTICATED',
  Forbidden: 'SERVER_FORBIDDEN',
  CrossSite: 'SERVER_CROSS_SITE',
  RateLimited: 'SERVER_RATE_LIMITED',
  UserExists: 'SERVER_USER_EXISTS',
  RootRejected: 'SERVER_ROOT_REJECTED',
} as const;

export type ServerErrorCode = (typeof ServerErrorCode)[keyof typeof ServerErrorCode];

/** The update server's one error type. */
export class ServerError extends UniotaError<ServerErrorCode> {}

/** HTTP status for each code; anything not listed is a 500. */
export const httpStatusForCode: Readonly<Record<ServerErrorCode, number>> = {
  SERVER_BAD_REQUEST: 400,
  SERVER_NOT_FOUND: 404,
  SERVER_ILLEGAL_STATE: 409,
  SERVER_IMAGE_REJECTED: 422,
  SERVER_IMAGE_EXISTS: 409,
  SERVER_NO_TARGETS: 422,
  SERVER_INCOMPATIBLE_IMAGE: 422,
  SERVER_CONFIG_INVALID: 500,
  SERVER_MIGRATION_FAILED: 500,
  SERVER_AUDIT_CHAIN_BROKEN: 500,
  SERVER_GATEWAY_FAILED: 502,
  SERVER_INTERNAL: 500,
  SERVER_UNAUTHENTICATED: 401,
  SERVER_FORBIDDEN: 403,
  SERVER_CROSS_SITE: 403,
  SERVER_RATE_LIMITED: 429,
  SERVER_USER_EXISTS: 409,
  SERVER_ROOT_REJECTED: 422,
};
