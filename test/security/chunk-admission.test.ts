import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { deviceTopic, imageChunksTopic } from '@uniota/protocol';
import { loadConfig, startServer, type RunningServer } from '@uniota/update-server';
import { makeBundle, makeTrust, TEST_HARDWARE } from '../helpers/fixtures.ts';
import { until } from '../helpers/until.ts';
import { mustConnect, record, settle, startBroker, type BrokerUnderTest } from './brokers.ts';
import { makeSecurityPki, type SecurityPki } from './pki-fixture.ts';

// A device that is not admitted (pending, rejected) asks the server's gateway
// for chunks of an image that is being served: nothing may be published for
// it, and the refusal is counted. An accepted device asking for the same
// chunks gets them. The real `uniota server` wiring on both production
// brokers: the embedded one the server starts itself (client certificates,
// CRL, ACL hooks), and real mosquitto with the generated config, which the
// server reaches as an external broker with its own client certificate.

const trust = makeTrust();

const hello = (id: string) =>
  JSON.stringify({ v: 1, deviceId: id, hardware: TEST_HARDWARE, agentVersion: '1', runningSlot: 'a', slots: { a: { version: '1.0.0', bootable: true }, b: { version: null, bootable: false } }, lastCommandSeq: 0 });

const request = (imageId: string, mode: 'unicast' | 'fanout') => JSON.stringify({ v: 1, imageId, mode, next: 0, want: [0, 1, 2, 3] });

describe.each(['mosquitto', 'embedded'] as const)('chunk requests and device admission (%s broker)', (kind) => {
  let pki: SecurityPki;
  let server: RunningServer;
  let b: BrokerUnderTest;
  const clients: MqttClient[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'uniota-chunk-admission-'));
  const tlsDir = join(dataDir, 'tls');

  beforeAll(async () => {
    pki = makeSecurityPki();
    writeFileSync(join(dataDir, 'root.json'), JSON.stringify(trust.rootDoc));
    writeFileSync(join(dataDir, 'server.key'), trust.serverKeyPem);
    // The server's client identity; the broker's own files only when it starts the embedded broker.
    const files: Record<string, string> = {
      'broker-ca.pem': pki.brokerCa.certPem,
      'uniota-server.pem': pki.server.certPem,
      'uniota-server.key': pki.server.keyPem,
      ...(kind === 'embedded'
        ? { 'devices-ca.pem': pki.deviceCa.certPem, 'broker.pem': pki.broker.certPem, 'broker.key': pki.broker.keyPem, 'crl.pem': pki.crlPem }
        : {}),
    };
    mkdirSync(tlsDir);
    for (const [n, text] of Object.entries(files)) writeFileSync(join(tlsDir, n), text);
    const external = kind === 'mosquitto' ? await startBroker('mosquitto', pki) : null;
    server = await startServer(
      loadConfig({}, { dataDir, port: 0, embeddedBrokerPort: 0, logLevel: 'silent', tickMs: 50, brokerTlsDir: tlsDir, admission: 'required', ...(external === null ? {} : { brokerUrl: external.url }) }),
    );
    b = external ?? { name: 'embedded', url: server.brokerUrl, protocolVersion: 4, denials: [], stop: async () => undefined };
  }, 30_000);
  afterAll(async () => {
    for (const c of clients) await c.endAsync(true);
    await server?.close();
    await b?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a pending or rejected device gets no chunk; an accepted device asking for the same chunks gets them', async () => {
    const devA = await mustConnect(b, pki, pki.devices.a);
    const devB = await mustConnect(b, pki, pki.devices.b);
    clients.push(devA, devB);
    const gotA = record(devA);
    const gotB = record(devB);
    const engine = server.app.engine;

    // Both register; admission is required, so both start pending. Only B is accepted.
    await devA.publishAsync(deviceTopic('hello', 'dev-a'), hello('dev-a'), { qos: 1 });
    await devB.publishAsync(deviceTopic('hello', 'dev-b'), hello('dev-b'), { qos: 1 });
    await until('both devices registered', () => engine.admission.state('dev-a') === 'pending' && engine.admission.state('dev-b') === 'pending');
    engine.setAdmission('dev-b', 'accept', 'test');

    // A campaign offers the image to B, so the gateway is serving it.
    const imageId = server.app.images.upload(makeBundle(trust, { version: '2.0.0', behaviour: 'ok', securityCounter: 2, size: 16 * 1024, chunkSize: 1024 }), 'test').id;
    await devA.subscribeAsync([deviceTopic('chunk-data', 'dev-a'), imageChunksTopic(imageId)], { qos: 0 });
    await devB.subscribeAsync([deviceTopic('command', 'dev-b'), deviceTopic('chunk-data', 'dev-b')], { qos: 1 });
    engine.createCampaign({ name: 'admission', imageId, target: { deviceIds: ['dev-b'] }, waves: { canary: 0, percents: [100] } }, 'test');
    await until('offer to dev-b', () => gotB.some((m) => m.topic === deviceTopic('command', 'dev-b')));
    expect(gotA).toEqual([]);

    // The pending device asks in both transfer modes: nothing is published.
    const refusedBefore = server.gateway!.rejections.total();
    await devA.publishAsync(deviceTopic('chunk-request', 'dev-a'), request(imageId, 'unicast'), { qos: 1 });
    await devA.publishAsync(deviceTopic('chunk-request', 'dev-a'), request(imageId, 'fanout'), { qos: 1 });
    await until('both refusals counted', () => server.gateway!.rejections.total() >= refusedBefore + 2, 10_000);
    await settle(500);
    expect(gotA).toEqual([]);
    expect(server.gateway!.chunks.stats.publishes).toBe(0);
    expect(engine.admission.refusedCount('dev-a')).toBe(2);

    // Rejected: still nothing.
    engine.setAdmission('dev-a', 'reject', 'test');
    await devA.publishAsync(deviceTopic('chunk-request', 'dev-a'), request(imageId, 'unicast'), { qos: 1 });
    await until('refusal counted', () => server.gateway!.rejections.total() >= refusedBefore + 3, 10_000);
    await settle(300);
    expect(gotA).toEqual([]);
    expect(server.gateway!.chunks.stats.publishes).toBe(0);

    // The accepted device asking for the very same chunks gets all four.
    await devB.publishAsync(deviceTopic('chunk-request', 'dev-b'), request(imageId, 'unicast'), { qos: 1 });
    await until('four chunks to dev-b', () => gotB.filter((m) => m.topic === deviceTopic('chunk-data', 'dev-b')).length === 4);
    expect(server.gateway!.chunks.stats.unicastPublishes).toBe(4);
    expect(gotA).toEqual([]);
    expect(engine.admission.refusedCount('dev-b')).toBe(0);
  }, 30_000);
});
