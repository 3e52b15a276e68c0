import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { ProtocolError, ProtocolErrorCode } from '../errors.ts';
import { isValidId } from '../topics.ts';
import { aclAllows } from './acl.ts';
import { PacketSizeGuard } from './packet-size-guard.ts';

/** Why the secure broker turned something away (for counters and tests). */
export type BrokerDenial =
  | { kind: 'connect'; reason: 'no-identity' | 'bad-client-id'; clientId: string }
  | { kind: 'publish'; username: string; topic: string }
  | { kind: 'subscribe'; username: string; filter: string }
  | { kind: 'oversized'; username: string | undefined }
  /** A TLS handshake that failed (no certificate, unknown CA, revoked): it never reaches MQTT. */
  | { kind: 'tls'; reason: string }
  /** A connection closed on a packet aedes could not parse. */
  | { kind: 'malformed'; username: string | undefined; reason: string };

/** Options of startSecureEmbeddedBroker. */
export interface SecureBrokerOptions {
  port?: number;
  host?: string;
  /** The device CA (PEM): the only CA whose client certificates are accepted. */
  deviceCaPem: string;
  /** The broker's certificate and key (PEM). */
  certPem: string;
  keyPem: string;
  /** CRL of the device CA (PEM), checked at every handshake. */
  crlPem?: string;
  /** CN of the update server's certificate: the one account with full access. */
  serverUsername: string;
  /** Largest MQTT packet accepted; default 1 MiB, like the generated mosquitto config. */
  maxPacketSize?: number;
  onDenied?: (denial: BrokerDenial) => void;
}

/** A running TLS embedded broker. */
export interface SecureEmbeddedBroker {
  /** mqtts://host:port */
  url: string;
  port: number;
  protocolVersion: 4;
  /** Replaces the CRL for new handshakes (revocation without a restart; live sessions are not touched). */
  setCrl(crlPem: string): void;
  close(): Promise<void>;
}

const NOT_AUTHORIZED = 5;
const IDENTIFIER_REJECTED = 2;

function authError(message: string, code: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: code }) as AuthenticateError;
}

// The verified certificate's CN; TLS already refused unknown CAs and revoked certs.
function identityOf(client: Client): string | undefined {
  const sock = client.conn as TLSSocket;
  if (typeof sock.getPeerCertificate !== 'function' || !sock.authorized) return undefined;
  const cn = sock.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' ? cn : undefined;
}

/**
 * The embedded aedes broker with the production rules of the generated
 * mosquitto config: TLS 1.2+ with client certificates from the device CA
 * only (plus CRL), the certificate CN as the identity (any username the
 * client sends is ignored), and the shared ACL table (acl.ts) on every
 * publish, subscribe and forwarded message. A device must connect with its
 * own id as client id, so it can neither take over another device's session
 * nor smuggle `+`/`#` into one.
 */
export async function startSecureEmbeddedBroker(o: SecureBrokerOptions): Promise<SecureEmbeddedBroker> {
  const host = o.host ?? '127.0.0.1';
  const maxPacket = o.maxPacketSize ?? 1024 * 1024;
  const identities = new WeakMap<Client, string>();
  const acl = { serverUsername: o.serverUsername };
  const denied = (d: BrokerDenial) => o.onDenied?.(d);

  const aedes = await Aedes.createBroker({
    authenticate: (client, _username, _password, done) => {
      const id = identityOf(client);
      if (id === undefined) {
        denied({ kind: 'connect', reason: 'no-identity', clientId: client.id });
        return done(authError('no verified client certificate', NOT_AUTHORIZED), false);
      }
      const clientIdOk = id === o.serverUsername ? isValidId(client.id) : client.id === id;
      if (!clientIdOk) {
        denied({ kind: 'connect', reason: 'bad-client-id', clientId: client.id });
        return done(authError('client id must be the certificate identity', IDENTIFIER_REJECTED), false);
      }
      identities.set(client, id);
      done(null, true);
    },
    authorizePublish: (client, packet, cb) => {
      // client is null for broker-internal publishes (e.g. $SYS): allowed.
      if (client === null) return cb(null);
      const who = identities.get(client) ?? '';
      if (aclAllows(who, 'write', packet.topic, acl)) return cb(null);
      denied({ kind: 'publish', username: who, topic: packet.topic });
      cb(new Error('not authorized'));
    },
    authorizeSubscribe: (client, sub, cb) => {
      const who = identities.get(client) ?? '';
      if (aclAllows(who, 'read', sub.topic, acl)) return cb(null, sub);
      denied({ kind: 'subscribe', username: who, filter: sub.topic });
      cb(null, null); // SUBACK 0x80 for this filter; the connection stays up
    },
    // Defence in depth: even a subscription that slipped through never
    // delivers a message the reader may not read.
    authorizeForward: (client, packet) => {
      const who = identities.get(client) ?? '';
      return aclAllows(who, 'read', packet.topic, acl) ? packet : null;
    },
  });

  const sockets = new Set<Socket>();
  let crl = o.crlPem;
  const tlsOptions = () => ({
    ca: o.deviceCaPem,
    cert: o.certPem,
    key: o.keyPem,
    ...(crl !== undefined ? { crl } : {}),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2' as const,
  });
  const server: Server = createServer(tlsOptions(), (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const client = aedes.handle(socket);
    // aedes has no packet size limit: check declared sizes before its parser buffers them.
    const guard = new PacketSizeGuard(maxPacket);
    const parser = (client as unknown as { _parser: { parse(b: Buffer): unknown } })._parser;
    const parse = parser.parse.bind(parser);
    parser.parse = (buf: Buffer) => {
      if (guard.feed(buf)) return parse(buf);
      denied({ kind: 'oversized', username: identities.get(client) });
      socket.destroy();
      return 0;
    };
  });
  // Failed handshakes (no cert, unknown CA, revoked) end here, not in aedes: reported, or an operator never sees them.
  server.on('tlsClientError', (err) => denied({ kind: 'tls', reason: (err as { code?: string }).code ?? err.message.slice(0, 120) }));
  aedes.on('connectionError', (client, err) => denied({ kind: 'malformed', username: identities.get(client), reason: err.message.slice(0, 120) }));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((r) => aedes.close(() => r()));
    throw new ProtocolError(ProtocolErrorCode.BROKER_START_FAILED, `cannot listen on ${host}:${o.port ?? 0}`, { cause: err, transient: true });
  }
  const port = (server.address() as AddressInfo).port;
  return {
    url: `mqtts://${host}:${port}`,
    port,
    protocolVersion: 4,
    setCrl: (crlPem) => {
      crl = crlPem;
      server.setSecureContext(tlsOptions());
    },
    close: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}
