import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signerFromPem } from '@uniota/image';
import { UBootEnvStore } from '@uniota/boot-control';
import { NetworkedSimDevice, SimDevice, provisionSimDisk, smallDeviceSpec } from '@uniota/device-agent';
import { loadConfig, memoryBlobStore, startServer, type RunningServer } from '@uniota/update-server';
import { MqttGateway } from '../../update-server/src/gateway/mqtt-gateway.ts';
import type { BrokerDenial } from '@uniota/protocol';
import { makeBundle, makeTrust, TEST_HARDWARE } from '../helpers/fixtures.ts';
import { until } from '../helpers/until.ts';
import { connectAs, mustConnect, rawTls, record, settle, startBroker, type BrokerUnderTest } from './brokers.ts';
import { makeSecurityPki, type Identity, type SecurityPki } from './pki-fixture.ts';
import { publishTablePart } from './attack-table.ts';

/**
 * MQTT attacks against BOTH brokers running the production security rules
 * (real mosquitto with the generated config; the embedded aedes broker with
 * its TLS + ACL hooks). The victim is device B: a real agent on a simulated
 * device (own disk, bootloader, boot env) connected with its certificate, and
 * a real update server (SQLite, the MQTT gateway) on the same broker. Every
 * case ends with the attack suite's checks where they mean something:
 *
 *  1. refused (the case's own assertion: TLS alert, SUBACK 0x80, closed connection);
 *  2./3. B's running slot, committed image and boot env are as before (no trial armed);
 *  4. the server is unchanged: B's row (online, version, slot), actions,
 *     events, and its gateway saw no hello, report or dropped message (so no
 *     forged message reached it and B's session never dropped); B still
 *     receives what the server sends it (a signed no-op cancel, journaled);
 *  5. the refusal is recorded where an operator sees it: an ACL denial as a
 *     `broker.denied` event in the server's events on both brokers (the
 *     embedded broker's denial hook feeds the gateway, as in server.ts;
 *     mosquitto's uniota ACL plugin logs it on $SYS/broker/log/W, which the
 *     gateway reads); anything else in mosquitto's log (its default log
 *     types) or the embedded broker's denial hook.
 *
 * The real server's gateway is the server side here: mosquitto gives one
 * session per identity (`use_username_as_clientid`), so a second server-role
 * observer would take the gateway's session over.
 */

const rows: Array<{ broker: string; attack: string; expected: string; observed: string }> = [];
let pki: SecurityPki;

beforeAll(() => {
  pki = makeSecurityPki();
});

afterAll(() => {
  // Reported into issue #6's one attack table (see attack-table.ts).
  const md = publishTablePart('mqtt', rows.map((r) => ({ cls: `MQTT (${r.broker})`, attack: r.attack, expected: r.expected, observed: r.observed })));
  console.log(`\n${md}`);
});

const D = 'uniota/v1/devices';

// The TLS alert or MQTT reason, short enough for the table.
function brief(error: string): string {
  const alert = /alert ([a-z ]+)/i.exec(error);
  return alert ? `TLS alert: ${alert[1]!.trim()}` : error.slice(0, 60);
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await settle(20);
  }
  return true;
}

function closed(c: MqttClient): Promise<'closed'> {
  return new Promise((r) => (c.connected ? c.once('close', () => r('closed')) : r('closed')));
}

const trust = makeTrust();
const B = 'dev-b';

/**
 * What an operator sees of each refusal, per broker: one new line of
 * `b.records()` must match. `null`: that broker leaves nothing at its
 * default log levels; the row says so instead of asserting a record.
 * (ACL denials are checked as server events instead, see deniedEvent.)
 */
