import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { parseRootDocument, signerFromPem } from '@uniota/image';
import { createServerApp, type ServerApp } from './app.ts';
import type { DeviceGateway } from './campaign/gateway.ts';
import type { ServerConfig } from './config.ts';
import { openDb } from './db/open.ts';
import { ServerError, ServerErrorCode } from './errors.ts';
import { build, listen } from './http/build.ts';
import { fsBlobStore } from './images/blob-store.ts';
import { rootBundleVerifier } from './images/bundle-verifier.ts';
import { noTransportGateway } from './no-transport-gateway.ts';
import { AuthService, newSetupToken } from './auth/auth-service.ts';

/** A running server. */
export interface RunningServer {
  app: ServerApp;
  http: FastifyInstance;
  address: string;
  close(): Promise<void>;
}

/**
 * The file-touching adapter: opens the data directory, the trust root and the
 * database, then serves HTTP and ticks the engine. On restart the engine
 * simply carries on from SQLite.
 */
export async function startServer(config: ServerConfig, deps: { gateway?: DeviceGateway } = {}): Promise<RunningServer> {
  if (!existsSync(config.trustRootPath)) {
    throw new ServerError(
      ServerErrorCode.Config,
      `no trust root at ${config.trustRootPath}; create one with \`uniota root init\` or set UNIOTA_TRUST_ROOT`,
    );
  }
  const root = parseRootDocument(readFileSync(config.trustRootPath, 'utf8'));
  mkdirSync(config.blobDir, { recursive: true });
  const db = openDb({ path: config.dbPath });
  const app = createServerApp({
    db,
    gateway: deps.gateway ?? noTransportGateway,
    blobs: fsBlobStore(config.blobDir),
    verifyImage: rootBundleVerifier(root, () => new Date()),
    ...(config.devSigningKeyPath !== undefined ? { devSigner: signerFromPem(readFileSync(config.devSigningKeyPath, 'utf8')) } : {}),
  });
  // No default password: on a server without accounts, a one-time token that
  // creates the first admin (console "first setup", or `uniota user create`).
  const setupToken = new AuthService(db, Date.now).users.count() === 0 ? newSetupToken() : undefined;
  const http = await build({
    app, logger: { level: config.logLevel }, maxBundleBytes: config.maxBundleBytes,
    ...(setupToken !== undefined ? { auth: { setupToken } } : {}),
  });
  if (setupToken !== undefined) {
    process.stderr.write(`no operator accounts yet: open the console and use setup token ${setupToken} to create the first admin (or run \`uniota user create --role admin\`)\n`);
  }
  if (config.devSigningKeyPath !== undefined) {
    http.log.warn('DEVELOPMENT SIGNING ENABLED: this server can sign images with a key it holds; never run it like this in production');
  }
  let warnedNoTransport = false;
  const timer = setInterval(() => {
    app.tick().then(
      (r) => {
        if (r.sendFailures > 0 && deps.gateway === undefined && !warnedNoTransport) {
          warnedNoTransport = true;
          http.log.warn('offers are waiting: no device transport attached (MQTT gateway not configured)');
        }
      },
      (err: unknown) => http.log.error({ err }, 'engine tick failed'),
    );
  }, config.tickMs);
  const address = await listen(http, { host: config.host, port: config.port });
  return {
    app, http, address,
    async close() {
      clearInterval(timer);
      await http.close();
      db.close();
    },
  };
}
