/**
 * Checks every fuzz target shares: which errors count as documented
 * rejections, and whether an input polluted Object.prototype.
 */
import { ImageError, ImageErrorCode } from '@uniota/image';

const imageCodes = new Set<string>(Object.values(ImageErrorCode));

/** An ImageError with a documented code yields that code; anything else is a crash (null). */
export function documentedImageError(err: unknown): string | null {
  return err instanceof ImageError && imageCodes.has(err.code) ? err.code : null;
}

const baselineProtoKeys = Object.getOwnPropertyNames(Object.prototype).sort().join(',');

/** A description of how Object.prototype was polluted, or null if it was not. */
export function prototypePollution(): string | null {
  const now = Object.getOwnPropertyNames(Object.prototype).sort().join(',');
  if (now !== baselineProtoKeys) return `Object.prototype keys changed: ${now}`;
  const probe = {} as Record<string, unknown>;
  if (probe.polluted !== undefined || probe.v !== undefined || probe.deviceId !== undefined) return 'a fresh object inherits a fuzzed property';
  return null;
}
