/**
 * Resilience end to end over a real mosquitto: the server dies and comes back
 * on the same data dir, the broker restarts, a device loses its connection in
 * the middle of a download, and a rogue client sprays junk on every topic.
 * Each campaign must still finish with every device committed exactly once,
 * and junk must change nothing but the rejection counters.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MqttLink, RejectionCounter, TOPIC_ROOT, allDevicesFilter, deviceTopic, imageChunksTopic } from '@uniota/protocol';
import type { CommandEnvelope, StatusReport } from '@uniota/protocol';
import { loadConfig, startServer } from '@uniota/update-server';
import type { RunningServer } from '@uniota/update-server';
import { FleetSim } from '@uniota/device-agent';
import { startRestartableMosquitto } from '../helpers/restartable-mosquitto.ts';
import type { RestartableMosquitto } from '../helpers/restartable-mosquitto.ts';
import { makeBundle, makeTrust } from '../helpers/fixtures.ts';
import type { TrustFixture } from '../helpers/fixtures.ts';
import { until } from '../helpers/until.ts';

let broker: RestartableMosquitto;
let trust: TrustFixture;
let dir: string;
let server: RunningServer | null = null;
let fleet: FleetSim | null = null;
const links: MqttLink[] = [];

beforeAll(async () => {
  broker = await startRestartableMosquitto();
  trust = makeTrust();
});
afterAll(async () => {
  await broker?.stop();
});
afterEach(async () => {
  for (const l of links.splice(0)) await l.close().catch(() => undefined);
  await fleet?.stop();
  await server?.close();
  fleet = null;
  server = null;
  rmSync(dir, { recursive: true, force: true });
});


function boot(): Promise<RunningServer> {
  return startServer(loadConfig({}, { dataDir: dir, port: 0, brokerUrl: broker.url, tickMs: 100, logLevel: 'silent' }));
}

const deviceCount = (s: RunningServer) => (s.app.db.prepare('SELECT COUNT(*) AS n FROM devices').get() as { n: number }).n;

async function setUp(count: number): Promise<{ server: RunningServer; fleet: FleetSim }> {
  dir = mkdtempSync(join(tmpdir(), 'uniota-resilience-'));
  writeFileSync(join(dir, 'root.json'), JSON.stringify(trust.rootDoc));
  writeFileSync(join(dir, 'server.key'), trust.serverKeyPem);
  server = await boot();
  fleet = await FleetSim.create({
    count,
    brokerUrl: broker.url,
    root: trust.root,
    factoryBundle: makeBundle(trust, { version: '1.0.0', behaviour: 'ok', securityCounter: 1 }),
    transfer: { window: 8, requestTimeoutMs: 1000 },
  });
  await fleet.start();
  const s = server;
  await until('hellos from every device', () => deviceCount(s) === count);
  return { server: s, fleet };
}

/** A plain MQTT client on the same broker (spy or rogue); closed after the test. */
async function client(name: string, handlers: Parameters<typeof MqttLink.connect>[0]['handlers'] = {}, subscriptions: string[] = []): Promise<MqttLink> {
  const l = await MqttLink.connect({ url: broker.url, clientId: name, protocolVersion: 5, subscriptions, handlers, counter: new RejectionCounter() });
  links.push(l);
  return l;
}

const spec = (imageId: string, extra: Record<string, unknown> = {}) => ({
  name: 'resilience',
  imageId,
  target: { hardware: ['sim-board-1'] },
  waves: { canary: 2, percents: [50, 100] },
  concurrency: 100,
  timeoutMs: 30_000,
  retry: { maxAttempts: 5, baseDelayMs: 200 },
  abort: [{ failureType: 'all', thresholdPercent: 50, minFinished: 1, action: 'pause' }],
  ...extra,
});

function status(s: RunningServer, id: number) {
  return s.app.engine.status(id);
}

/**
 * The campaign is done, and done once: every device has one action row and it
 * succeeded, every agent's journal names this campaign's commit exactly once,
 * and every device runs the new version.
 */
function expectCommittedOnce(s: RunningServer, f: FleetSim, campaignId: number, version: string): void {
  const st = status(s, campaignId);
  expect(st.campaign.state).toBe('completed');
  expect(st.counts).toEqual({ succeeded: f.devices.length });
  const rows = s.app.db.prepare('SELECT device_id AS d, COUNT(*) AS n FROM actions WHERE campaign_id = ? GROUP BY device_id').all(campaignId) as { d: string; n: number }[];
  expect(rows.map((r) => r.d).sort()).toEqual(f.devices.map((d) => d.deviceId).sort());
  expect(rows.every((r) => r.n === 1)).toBe(true);
  expect(f.versions()).toEqual({ [version]: f.devices.length });
  for (const d of f.devices) {
    const history = d.service?.agent.state.history ?? [];
    // One A/B cycle per device. (A download that failed while the server was
    // away and was then retried is an honest extra entry, not a second commit;
    // so is a retried offer the agent answered as ALREADY_INSTALLED: it
    // acknowledges the image that runs, installing nothing.)
    const commits = history.filter((h) => h.campaignId === String(campaignId) && h.outcome === 'committed' && h.code !== 'ALREADY_INSTALLED');
    expect({ device: d.deviceId, commits: commits.length }).toEqual({ device: d.deviceId, commits: 1 });
  }
}

