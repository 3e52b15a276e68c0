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
import { MqttGateway } from './gateway/mqtt-gateway.ts';
import { startEmbeddedBroker, startSecureEmbeddedBroker } from '@uniota/protocol';
import { readBrokerTls } from './broker-tls.ts';
import { readHttpsMaterial } from './https-tls.ts';
import type { EmbeddedBroker } from '@uniota/protocol';

/** A running server. */
export interface RunningServer {
  app: ServerApp;
  http: FastifyInstance;
  address: string;
  /** The broker devices connect to (the embedded one unless a URL was configured). */
  brokerUrl: string;
  /** MQTT protocol level of that broker (4 for the embedded aedes broker). */
  brokerProtocolVersion: 4 | 5;
  /** The MQTT gateway, when the server runs its own (not when a gateway was injected). */
  gateway: MqttGateway | null;
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
  // Read before anything is started, so a bad certificate leaves nothing running.
  const https = config.httpsCertPath !== undefined && config.httpsKeyPath !== undefined ? readHttpsMaterial(config.httpsCertPath, config.httpsKeyPath) : undefined;
  mkdirSync(config.blobDir, { recursive: true });
  const blobs = fsBlobStore(config.blobDir);
  let gateway: MqttGateway | null = null;
  let broker: EmbeddedBroker | null = null;
  let brokerUrl = config.brokerUrl;
  let brokerProtocolVersion: 4 | 5 = 5;
  if (deps.gateway === undefined) {
    if (!existsSync(config.serverKeyPath)) {
      throw new ServerError(
        ServerErrorCode.Config,
        `no server key at ${config.serverKeyPath}: devices only accept commands signed by a key of the root's server role (set UNIOTA_SERVER_KEY)`,
      );
    }
    const tls = config.brokerTlsDir === undefined ? undefined : readBrokerTls(config.brokerTlsDir, brokerUrl === '');
    if (brokerUrl === '' && tls?.embedded !== undefined) {
      // Production rules on the embedded broker: client certificates, CRL, per-device ACL.
      // Its denials become `broker.denied` events through the gateway, as mosquitto's do through its log.
      broker = await startSecureEmbeddedBroker({
        port: config.embeddedBrokerPort, serverUsername: tls.serverUsername, ...tls.embedded,
        onDenied: (d) => gateway?.recordBrokerDenial(d),
      });
      brokerUrl = broker.url;
      brokerProtocolVersion = broker.protocolVersion;
    } else if (brokerUrl === '') {
      // The default: an embedded broker, so one command runs a whole fleet.
      broker = await startEmbeddedBroker({ port: config.embeddedBrokerPort });
      brokerUrl = broker.url;
      brokerProtocolVersion = broker.protocolVersion;
    }
    gateway = new MqttGateway({
      brokerUrl,
      protocolVersion: brokerProtocolVersion,
      signer: signerFromPem(readFileSync(config.serverKeyPath, 'utf8')),
      blobs,
      transferMode: config.transferMode,
      ...(tls !== undefined ? { link: { tls: tls.client } } : {}),
      // Bound late: the root service lives in the app, created below over the database.
      roots: { rootsFor: (id) => app.roots?.rootsFor(id), noteDeviceRoot: (id, v) => app.roots?.noteDeviceRoot(id, v) },
    });
  }
  const db = openDb({ path: config.dbPath });
  const app = createServerApp({
    db,
    gateway: deps.gateway ?? gateway ?? noTransportGateway,
    blobs,
    // Uploads verify against the newest root of the chain (a rotation may bring new images keys).
    verifyImage: (bundle) => rootBundleVerifier(app.roots?.current() ?? root, () => new Date())(bundle),
    trustRoot: root,
    admission: config.admission,
    ...(config.devSigningKeyPath !== undefined ? { devSigner: signerFromPem(readFileSync(config.devSigningKeyPath, 'utf8')) } : {}),
  });
  // No default password: on a server without accounts, a one-time token that
  // creates the first admin (console "first setup", or `uniota user create`).
  const setupToken = new AuthService(db, Date.now).users.count() === 0 ? newSetupToken() : undefined;
  const http = await build({
    app, logger: { level: config.logLevel }, maxBundleBytes: config.maxBundleBytes,
    ...(https !== undefined ? { https } : {}),
    ...(setupToken !== undefined ? { auth: { setupToken } } : {}),
  });
  if (setupToken !== undefined) {
    process.stderr.write(`no operator accounts yet: open the console and use setup token ${setupToken} to create the first admin (or run \`uniota user create --role admin\`)\n`);
  }
  if (https === undefined && !['127.0.0.1', '::1', 'localhost'].includes(config.host)) {
    http.log.warn(`plain HTTP on ${config.host}: passwords, tokens and session cookies cross the network in clear; set UNIOTA_HTTPS_CERT and UNIOTA_HTTPS_KEY (docs/production.md)`);
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
  await gateway?.start(app.engine);
  const address = await listen(http, { host: config.host, port: config.port });
  return {
    app, http, address, brokerUrl, brokerProtocolVersion, gateway,
    async close() {
      clearInterval(timer);
      await http.close();
      await gateway?.stop();
      await broker?.close();
      db.close();
    },
  };
}