type Recorded = Record<BrokerUnderTest['name'], RegExp | null>;
const TLS_REFUSED: Recorded = { mosquitto: /^OpenSSL Error\[0\]: .*(certificate|alert)/, embedded: /^\{"kind":"tls"/ };
const BAD_CLIENT_ID: Recorded = { mosquitto: null, embedded: /^\{"kind":"connect","reason":"bad-client-id"/ };
const PROTOCOL_ERROR: Recorded = { mosquitto: /^Client <unknown> disconnected due to protocol error\.$/, embedded: /^\{"kind":"malformed"/ };
const OVERSIZED: Recorded = { mosquitto: /^Client (<unknown>|dev-a) disconnected due to oversize packet\.$/, embedded: /^\{"kind":"oversized"/ };

describe.each(['mosquitto', 'embedded'] as const)('MQTT attacks on the %s broker', (kind) => {
  let b: BrokerUnderTest;
  let updateServer: RunningServer;
  let gateway: MqttGateway;
  let victim: NetworkedSimDevice;
  let victimEnv: () => Promise<Record<string, string>>;
  const dataDir = mkdtempSync(join(tmpdir(), 'uniota-mqtt-attacks-'));
  let before: Snapshot;
  let recordsBefore = 0;
  let eventsBefore = 0;
  let probe = 0;

  beforeAll(async () => {
    b = await startBroker(kind, pki);
    // The real server, its gateway on this broker with the server's certificate.
    writeFileSync(join(dataDir, 'root.json'), JSON.stringify(trust.rootDoc));
    writeFileSync(join(dataDir, 'server.key'), trust.serverKeyPem);
    gateway = new MqttGateway({
      brokerUrl: b.url,
      protocolVersion: b.protocolVersion,
      signer: signerFromPem(trust.serverKeyPem),
      blobs: memoryBlobStore(),
      link: { tls: { ca: pki.brokerCa.certPem, cert: pki.server.certPem, key: pki.server.keyPem } },
    });
    updateServer = await startServer(loadConfig({}, { dataDir, port: 0, logLevel: 'silent', tickMs: 50 }), { gateway });
    await gateway.start(updateServer.app.engine);
    // As update-server/src/server.ts wires its embedded broker (mosquitto: through its log on $SYS instead).
    b.forwardDenials?.((d) => gateway.recordBrokerDenial(d));
    // Device B: a real agent on a factory-fresh simulated device (slot A, v1.0.0).
    const spec = smallDeviceSpec(trust.root, TEST_HARDWARE);
    const { disk, layout } = await provisionSimDisk(spec, makeBundle(trust, { version: '1.0.0', behaviour: 'ok' }));
    victim = new NetworkedSimDevice(new SimDevice(disk, spec, layout), {
      deviceId: pki.devices.b.name,
      brokerUrl: b.url,
      protocolVersion: b.protocolVersion,
      link: { tls: { ca: pki.brokerCa.certPem, cert: pki.devices.b.certPem, key: pki.devices.b.keyPem } },
    });
    const envStore = new UBootEnvStore(disk, { offsets: layout.envOffsets, envSize: layout.envSize });
    victimEnv = async () => Object.fromEntries((await envStore.read())?.vars ?? new Map<string, string>());
    await victim.powerOn();
    await until('server knows dev-b online', () => deviceRow()?.current_version === '1.0.0' && deviceRow()?.online === 1, 10_000);
    // The agent says hello on connect and again once its start-up step ran: let both arrive before the first snapshot.
    await victim.service?.idle();
    await until('both hellos of dev-b', () => gateway.stats.hellos >= 2, 10_000);
    await settle(300);
  }, 30_000);

  afterAll(async () => {
    await victim?.powerOff();
    await gateway?.stop();
    await updateServer?.close();
    await b?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  interface Snapshot {
    boots: number;
    committed: string;
    env: Record<string, string>;
    server: string;
  }

  function deviceRow(): { current_version: string | null; booted_slot: string | null; online: number } | undefined {
    return updateServer.app.db.prepare('SELECT current_version, booted_slot, online FROM devices WHERE id = ?').get(B) as
      | { current_version: string | null; booted_slot: string | null; online: number }
      | undefined;
  }

  async function snapshot(): Promise<Snapshot> {
    const one = (sql: string) => (updateServer.app.db.prepare(sql).get() as { n: number }).n;
    return {
      boots: victim.boots,
      committed: JSON.stringify(victim.service?.agent.state.committed ?? null),
      env: await victimEnv(),
      server: JSON.stringify({
        device: deviceRow(),
        devices: one('SELECT COUNT(*) AS n FROM devices'),
        actions: one('SELECT COUNT(*) AS n FROM actions'),
        // The record of the refusal itself (check 5) is the one event an attack may add.
        events: one("SELECT COALESCE(MAX(id), 0) AS n FROM events WHERE type != 'broker.denied'"),
        hellos: gateway.stats.hellos,
        reports: gateway.stats.reportsIngested + gateway.stats.reportsIgnored,
        dropped: gateway.rejections.total(),
      }),
    };
  }

  /** Sends B a signed no-op (a cancel of no action of B's) and waits until B journaled it: B still gets the server's commands. */
  async function reachB(): Promise<void> {
    const agent = victim.service?.agent;
    if (agent === undefined) return expect.fail('victim agent is not running');
    const seq = agent.lastCommandSeq;
    await gateway.sendCancel({ deviceId: B, campaignId: 0, actionId: 900_000 + ++probe, attempt: 1 });
    expect(await waitFor(() => agent.lastCommandSeq > seq), 'dev-b still receives the server commands').toBe(true);
  }

  // Every case starts from a snapshot of the victim and the server.
  beforeEach(async () => {
    before = await snapshot();
    recordsBefore = b.records?.().length ?? 0;
    eventsBefore = (updateServer.app.db.prepare('SELECT COALESCE(MAX(id), 0) AS n FROM events').get() as { n: number }).n;
  });

  /** Checks 2-4 (then that B is still reachable), and 5: returns the record line the refusal left, for the table. */
  async function assertNothingChanged(recorded: Recorded | null): Promise<string> {
    await settle(200);
    const after = await snapshot();
    expect(after.boots, 'dev-b rebooted').toBe(before.boots);
    expect(before.committed).not.toBe('null');
    expect(after.committed, 'dev-b committed image').toBe(before.committed);
    expect(before.env['boot_part']).toMatch(/^[AB]$/);
    for (const v of ['boot_part', 'upgrade_available', 'bootcount']) expect(after.env[v], `dev-b env ${v}`).toBe(before.env[v]);
    expect(after.server, 'server state').toBe(before.server);
    await reachB();
    if (recorded === null) return '';
    const pattern = recorded[kind];
    if (pattern === null) return 'NOTHING';
    const fresh = () => (b.records?.() ?? []).slice(recordsBefore);
    let line: string | undefined;
    await waitFor(() => (line = fresh().find((l) => pattern.test(l))) !== undefined);
    expect(line, `${kind} recorded the refusal (${pattern}); new lines: ${fresh().join(' / ')}`).toBeDefined();
    return line ?? '';
  }

  /**
   * Check 5 for an ACL denial, on both brokers: exactly the attacker's
   * request, under its identity, is a new `broker.denied` event of the server.
   */
  async function deniedEvent(denial: BrokerDenial): Promise<string> {
    const want = JSON.stringify(denial);
    const find = () =>
      (updateServer.app.db.prepare("SELECT device_id, data FROM events WHERE type = 'broker.denied' AND id > ?").all(eventsBefore) as { device_id: string | null; data: string }[]).find(
        (r) => r.device_id === 'dev-a' && r.data === want,
      );
    await waitFor(() => find() !== undefined);
    const got = find();
    const all = updateServer.app.db.prepare("SELECT device_id, data FROM events WHERE type = 'broker.denied' AND id > ?").all(eventsBefore);
    expect(got, `a broker.denied event of dev-a with ${want}; new ones: ${JSON.stringify(all)}`).toBeDefined();
    return `EVENT broker.denied ${got?.data ?? ''}`;
  }

  function row(attack: string, expected: string, observed: string, recordLine: string): void {
    const rec =
      recordLine === ''
        ? ''
        : recordLine === 'NOTHING'
          ? `; not recorded: the broker logs this only at debug level, the attacker alone sees the refusal`
          : recordLine.startsWith('EVENT ')
            ? `; recorded in server events (${kind === 'mosquitto' ? 'from the uniota ACL plugin log on $SYS/broker/log/W' : 'from the embedded broker denial hook'}): ${recordLine.slice(6).slice(0, 140)}`
            : `; recorded by the ${kind === 'mosquitto' ? 'mosquitto log' : 'embedded broker denial hook'}: ${recordLine.trim().slice(0, 140)}`;
    rows.push({ broker: kind, attack, expected, observed: `${observed}; dev-b slots, boot env and server state unchanged${rec}` });
  }

  it.each<[string, () => Identity | null, Recorded]>([
    ['anonymous connect (no client certificate)', () => null, TLS_REFUSED],
    ['certificate from a CA the broker does not trust', () => pki.rogue, TLS_REFUSED],
    ['revoked certificate', () => pki.devices.revoked, TLS_REFUSED],
  ])('refuses %s', async (attack, who, recorded) => {
    const r = await connectAs(b, pki, who());
    expect(r.ok).toBe(false);
    row(attack, 'connection refused', r.ok ? 'CONNECTED' : brief(r.error), await assertNothingChanged(recorded));
  });

  it('does not deliver device A publishing status as device B', async () => {
    const a = await mustConnect(b, pki, pki.devices.a);
    const outcome = await Promise.race([
      a.publishAsync(`${D}/${B}/status`, '{"v":1,"forged":true}', { qos: 1 }).then(
        () => 'PUBACK ok',
        (e: Error) => `PUBACK refused (${e.message.replace('Publish error: ', '')})`,
      ),
      closed(a).then(() => 'connection closed by broker'),
      settle(3000).then(() => 'no answer'),
    ]);
    expect(outcome).not.toBe('PUBACK ok');
    await a.endAsync(true);
    // Had it been delivered, the gateway would have dropped it as a bad report (counted): the snapshot says it saw nothing.
    await assertNothingChanged(null);
    const recorded = await deniedEvent({ kind: 'publish', username: 'dev-a', topic: `${D}/${B}/status` });
    row('device A publishes status as device B', 'refused, server sees nothing', `${outcome}; the server's gateway received nothing`, recorded);
  });

  it.each([
    ['device A subscribes to #', '#'],
    ['device A subscribes to B commands', `${D}/${B}/cmd`],
    ['device A subscribes to $share/... of B', `$share/g/${D}/${B}/cmd`],
    ['device A subscribes to $share/g/#', '$share/g/#'],
    ['device A subscribes to every device (+)', `${D}/+/cmd`],
  ])('gives nothing to: %s', async (attack, filter) => {
    const a = await mustConnect(b, pki, pki.devices.a);
    const gotA = record(a);
    const granted = await a.subscribeAsync(filter, { qos: 1 }).then(
      (g) => g.map((x) => x.qos).join(','),
      // MQTT.js rejects a SUBACK that carries a failure code instead of returning it: 0x80 (3.1.1), 0x87 (5).
      (e: Error) => (/Unspecified error/.test(e.message) ? '128' : /Not authorized/.test(e.message) ? '135' : `error ${e.message}`),
    );
    // Refused outright on both brokers (mosquitto's file ACL used to grant it and filter on delivery).
    expect(granted).toMatch(/^(128|135)$/);
    // A command for B (B journals it, so it was delivered to B while A listened).
    await reachB();
    await settle(200);
    const leaked = gotA.filter((m) => m.topic.includes(B));
    expect(leaked).toEqual([]);
    const suback = granted === '128' ? 'SUBACK 0x80 (denied)' : 'SUBACK 0x87 (not authorized)';
    await a.endAsync(true);
    await assertNothingChanged(null);
    const recorded = await deniedEvent({ kind: 'subscribe', username: 'dev-a', filter });
    row(attack, 'nothing of B delivered', `${suback}; received ${leaked.length} of B's messages`, recorded);
  });

  it.each([
    ['client id with + and #', 'dev-a+#'],
    ['client id #', '#'],
    ['client id of another device (session takeover)', B],
  ])('neutralises %s', async (attack, clientId) => {
    // A legitimate session of dev-a first: if the broker replaces the client
    // id by the certificate identity, the attacker's login replaces THIS one.
    const a1 = await mustConnect(b, pki, pki.devices.a);
    const r = await connectAs(b, pki, pki.devices.a, clientId);
    let observed: string;
    let recorded: Recorded | null = null;
    if (r.ok) {
      const gotA = record(r.client);
      await r.client.subscribeAsync('#', { qos: 1 }).catch(() => undefined);
      await reachB();
      await settle(300);
      const a1Replaced = await waitFor(() => !a1.connected, 1000);
      expect(gotA.filter((m) => m.topic.includes(B))).toEqual([]);
      // The id was replaced by the identity: the attacker's login took over dev-a's own session.
      expect(a1Replaced).toBe(true);
      observed = `accepted as "dev-a" (id replaced by CN; took over dev-a's own session), 0 of B's messages`;
      await r.client.endAsync(true);
    } else {
      observed = `refused (${r.error.slice(0, 50)})`;
      recorded = BAD_CLIENT_ID;
    }
    await a1.endAsync(true);
    row(attack, 'refused or replaced by certificate CN', observed, await assertNothingChanged(recorded));
  });

  it.each<[string, Buffer, Recorded]>([
    ['malformed packet (reserved type 0)', Buffer.from([0x00, 0x00]), PROTOCOL_ERROR],
    ['malformed CONNECT (garbage protocol name)', Buffer.from([0x10, 0x06, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef]), PROTOCOL_ERROR],
    // The embedded broker's size guard reads the 5th length byte as a size beyond its limit.
    ['remaining length with 5 bytes', Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]), { mosquitto: PROTOCOL_ERROR.mosquitto, embedded: OVERSIZED.embedded }],
    ['header announcing a 200 MiB packet', Buffer.from([0x10, 0x80, 0x80, 0x80, 0x64]), OVERSIZED],
  ])('drops the connection on %s', async (attack, bytes, recorded) => {
    const outcome = await rawTls(b, pki, pki.devices.a, bytes);
    expect(outcome).toBe('closed');
    row(attack, 'connection closed, broker unaffected', `connection ${outcome}`, await assertNothingChanged(recorded));
  });

  it('drops an oversized PUBLISH (2 MiB) without delivering it', async () => {
    const a = await mustConnect(b, pki, pki.devices.a);
    const big = Buffer.alloc(2 * 1024 * 1024, 0x41);
    const outcome = await Promise.race([
      a.publishAsync(`${D}/dev-a/status`, big, { qos: 1 }).then(
        () => 'PUBACK ok',
        (e: Error) => (/connection closed/i.test(e.message) ? 'connection closed by broker' : `refused: ${e.message}`),
      ),
      closed(a).then(() => 'connection closed by broker'),
      settle(5000).then(() => 'no answer'),
    ]);
    expect(outcome).toBe('connection closed by broker');
    await a.endAsync(true);
    // Delivered, it would have reached the gateway (and been dropped as oversized, counted): the snapshot says nothing arrived.
    row('oversized PUBLISH (2 MiB)', 'connection closed, not delivered', `${outcome}; the server's gateway received nothing`, await assertNothingChanged(OVERSIZED));
  });

  it('still lets each party do its legitimate job', async () => {
    // Guards the suite itself: if everything were refused, every case above would pass.
    const a = await mustConnect(b, pki, pki.devices.a);
    const gotA = record(a);
    await a.subscribeAsync([`${D}/dev-a/cmd`, 'uniota/v1/images/img-1/chunks'], { qos: 1 });
    // A's own status reaches the server's gateway (not a valid report, so it is counted as dropped: but it arrived).
    const dropped = gateway.rejections.total();
    await a.publishAsync(`${D}/dev-a/status`, 'own-status', { qos: 1 });
    expect(await waitFor(() => gateway.rejections.total() > dropped)).toBe(true);
    await gateway.sendCancel({ deviceId: 'dev-a', campaignId: 0, actionId: 1, attempt: 1 });
    expect(await waitFor(() => gotA.some((m) => m.topic === `${D}/dev-a/cmd`))).toBe(true);
    await reachB();
    rows.push({ broker: kind, attack: 'legitimate device and server traffic (control)', expected: 'delivered', observed: 'delivered (device status to the server gateway, signed commands to device A and device B)' });
    await a.endAsync(true);
  });
}, 60_000);
