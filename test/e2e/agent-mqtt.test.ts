/**
 * The device agent over a real mosquitto, against a minimal scripted server
 * that signs commands with the server-role key and serves chunks with the
 * protocol's ChunkServer: offers commit and roll back end to end, and
 * foreign, replayed and unsigned commands do nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ChunkServer, MqttLink, RejectionCounter, allDevicesFilter, deviceTopic, realTimers, signCommand } from '@uniota/protocol';
import type { CommandEnvelope, Hello, StatusReport } from '@uniota/protocol';
import { parseBundleHeader } from '@uniota/image';
import { NetworkedSimDevice, SimDevice, provisionSimDisk, smallDeviceSpec } from '@uniota/device-agent';
import { startMosquitto } from '../helpers/mosquitto.ts';
import type { Mosquitto } from '../helpers/mosquitto.ts';
import { makeBundle, makeTrust } from '../helpers/fixtures.ts';
import { until } from '../helpers/until.ts';
import type { TrustFixture } from '../helpers/fixtures.ts';

let broker: Mosquitto;
let trust: TrustFixture;
let server: MqttLink;
const reports: StatusReport[] = [];
const hellos: Hello[] = [];
const images = new Map<string, Uint8Array>();
let chunkServer: ChunkServer;
let seq = 0;

beforeAll(async () => {
  broker = await startMosquitto();
  trust = makeTrust();
  chunkServer = new ChunkServer({
    publish: (topic, payload) => server.publish(topic, payload, { qos: 0 }),
    readChunk: (imageId, index) => {
      const b = images.get(imageId) as Uint8Array;
      const h = parseBundleHeader(b);
      const size = 2048;
      return b.subarray(h.headerLength + index * size, Math.min(b.length, h.headerLength + (index + 1) * size));
    },
    timers: realTimers,
  });
  server = await MqttLink.connect({
    url: broker.url,
    clientId: 'test-server',
    subscriptions: [allDevicesFilter('status'), allDevicesFilter('hello'), allDevicesFilter('chunk-request')],
    handlers: {
      status: (m) => void reports.push(m.message),
      hello: (m) => void hellos.push(m.message),
      'chunk-request': (m) => void chunkServer.handleRequest(m.deviceId, m.message),
    },
    counter: new RejectionCounter(),
  });
});

afterAll(async () => {
  await server?.close();
  await broker?.stop();
});

async function device(id: string): Promise<NetworkedSimDevice> {
  const spec = smallDeviceSpec(trust.root);
  const { disk, layout } = await provisionSimDisk(spec, makeBundle(trust, { version: '1.0.0', behaviour: 'ok', securityCounter: 1 }));
  const d = new NetworkedSimDevice(new SimDevice(disk, spec, layout), { deviceId: id, brokerUrl: broker.url, transfer: { window: 8, requestTimeoutMs: 500 } });
  await d.powerOn();
  return d;
}

function offerCommand(deviceId: string, actionId: string, imageId: string, bundle: Uint8Array, mode: 'unicast' | 'fanout' = 'unicast', expiresAt = Date.now() + 60_000): CommandEnvelope {
  const h = parseBundleHeader(bundle);
  images.set(imageId, bundle);
  const size = bundle.length - h.headerLength;
  chunkServer.addImage(imageId, Math.ceil(size / 2048));
  seq += 1;
  return signCommand(
    {
      deviceId,
      actionId,
      seq,
      nonce: randomBytes(12).toString('base64url'),
      expiresAt,
      body: {
        type: 'offer',
        campaignId: 'camp-1',
        imageId,
        header: Buffer.from(bundle.subarray(0, h.headerLength)).toString('base64'),
        payloadSize: size,
        chunkSize: 2048,
        chunkCount: Math.ceil(size / 2048),
        transfer: mode,
        downloadOnly: false,
        maintenanceWindow: null,
      },
    },
    trust.serverSigner,
  );
}


const stepsOf = (deviceId: string, actionId: string) => reports.filter((r) => r.deviceId === deviceId && r.actionId === actionId).map((r) => r.step.name);

describe('device agent over mosquitto', () => {
  it('announces itself, downloads in chunks, reboots into the trial and reports the commit', async () => {
    const d = await device('dev-ok');
    const hello = await until('hello', () => hellos.find((h) => h.deviceId === 'dev-ok'));
    expect(hello).toMatchObject({ hardware: 'sim-board-1', runningSlot: 'a', slots: { a: { version: '1.0.0', bootable: true }, b: { version: null, bootable: false } } });
    await server.publishJson(deviceTopic('command', 'dev-ok'), offerCommand('dev-ok', 'act-1', 'img-2', makeBundle(trust, { version: '2.0.0', behaviour: 'ok', securityCounter: 2 })));
    await until('commit', () => stepsOf('dev-ok', 'act-1').includes('committed'));
    const steps = stepsOf('dev-ok', 'act-1');
    expect(steps.indexOf('downloading')).toBeLessThan(steps.indexOf('rebooting'));
    expect(steps.indexOf('rebooting')).toBeLessThan(steps.indexOf('health-check'));
    expect(d.service?.agent.state.committed).toMatchObject({ slot: 'B', version: '2.0.0' });
    await until('second hello from slot b', () => hellos.find((h) => h.deviceId === 'dev-ok' && h.runningSlot === 'b'));
    await d.powerOff();
  });

  it('rolls back an image that fails its health check and reports it', async () => {
    const d = await device('dev-bad');
    await until('online', () => d.service !== null);
    await server.publishJson(deviceTopic('command', 'dev-bad'), offerCommand('dev-bad', 'act-2', 'img-bad', makeBundle(trust, { version: '3.0.0', behaviour: 'unhealthy', securityCounter: 3 }), 'fanout'));
    await until('rollback', () => stepsOf('dev-bad', 'act-2').includes('rolled-back'));
    await until('running slot A again', () => d.service?.agent.state.committed?.slot === 'A');
    expect(d.service?.agent.state.committed?.version).toBe('1.0.0');
    await d.powerOff();
  });

  it('ignores foreign, replayed, expired and unsigned commands', async () => {
    const d = await device('dev-guard');
    await until('online', () => d.service !== null);
    const bundle = makeBundle(trust, { version: '2.0.0', behaviour: 'ok', securityCounter: 2 });
    const foreign = offerCommand('someone-else', 'act-f', 'img-f', bundle);
    const expired = offerCommand('dev-guard', 'act-e', 'img-e', bundle, 'unicast', Date.now() - 1000);
    const tampered = { ...offerCommand('dev-guard', 'act-t', 'img-t', bundle), actionId: 'act-t2' };
    const unsigned = { ...offerCommand('dev-guard', 'act-u', 'img-u', bundle), sig: Buffer.alloc(64).toString('base64') };
    for (const c of [foreign, expired, tampered, unsigned]) await server.publishJson(deviceTopic('command', 'dev-guard'), c);
    await until('refusals counted', () => {
      const r = d.service?.refusedCommands;
      // A command naming another device on this device's topic is already
      // refused by the decoder (counted as a rejection); the rest by the guard.
      return r !== undefined && d.service?.rejections.total() === 1 && r.get('expired') === 1 && r.get('bad-signature') === 2;
    });
    const good = offerCommand('dev-guard', 'act-g', 'img-g', bundle);
    await server.publishJson(deviceTopic('command', 'dev-guard'), good);
    await until('commit of the good command', () => stepsOf('dev-guard', 'act-g').includes('committed'));
    // The same signed command again, to the rebooted agent: its sequence number was journaled.
    await until('agent back online', () => d.service !== null && stepsOf('dev-guard', 'act-g').includes('committed'));
    await new Promise((r) => setTimeout(r, 200));
    await server.publishJson(deviceTopic('command', 'dev-guard'), good);
    await until('replay refused', () => d.service?.refusedCommands.get('replayed') === 1);
    for (const a of ['act-f', 'act-e', 'act-t', 'act-t2', 'act-u']) expect(stepsOf('dev-guard', a)).toEqual([]);
    await d.powerOff();
  });
});
