import { PkiError, PkiErrorCode } from './errors.ts';

/**
 * Certificate subject CN of the update server's own broker account. The CA
 * refuses to put it in a device certificate, because the broker grants this
 * username full access (ACL `user`), while devices only get `%u` patterns.
 */
export const SERVER_IDENTITY = 'uniota-server';

/** Longest device id (same bound as protocol topic ids). */
const MAX_ID = 128;

/**
 * Throws unless `id` can be a device identity: it becomes the broker username
 * through `use_identity_as_username` and is substituted into `%u` ACL
 * patterns, so `+ # /` (CVE-2017-7650), a leading `$`, control characters and
 * the server's reserved name are all refused at issue time.
 */
export function assertDeviceIdentity(id: string): void {
  // Same rule as @uniota/protocol isValidId, plus no control chars or spaces
  // (they make ACL files and CN parsing ambiguous).
  if (id.length === 0 || id.length > MAX_ID || /[+#/\s\u0000-\u001f\u007f]/.test(id) || id.startsWith('$')) {
    throw new PkiError(PkiErrorCode.BAD_IDENTITY, `not a valid device id: ${JSON.stringify(id.slice(0, 40))}`);
  }
  if (id === SERVER_IDENTITY) {
    throw new PkiError(PkiErrorCode.RESERVED_IDENTITY, `${SERVER_IDENTITY} is reserved for the update server's account`);
  }
}
