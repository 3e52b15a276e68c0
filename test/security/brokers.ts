import { connect as tlsConnect } from 'node:tls';
import mqtt, { type MqttClient } from 'mqtt';
import { startSecureEmbeddedBroker, SERVER_FILTER, type BrokerDenial } from '@uniota/protocol';
import { startSecureMosquitto } from '../helpers/mosquitto.ts';
import type { Identity, SecurityPki } from './pki-fixture.ts';

/** A broker started with the production security settings, as the suite sees it. */
export interface BrokerUnderTest {
  name: 'mosquitto' | 'embedded';
  url: string;
  protocolVersion: 4 | 5;
  /** Denials the broker reported itself (embedded only; mosquitto logs them). */
  denials: BrokerDenial[];
  /**
   * What the broker recorded, one line each, in order: mosquitto's log lines,
   * or the embedded broker's denials as JSON. Where an operator sees a refusal.
   * (Absent for a broker the test did not start through startBroker.)
   */
  records?: () => string[];
  /**
   * Where the broker's own denial reports go (the embedded broker's onDenied
   * hook, as update-server/src/server.ts wires it to the gateway). mosquitto
   * has no hook: its ACL plugin logs denials, which the gateway reads on $SYS.
   */
  forwardDenials?(to: (d: BrokerDenial) => void): void;
  stop(): Promise<void>;
}

/** Starts real mosquitto with the generated config, or the embedded aedes broker, both with the suite PKI. */
export async function startBroker(kind: BrokerUnderTest['name'], pki: SecurityPki): Promise<BrokerUnderTest> {
  const denials: BrokerDenial[] = [];
  let forward: ((d: BrokerDenial) => void) | undefined;
  if (kind === 'mosquitto') {
    const m = await startSecureMosquitto({
      deviceCaPem: pki.deviceCa.certPem,
      brokerCertPem: pki.broker.certPem,
      brokerKeyPem: pki.broker.keyPem,
      crlPem: pki.crlPem,
      serverUsername: pki.server.name,
    });
    return {
      name: kind, url: m.url, protocolVersion: 5, denials, records: () => m.log().split('\n').filter((l) => l !== ''),
      forwardDenials: () => undefined,
      stop: () => m.stop(),
    };
  }
  const b = await startSecureEmbeddedBroker({
    deviceCaPem: pki.deviceCa.certPem,
    certPem: pki.broker.certPem,
    keyPem: pki.broker.keyPem,
    crlPem: pki.crlPem,
    serverUsername: pki.server.name,
    onDenied: (d) => {
      denials.push(d);
      forward?.(d);
    },
  });
  return {
    name: kind, url: b.url, protocolVersion: 4, denials, records: () => denials.map((d) => JSON.stringify(d)),
    forwardDenials: (to) => (forward = to),
    stop: () => b.close(),
  };
}

/** Outcome of one connection attempt. */
export type ConnectResult = { ok: true; client: MqttClient } | { ok: false; error: string };

/** One MQTT connection with no reconnects, so a refusal is observed once and reported. */
export function connectAs(b: BrokerUnderTest, pki: SecurityPki, who: Identity | null, clientId?: string): Promise<ConnectResult> {
  return new Promise((resolve) => {
    const c = mqtt.connect(b.url, {
      clientId: clientId ?? who?.name ?? 'anonymous',
      protocolVersion: b.protocolVersion,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ca: pki.brokerCa.certPem,
      ...(who !== null ? { cert: who.certPem, key: who.keyPem } : {}),
    });
    const fail = (e: unknown) => {
      c.end(true);
      resolve({ ok: false, error: e instanceof Error ? e.message : String(e) });
    };
    c.once('connect', () => resolve({ ok: true, client: c }));
    c.once('error', fail);
    c.once('close', () => fail('connection closed'));
  });
}

/** Connects or throws (for the legitimate parties of a scenario). */
export async function mustConnect(b: BrokerUnderTest, pki: SecurityPki, who: Identity, clientId?: string): Promise<MqttClient> {
  const r = await connectAs(b, pki, who, clientId);
  if (!r.ok) throw new Error(`${who.name} could not connect to ${b.name}: ${r.error}`);
  return r.client;
}

/** Records every message a client receives. */
export function record(c: MqttClient): Array<{ topic: string; payload: string }> {
  const got: Array<{ topic: string; payload: string }> = [];
  c.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
  return got;
}

/** The server's observer: subscribed to the whole tree, recording everything. */
export async function serverObserver(b: BrokerUnderTest, pki: SecurityPki): Promise<{ client: MqttClient; got: Array<{ topic: string; payload: string }> }> {
  const client = await mustConnect(b, pki, pki.server, 'uniota-server-observer');
  const got = record(client);
  await client.subscribeAsync(SERVER_FILTER, { qos: 1 });
  return { client, got };
}

/** Opens a TLS connection with a valid device certificate and writes raw bytes; resolves with whether the broker closed it. */
export function rawTls(b: BrokerUnderTest, pki: SecurityPki, who: Identity, bytes: Buffer, waitMs = 1500): Promise<'closed' | 'open'> {
  const { port } = new URL(b.url);
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: Number(port), ca: pki.brokerCa.certPem, cert: who.certPem, key: who.keyPem }, () => s.write(bytes));
    const timer = setTimeout(() => {
      s.destroy();
      resolve('open');
    }, waitMs);
    s.on('error', () => undefined);
    s.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
  });
}

/** Resolves after `ms` (windows in which nothing may arrive). */
export const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
