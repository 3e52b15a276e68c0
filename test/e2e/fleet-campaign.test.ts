/**
 * End to end over a real mosquitto: the update server (engine, SQLite, MQTT
 * gateway) runs campaigns against a fleet of simulated devices, each with its
 * own disk, in-process bootloader and the real agent.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, startServer } from '@uniota/update-server';
import type { RunningServer } from '@uniota/update-server';
import { FleetSim } from '@uniota/device-agent';
import { startMosquitto } from '../helpers/mosquitto.ts';
import type { Mosquitto } from '../helpers/mosquitto.ts';
import { makeBundle, makeTrust } from '../helpers/fixtures.ts';
import type { TrustFixture } from '../helpers/fixtures.ts';
import { until } from '../helpers/until.ts';

let broker: Mosquitto;
let trust: TrustFixture;
let dir: string;
let server: RunningServer | null = null;
let fleet: FleetSim | null = null;

beforeAll(async () => {
  broker = await startMosquitto();
  trust = makeTrust();
});
afterAll(async () => {
  await broker?.stop();
});
afterEach(async () => {
  await fleet?.stop();
  await server?.close();
  fleet = null;
  server = null;
  rmSync(dir, { recursive: true, force: true });
});


async function setUp(count: number): Promise<{ server: RunningServer; fleet: FleetSim }> {
  dir = mkdtempSync(join(tmpdir(), 'uniota-e2e-'));
  writeFileSync(join(dir, 'root.json'), JSON.stringify(trust.rootDoc));
  writeFileSync(join(dir, 'server.key'), trust.serverKeyPem);
  server = await startServer(loadConfig({}, { dataDir: dir, port: 0, brokerUrl: broker.url, tickMs: 100, logLevel: 'silent' }));
  fleet = await FleetSim.create({ count, brokerUrl: broker.url, root: trust.root, factoryBundle: makeBundle(trust, { version: '1.0.0', behaviour: 'ok', securityCounter: 1 }), transfer: { window: 8, requestTimeoutMs: 1000 } });
  await fleet.start();
  const s = server;
  await until('every device known to the server', () => s.app.db.prepare('SELECT COUNT(*) AS n FROM devices').get() as { n: number } | undefined, 5000).then(async () =>
    until('hellos', () => ((s.app.db.prepare('SELECT COUNT(*) AS n FROM devices').get() as { n: number }).n === count ? true : undefined)),
  );
  return { server: s, fleet };
}

function upload(s: RunningServer, bundle: Uint8Array): string {
  return s.app.images.upload(bundle, 'e2e').id;
}

const campaignSpec = (imageId: string, extra: Record<string, unknown> = {}) => ({
  name: 'e2e rollout',
  imageId,
  target: { hardware: ['sim-board-1'] },
  waves: { canary: 3, percents: [50, 100] },
  concurrency: 100,
  timeoutMs: 60_000,
  retry: { maxAttempts: 3, baseDelayMs: 200 },
  abort: [{ failureType: 'all', thresholdPercent: 10, minFinished: 1, action: 'pause' }],
  ...extra,
});

describe('fleet campaigns over mosquitto', () => {
  it('a canary and two waves update 50 devices; the server view equals every device', async () => {
    const { server: s, fleet: f } = await setUp(50);
    const imageId = upload(s, makeBundle(trust, { version: '2.0.0', behaviour: 'ok', securityCounter: 2 }));
    const created = s.app.engine.createCampaign(campaignSpec(imageId), 'e2e');
    const id = created.campaign.id;
    const done = await until('campaign completed', () => {
      const st = s.app.engine.status(id);
      return st.campaign.state === 'completed' ? st : undefined;
    }, 120_000);
    expect(done.counts).toEqual({ succeeded: 50 });
    expect(done.waves.map((w) => w.counts.succeeded)).toEqual([3, 22, 25]);
    expect(f.versions()).toEqual({ '2.0.0': 50 });
    for (const d of f.devices) {
      const dev = s.app.db.prepare('SELECT current_version AS v, booted_slot AS slot FROM devices WHERE id = ?').get(d.deviceId) as { v: string; slot: string };
      const st = d.service?.agent.state;
      expect({ v: dev.v, slot: dev.slot }).toEqual({ v: st?.committed?.version, slot: st?.committed?.slot });
    }
    // Both slots as the server shows them: the new image runs committed in B, the old one stands by in A.
    await until('slot inventory refreshed', () => {
      const row = s.app.db.prepare('SELECT slots FROM devices WHERE id = ?').get(f.devices[0]?.deviceId) as { slots: string | null };
      const slots = row.slots === null ? null : (JSON.parse(row.slots) as { a: { version: string }; b: { version: string }; trial: boolean });
      return slots?.b.version === '2.0.0' && slots.trial === false ? slots : undefined;
    });
    const any = JSON.parse((s.app.db.prepare('SELECT slots FROM devices WHERE id = ?').get(f.devices[0]?.deviceId) as { slots: string }).slots) as unknown;
    expect(any).toEqual({ a: { version: '1.0.0', bootable: true }, b: { version: '2.0.0', bootable: true }, trial: false });
  }, 180_000);

  it('a bad image is caught by the canary: the campaign pauses itself, nobody else is offered it, the canary runs the old version', async () => {
    const { server: s, fleet: f } = await setUp(20);
    const imageId = upload(s, makeBundle(trust, { version: '2.0.0-bad', behaviour: 'unhealthy', securityCounter: 2 }));
    const id = s.app.engine.createCampaign(campaignSpec(imageId), 'e2e').campaign.id;
    const paused = await until('campaign paused', () => {
      const st = s.app.engine.status(id);
      return st.campaign.state === 'paused' ? st : undefined;
    });
    expect(paused.total).toBe(20);
    // The devices already on trial finish (and roll back); nobody new starts.
    const settled = await until('canary settled', () => {
      const st = s.app.engine.status(id);
      return st.counts.rolled_back === 3 ? st : undefined;
    });
    expect(settled.campaign.state).toBe('paused');
    // Only the canary was ever offered the image.
    expect(s.gateway?.stats.offersSent).toBe(3);
    await new Promise((r) => setTimeout(r, 500));
    const touched = f.devices.filter((d) => (d.service?.agent.state.history.length ?? 0) > 0);
    expect(touched).toHaveLength(3);
    for (const d of touched) expect(d.service?.agent.state.history.map((h) => h.outcome)).toEqual(['rolled-back']);
    expect(f.versions()).toEqual({ '1.0.0': 20 });
  }, 120_000);
});
