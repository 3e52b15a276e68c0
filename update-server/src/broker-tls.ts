import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ServerError, ServerErrorCode } from './errors.ts';

/** What the server needs for MQTT over TLS, read from one directory. */
export interface BrokerTls {
  /** The server's own connection: broker CA to verify the broker, its client certificate and key. */
  client: { ca: string; cert: string; key: string };
  /** CN of the server's certificate: the broker account with full access. */
  serverUsername: string;
  /** Material for the embedded broker (only when it is to be started). */
  embedded?: { deviceCaPem: string; certPem: string; keyPem: string; crlPem?: string };
}

function read(dir: string, name: string): string {
  const p = join(dir, name);
  if (!existsSync(p)) {
    throw new ServerError(ServerErrorCode.Config, `broker TLS: ${p} is missing (see update-server/README.md, "Transport security")`);
  }
  return readFileSync(p, 'utf8');
}

/**
 * Reads the TLS directory (the file-touching adapter for server.ts). The file
 * names are the ones `uniota pki issue` and `uniota broker-config` write, so
 * one directory serves both the server's connection and the embedded broker.
 */
export function readBrokerTls(dir: string, withEmbedded: boolean): BrokerTls {
  const cert = read(dir, 'uniota-server.pem');
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(new X509Certificate(cert).subject)?.[1];
  if (cn === undefined) throw new ServerError(ServerErrorCode.Config, 'broker TLS: uniota-server.pem has no CN');
  const tls: BrokerTls = { client: { ca: read(dir, 'broker-ca.pem'), cert, key: read(dir, 'uniota-server.key') }, serverUsername: cn };
  if (withEmbedded) {
    const crl = join(dir, 'crl.pem');
    tls.embedded = {
      deviceCaPem: read(dir, 'devices-ca.pem'),
      certPem: read(dir, 'broker.pem'),
      keyPem: read(dir, 'broker.key'),
      // No CRL file means nothing is revoked yet; a CRL is still recommended from day one.
      ...(existsSync(crl) ? { crlPem: readFileSync(crl, 'utf8') } : {}),
    };
  }
  return tls;
}
