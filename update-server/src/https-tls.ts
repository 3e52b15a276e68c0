import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { ServerError, ServerErrorCode } from './errors.ts';

/** Certificate and key of the HTTPS listener, as PEM text. */
export interface HttpsMaterial {
  cert: string;
  key: string;
}

/**
 * The oldest protocol the HTTPS listener accepts. TLS 1.0 and 1.1 are
 * deprecated (RFC 8996); the console and the CLI both speak 1.2 and 1.3.
 */
export const HTTPS_MIN_VERSION = 'TLSv1.2';

function read(path: string, what: string): string {
  if (!existsSync(path)) throw new ServerError(ServerErrorCode.Config, `HTTPS: ${what} ${path} does not exist`);
  return readFileSync(path, 'utf8');
}

/**
 * Reads the HTTPS certificate and key (the file-touching adapter for
 * server.ts) and checks that they belong together, so a mismatch is a clear
 * start-up error instead of every handshake failing later.
 */
export function readHttpsMaterial(certPath: string, keyPath: string): HttpsMaterial {
  const cert = read(certPath, 'certificate');
  const key = read(keyPath, 'private key');
  let matches: boolean;
  try {
    matches = new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch (err) {
    throw new ServerError(ServerErrorCode.Config, `HTTPS: cannot parse ${certPath} or ${keyPath} as PEM`, { cause: err });
  }
  if (!matches) throw new ServerError(ServerErrorCode.Config, `HTTPS: the key ${keyPath} does not belong to the certificate ${certPath}`);
  return { cert, key };
}
