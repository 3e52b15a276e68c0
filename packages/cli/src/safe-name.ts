import { UniotaError } from '@uniota/errors';

// A name the CLI turns into a file inside a directory it was given (`pki
// issue <name> --out <dir>` writes <dir>/<name>.pem). The name must stay one
// plain path component: no separators, no `..`, no NUL, nothing a shell or a
// URL decoder would turn into one (`%2e%2e%2f`). An allow-list, not a
// block-list: letters, digits, dot, underscore and dash, starting with a
// letter or digit (so never `.`, `..` or a hidden file).
const SAFE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Throws CLI_USAGE unless `name` is a single safe file-name component; returns it. */
export function safeFileName(name: string, what: string): string {
  if (!SAFE.test(name) || name.includes('..')) {
    throw new UniotaError(
      'CLI_USAGE',
      `${what} ${JSON.stringify(name.slice(0, 60))} cannot be used as a file name: use letters, digits, ".", "_" or "-" (no path separators or "..")`,
    );
  }
  return name;
}