describe('resilience over mosquitto', () => {
  it('the server is killed mid-campaign and restarted on the same data dir: the campaign completes, each device committed once', async () => {
    const { server: s1, fleet: f } = await setUp(16);
    const imageId = s1.app.images.upload(makeBundle(trust, { version: '2.0.0', behaviour: 'ok', securityCounter: 2 }), 'e2e').id;
    const id = s1.app.engine.createCampaign(spec(imageId), 'e2e').campaign.id;
    // Kill it once the canary is through and the next wave is under way.
    await until('canary done, wave 1 started', () => {
      const st = status(s1, id);
      return (st.counts.succeeded ?? 0) >= 2 && st.campaign.currentWave >= 1;
    });
    await s1.close();
    server = null;
    // Devices keep going while nobody listens; reports sent now are lost.
    await new Promise((r) => setTimeout(r, 1500));
    const s2 = await boot();
    server = s2;
    await until('campaign completed after the restart', () => status(s2, id).campaign.state === 'completed', 90_000);
    expectCommittedOnce(s2, f, id, '2.0.0');
  }, 120_000);

  it('mosquitto is stopped and restarted on the same port mid-campaign: the campaign completes', async () => {
    const { server: s, fleet: f } = await setUp(12);
    const imageId = s.app.images.upload(makeBundle(trust, { version: '3.0.0', behaviour: 'ok', securityCounter: 2 }), 'e2e').id;
    const id = s.app.engine.createCampaign(spec(imageId), 'e2e').campaign.id;
    await until('canary done', () => (status(s, id).counts.succeeded ?? 0) >= 2);
    await broker.restart(500);
    await until('campaign completed after the broker restart', () => status(s, id).campaign.state === 'completed', 90_000).catch((e: unknown) => {
      // Where it stopped, for the log: the actions not succeeded and the devices still busy.
      const open = s.app.db.prepare("SELECT device_id, state, attempt, detail FROM actions WHERE campaign_id = ? AND state != 'succeeded'").all(id);
      throw new Error(`${e instanceof Error ? e.message : String(e)}: ${status(s, id).campaign.state}, not succeeded ${JSON.stringify(open)}, busy devices ${JSON.stringify(f.busy())}`);
    });
    expectCommittedOnce(s, f, id, '3.0.0');
  }, 120_000);

  it('an offer lost while its device was away is sent again when the server reconnects, even if the device never says hello', async () => {
    const { server: s, fleet: f } = await setUp(1);
    const device = f.devices[0]!;
    await device.powerOff();
    // Listens on the device's command topic and reconnects within ~10 ms;
    // the server's link waits at least 250 ms, so this is back first. It
    // never sends a hello: only the server's own reconnect can re-send.
    const seen: CommandEnvelope[] = [];
    await MqttLink.connect({
      url: broker.url, clientId: 'command-spy', protocolVersion: 5, counter: new RejectionCounter(),
      subscriptions: [deviceTopic('command', device.deviceId)], backoff: { initialMs: 10, maxMs: 20 },
      handlers: { command: (m) => void seen.push(m.message) },
    }).then((l) => links.push(l));
    const imageId = s.app.images.upload(makeBundle(trust, { version: '6.0.0', behaviour: 'ok', securityCounter: 2 }), 'e2e').id;
    s.app.engine.createCampaign(spec(imageId, { waves: { canary: 0, percents: [100] } }), 'e2e');
    await until('the offer went out', () => seen.length === 1);
    const actionId = seen[0]!.actionId;
    const resent = s.gateway!.stats.offersResent;
    await broker.restart(100);
    await until('the offer was sent again after the restart', () => seen.length >= 2, 20_000);
    expect(seen[1]!.actionId).toBe(actionId);
    expect(s.gateway!.stats.offersResent).toBeGreaterThan(resent);
  }, 60_000);

  it('a device that loses its connection mid-download resumes from where it was, not from chunk 0, and completes', async () => {
    const { server: s, fleet: f } = await setUp(3);
    const victim = f.devices[0]!;
    // 128 chunks of 2 KiB (the signed header, with a hash per chunk, must fit the slot trailer).
    const bundle = makeBundle(trust, { version: '4.0.0', behaviour: 'ok', securityCounter: 2, size: 256 * 1024, chunkSize: 2048 });
    const imageId = s.app.images.upload(bundle, 'e2e').id;
    const nexts: number[] = [];
    let droppedAt: number | null = null;
    await client('spy', {
      'chunk-request': (m) => {
        if (m.deviceId !== victim.deviceId || m.message.imageId !== imageId) return;
        nexts.push(m.message.next);
        if (droppedAt === null && m.message.next >= 48) {
          droppedAt = nexts.length;
          void victim.service?.dropConnection();
        }
      },
    }, [deviceTopic('chunk-request', victim.deviceId)]);
    const id = s.app.engine.createCampaign(spec(imageId, { target: { deviceIds: f.devices.map((d) => d.deviceId) }, waves: { canary: 1, percents: [100] } }), 'e2e').campaign.id;
    await until('campaign completed', () => status(s, id).campaign.state === 'completed', 90_000);
    expect(droppedAt).not.toBeNull();
    const before = nexts.slice(0, droppedAt ?? 0);
    const after = nexts.slice(droppedAt ?? 0);
    const progress = Math.max(...before);
    expect(progress).toBeGreaterThanOrEqual(48);
    // It asked again after the drop, and never went back to the start.
    expect(after.length).toBeGreaterThan(0);
    expect(Math.min(...after)).toBeGreaterThan(0);
    expect(Math.min(...after)).toBeGreaterThanOrEqual(progress - 8);
    // The drop failed nothing on the server: the victim finished its first
    // attempt, and every device installed the image exactly once.
    const attempts = s.app.db.prepare('SELECT attempt FROM actions WHERE campaign_id = ? AND device_id = ?').all(id, victim.deviceId) as { attempt: number }[];
    expect(attempts).toEqual([{ attempt: 1 }]);
    expectCommittedOnce(s, f, id, '4.0.0');
  }, 120_000);

  it('a rogue client publishes junk, oversized, wrong-schema, replayed and foreign messages on every topic: nothing crashes, nothing changes, all is counted', async () => {
    const { server: s, fleet: f } = await setUp(4);
    const [a, b] = [f.devices[0]!, f.devices[1]!];
    // First a real campaign, recorded by a passive listener, so there are
    // genuine signed commands and reports to replay.
    const commands: CommandEnvelope[] = [];
    const reports: StatusReport[] = [];
    await client('recorder', { command: (m) => void commands.push(m.message), status: (m) => void reports.push(m.message) }, [allDevicesFilter('command'), allDevicesFilter('status')]);
    const imageId = s.app.images.upload(makeBundle(trust, { version: '5.0.0', behaviour: 'ok', securityCounter: 2 }), 'e2e').id;
    const id = s.app.engine.createCampaign(spec(imageId, { waves: { canary: 1, percents: [100] } }), 'e2e').campaign.id;
    await until('campaign completed', () => status(s, id).campaign.state === 'completed');
    await until('recorded commands and reports', () => commands.length >= 4 && reports.length >= 4);
    await Promise.all(f.devices.map((d) => d.service?.idle()));

    const snapshot = () => ({
      devices: s.app.db.prepare('SELECT id, hardware, tags, current_version, booted_slot, online FROM devices ORDER BY id').all(),
      actions: s.app.db.prepare('SELECT * FROM actions ORDER BY id').all(),
      campaigns: s.app.db.prepare('SELECT * FROM campaigns ORDER BY id').all(),
      // Refusals the devices report are recorded (device.refused, checked below); nothing else may be.
      events: (s.app.db.prepare("SELECT COUNT(*) AS n FROM events WHERE type != 'device.refused'").get() as { n: number }).n,
      journals: f.devices.map((d) => JSON.stringify(d.service?.agent.state)),
      versions: f.versions(),
    });
    const before = snapshot();
    const gatewayRejections = s.gateway?.rejections.total() ?? 0;
    const deviceRejections = f.devices.map((d) => (d.service?.rejections.total() ?? 0) + [...(d.service?.refusedCommands.values() ?? [])].reduce((x, y) => x + y, 0));
    const ingestedBefore = s.gateway?.stats.reportsIngested ?? 0;

    const rogue = await client('rogue');
    const cmdForA = commands.find((c) => c.deviceId === a.deviceId)!;
    const reportForA = reports.find((r) => r.deviceId === a.deviceId)!;
    const junk: (string | Buffer)[] = [
      '{not json',
      '',
      'null',
      '[1,2,3]',
      JSON.stringify({ v: 1 }),
      JSON.stringify({ v: 99, deviceId: a.deviceId, online: 'yes' }),
      Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x02]),
      'x'.repeat(200 * 1024), // over every kind's limit but the command topic's (an offer carries a bundle header); the broker still delivers it
      Buffer.alloc(600 * 1024, 0x41), // bigger than the 512 KiB the links accept: dropped at the broker
    ];
    const kinds = ['hello', 'online', 'command', 'status', 'chunk-request', 'chunk-data'] as const;
    const publishes: Promise<void>[] = [];
    const pub = (topic: string, payload: string | Buffer) => publishes.push(rogue.publish(topic, payload, { qos: 1 }));
    for (const d of [a, b]) {
      for (const k of kinds) for (const p of junk) pub(deviceTopic(k, d.deviceId), p);
    }
    for (const p of junk) pub(imageChunksTopic(imageId), p);
    // Replays: the exact signed offer again, and the exact reports again.
    pub(deviceTopic('command', a.deviceId), JSON.stringify(cmdForA));
    for (const r of reports) pub(deviceTopic('status', r.deviceId), JSON.stringify(r));
    // Foreign: A's command on B's topic, A's report and hello on B's topic.
    pub(deviceTopic('command', b.deviceId), JSON.stringify(cmdForA));
    pub(deviceTopic('status', b.deviceId), JSON.stringify(reportForA));
    pub(deviceTopic('hello', b.deviceId), JSON.stringify({ v: 1, deviceId: a.deviceId, hardware: 'evil', agentVersion: '0', runningSlot: 'a', slots: { a: { version: 'evil', bootable: true }, b: { version: null, bootable: false } }, lastCommandSeq: 0 }));
    pub(deviceTopic('chunk-request', b.deviceId), JSON.stringify({ v: 1, deviceId: a.deviceId, imageId, mode: 'unicast', next: 0, want: [0, 1, 2] }));
    // Off the tree and malformed topics under the root.
    pub(`${TOPIC_ROOT}/devices/${a.deviceId}/nonsense`, '{}');
    pub(`${TOPIC_ROOT}/whatever`, '{}');
    await Promise.all(publishes);
    // Let everything arrive and be handled (QoS 1 acks say the broker has it).
    await until('rejections counted', () => (s.gateway?.rejections.total() ?? 0) > gatewayRejections);
    await new Promise((r) => setTimeout(r, 1000));
    await Promise.all(f.devices.map((d) => d.service?.idle()));

    // Every process is alive: the same services are still connected and serving.
    for (const d of f.devices) expect(d.service).not.toBeNull();
    expect(snapshot()).toEqual(before);
    // Replayed reports were recognised as such, never applied again.
    expect(s.gateway?.stats.reportsIngested).toBe(ingestedBefore);
    // The server counted the junk on each of its topics...
    const gw = s.gateway?.rejections.snapshot() ?? {};
    expect(gw['malformed']).toBeGreaterThan(0);
    expect(gw['oversized']).toBeGreaterThan(0);
    expect(gw['schema']).toBeGreaterThan(0);
    expect(gw['id-mismatch']).toBeGreaterThan(0);
    // ...and each targeted device counted what reached it; replayed and foreign commands were refused.
    for (const [i, d] of [a, b].entries()) {
      const now = (d.service?.rejections.total() ?? 0) + [...(d.service?.refusedCommands.values() ?? [])].reduce((x, y) => x + y, 0);
      expect(now).toBeGreaterThan(deviceRejections[i]!);
    }
    expect((a.service?.refusedCommands.size ?? 0) + (b.service?.refusedCommands.size ?? 0)).toBeGreaterThan(0);
    // The server heard of the commands the devices refused without answering: A's replay, A's command on B's topic.
    const refused = (id: string) =>
      (s.app.db.prepare("SELECT data FROM events WHERE type = 'device.refused' AND device_id = ?").all(id) as { data: string }[]).map((e) => (JSON.parse(e.data) as { code: string }).code);
    await until('refusals reported', () => refused(a.deviceId).includes('replayed') && refused(b.deviceId).includes('id-mismatch'));
    // The untouched devices saw nothing.
    for (const [i, d] of f.devices.entries()) {
      if (i < 2) continue;
      expect((d.service?.rejections.total() ?? 0) + [...(d.service?.refusedCommands.values() ?? [])].reduce((x, y) => x + y, 0)).toBe(deviceRejections[i]);
    }
    // And the fleet still works: a second campaign after the attack completes.
    const next = s.app.images.upload(makeBundle(trust, { version: '5.1.0', behaviour: 'ok', securityCounter: 3 }), 'e2e').id;
    const id2 = s.app.engine.createCampaign(spec(next, { waves: { canary: 1, percents: [100] } }), 'e2e').campaign.id;
    await until('second campaign completed', () => status(s, id2).campaign.state === 'completed');
    expect(f.versions()).toEqual({ '5.1.0': 4 });
  }, 120_000);
});
