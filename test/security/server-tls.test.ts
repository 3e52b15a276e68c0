import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '@uniota/protocol';
import { loadConfig, startServer, type RunningServer } from '@uniota/update-server';
import { trustSetup } from '../../update-server/src/test-helpers/http-fixture.ts';
import { until } from '../helpers/until.ts';
import { connectAs, type BrokerUnderTest } from './brokers.ts';
import { makeSecurityPki, type SecurityPki } from './pki-fixture.ts';

// `uniota server` with UNIOTA_BROKER_TLS_DIR: the embedded broker runs the
// production rules and the server's own gateway connects with its client
// certificate; a device with a certificate gets registered (pending, since
// admission is required), one without a certificate never reaches it.

let pki: SecurityPki;
let server: RunningServer;
const dataDir = mkdtempSync(join(tmpdir(), 'uniota-server-tls-'));
const tlsDir = join(dataDir, 'tls');

beforeAll(async () => {
  pki = makeSecurityPki();
  const trust = trustSetup(Date.now());
  writeFileSync(join(dataDir, 'root.json'), JSON.stringify(trust.root));
  writeFileSync(join(dataDir, 'server.key'), trust.serverKeyPem);
  const files: Record<string, string> = {
    'broker-ca.pem': pki.brokerCa.certPem,
    'uniota-server.pem': pki.server.certPem,
    'uniota-server.key': pki.server.keyPem,
    'devices-ca.pem': pki.deviceCa.certPem,
    'broker.pem': pki.broker.certPem,
    'broker.key': pki.broker.keyPem,
    'crl.pem': pki.crlPem,
  };
  mkdirSync(tlsDir);
  for (const [n, text] of Object.entries(files)) writeFileSync(join(tlsDir, n), text);
  server = await startServer(
    loadConfig({}, { dataDir, port: 0, embeddedBrokerPort: 0, logLevel: 'silent', tickMs: 50, brokerTlsDir: tlsDir, admission: 'required' }),
  );
}, 30_000);
afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const hello = (id: string) =>
  JSON.stringify({ v: 1, deviceId: id, hardware: 'board-a', agentVersion: '1', runningSlot: 'a', slots: { a: { version: '1.0.0', bootable: true }, b: { version: null, bootable: false } }, lastCommandSeq: 0 });

describe('update server over TLS with the secure embedded broker', () => {
  it('registers a device with a certificate as pending and never hears from one without', async () => {
    expect(server.brokerUrl).toMatch(/^mqtts:\/\//);
    const b: BrokerUnderTest = { name: 'embedded', url: server.brokerUrl, protocolVersion: 4, denials: [], stop: async () => undefined };
    expect((await connectAs(b, pki, null, 'dev-x')).ok).toBe(false);
    expect((await connectAs(b, pki, pki.devices.revoked)).ok).toBe(false);
    const a = await connectAs(b, pki, pki.devices.a);
    expect(a.ok).toBe(true);
    if (!a.ok) return;
    await a.client.publishAsync(deviceTopic('hello', 'dev-a'), hello('dev-a'), { qos: 1 });
    const end = Date.now() + 5000;
    while (server.app.engine.devices.get('dev-a') === undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
    expect(server.app.engine.devices.get('dev-a')?.admission).toBe('pending');
    expect(server.app.engine.devices.get('dev-x')).toBeUndefined();
    expect(server.app.engine.devices.get('dev-revoked')).toBeUndefined();
    // The two refused handshakes are server events (server.ts feeds the broker's denial hook to the gateway).
    const denied = server.app.db.prepare("SELECT device_id, data FROM events WHERE type = 'broker.denied'").all() as { device_id: string | null; data: string }[];
    expect(denied.filter((e) => e.device_id === null && (JSON.parse(e.data) as { kind: string }).kind === 'tls').length).toBeGreaterThanOrEqual(2);
    // A device's own ACL denial names it.
    await a.client.subscribeAsync(deviceTopic('command', 'dev-b'), { qos: 1 }).catch(() => undefined);
    await until('dev-a denial recorded', () => (server.app.db.prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'broker.denied' AND device_id = 'dev-a'").get() as { n: number }).n === 1, 5000);
    await a.client.endAsync(true);
  });
});
