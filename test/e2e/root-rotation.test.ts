/**
 * Root rotation end to end over a real mosquitto: an operator uploads root
 * v2 (new root and images keys) with `uniota root upload`, then runs a
 * campaign with an image signed by the NEW images key. Each device takes v2
 * from the offer, journals it, installs the image, and afterwards refuses an
 * image signed by the old images key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, startServer } from '@uniota/update-server';
import type { RunningServer } from '@uniota/update-server';
import { FleetSim } from '@uniota/device-agent';
import { main } from '../../packages/cli/src/main.ts';
import { captureOutput } from '../../packages/cli/src/testing/capture-output.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import type { Mosquitto } from '../helpers/mosquitto.ts';
import { makeBundle, makeTrust } from '../helpers/fixtures.ts';
import { rotateTrust } from '../helpers/root-rotation.ts';
import { until } from '../helpers/until.ts';

let broker: Mosquitto;
let dir: string;
let server: RunningServer | null = null;
let fleet: FleetSim | null = null;
const io = captureOutput();

beforeAll(async () => {
  broker = await startMosquitto();
  dir = mkdtempSync(join(tmpdir(), 'uniota-e2e-root-'));
});
afterAll(async () => {
  await fleet?.stop();
  await server?.close();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const spec = (imageId: string) => ({
  name: 'rotated',
  imageId,
  target: { hardware: ['sim-board-1'] },
  waves: { canary: 1, percents: [100] },
  concurrency: 100,
  timeoutMs: 60_000,
  retry: { maxAttempts: 1, baseDelayMs: 200 },
  abort: [{ failureType: 'all', thresholdPercent: 100, minFinished: 10, action: 'pause' }],
});

describe('root rotation through the server, the CLI and mosquitto', () => {
  it('rotates the fleet to root v2 and installs an image signed by the new images key', async () => {
    const v1 = makeTrust();
    writeFileSync(join(dir, 'root.json'), JSON.stringify(v1.rootDoc));
    writeFileSync(join(dir, 'server.key'), v1.serverKeyPem);
    const s = (server = await startServer(loadConfig({}, { dataDir: dir, port: 0, brokerUrl: broker.url, tickMs: 100, logLevel: 'silent' })));
    const f = (fleet = await FleetSim.create({ count: 3, brokerUrl: broker.url, root: v1.root, factoryBundle: makeBundle(v1, { version: '1.0.0', behaviour: 'ok', securityCounter: 1 }), transfer: { window: 8, requestTimeoutMs: 1000 } }));
    await f.start();
    await until('every device reported root version 1', () => (s.app.roots?.list()[0]?.devices === 3 ? true : undefined));

    const r2 = rotateTrust(v1);
    const file = join(dir, 'root-v2.json');
    writeFileSync(file, r2.text);
    expect(await main(['node', 'uniota', 'user', 'token', '--name', 'sec', '--role', 'admin', '--data-dir', dir])).toBe(0);
    const token = io.out.trim();
    io.out = '';
    expect(await main(['node', 'uniota', 'root', 'upload', file, '--server', s.address, '--token', token])).toBe(0);
    expect(io.out).toContain('root version 2 stored');
    io.out = '';
    expect(await main(['node', 'uniota', 'root', 'list', '--json', '--server', s.address, '--token', token])).toBe(0);
    expect((JSON.parse(io.out) as { items: Array<{ version: number; source: string }> }).items.map((r) => r.version)).toEqual([1, 2]);

    const imageId = s.app.images.upload(makeBundle(r2.next, { version: '2.0.0', behaviour: 'ok', securityCounter: 2 }), 'e2e').id;
    const id = s.app.engine.createCampaign(spec(imageId), 'e2e').campaign.id;
    const done = await until('campaign completed', () => (s.app.engine.status(id).campaign.state === 'completed' ? s.app.engine.status(id) : undefined), 60_000);
    expect(done.counts).toEqual({ succeeded: 3 });
    expect(f.versions()).toEqual({ '2.0.0': 3 });
    for (const d of f.devices) expect(d.service?.agent.rootVersion).toBe(2);
    await until('the server knows every device is on root v2', () => (s.app.roots?.list().find((r) => r.version === 2)?.devices === 3 ? true : undefined));

    // The server refuses an old-key image outright; a device refuses it too
    // (offered directly, as a compromised server might).
    expect(() => s.app.images.upload(makeBundle(v1, { version: '3.0.0', behaviour: 'ok', securityCounter: 3 }), 'e2e')).toThrow(/UNKNOWN_KEY/);
    const device = f.devices[0]!;
    const old = makeBundle(v1, { version: '3.0.0', behaviour: 'ok', securityCounter: 3 });
    const { parseBundleHeader } = await import('@uniota/image');
    const agent = device.service!.agent;
    await device.service!.idle();
    const result = await agent.offer({ actionId: 'direct-old', campaignId: null, header: old.subarray(0, parseBundleHeader(old).headerLength), downloadOnly: false });
    // Refused before anything was written: no job, same committed image.
    expect(result.kind).toBe('idle');
    expect(agent.state.update).toBeNull();
    expect(agent.state.committed?.version).toBe('2.0.0');
  }, 120_000);
});
