import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MqttLink,
  RejectionCounter,
  allDevicesFilter,
  deviceTopic,
  startEmbeddedBroker,
  type MqttLinkOptions,
  type OnlineStatus,
  type StatusReport,
} from '@uniota/protocol';
import { SERVER_RECEIVE_MAXIMUM } from '@uniota/update-server';
import { startMosquitto } from '../helpers/mosquitto.ts';

/** MqttLink against real brokers: last will, retained status, and a link that survives bad handlers. */
interface BrokerUnderTest {
  url: string;
  protocolVersion: 4 | 5;
  stop(): Promise<void>;
}
const brokers: Array<[string, () => Promise<BrokerUnderTest>]> = [
  ['mosquitto', async () => startMosquitto()],
  [
    'embedded aedes',
    async () => {
      const b = await startEmbeddedBroker({ port: 0 });
      return { url: b.url, protocolVersion: b.protocolVersion, stop: () => b.close() };
    },
  ],
];

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const status = (deviceId: string, n: number): StatusReport => ({
  v: 1,
  deviceId,
  campaignId: 'c1',
  actionId: `a${n}`,
  at: 1_700_000_000_000 + n,
  step: { name: 'offered' },
});

let seq = 0;

describe.each(brokers)('MqttLink over %s', (_name, startBroker) => {
  let broker: BrokerUnderTest;
  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(async () => {
    await broker.stop();
  });
  const id = () => `link-${process.pid}-${++seq}`;

  it('retained online status on connect, and the last will marks a vanished device offline', async () => {
    const dev = `dev-${id()}`;
    const device = await MqttLink.connect({
      url: broker.url,
      clientId: dev,
      protocolVersion: broker.protocolVersion,
      will: { topic: deviceTopic('online', dev), payload: JSON.stringify({ v: 1, online: false }), qos: 1, retain: true },
      onConnectPublish: () => [
        { topic: deviceTopic('online', dev), payload: JSON.stringify({ v: 1, online: true, at: 1 }), qos: 1, retain: true },
      ],
      counter: new RejectionCounter(),
      handlers: {},
    });
    // The server subscribes after the fact and still learns the state (retained).
    const seen: OnlineStatus[] = [];
    const server = await MqttLink.connect({
      url: broker.url,
      clientId: `srv-${id()}`,
      protocolVersion: broker.protocolVersion,
      subscriptions: [deviceTopic('online', dev)],
      counter: new RejectionCounter(),
      handlers: { online: (m) => void seen.push(m.message) },
    });
    await until(() => seen.length === 1);
    expect(seen[0]).toEqual({ v: 1, online: true, at: 1 });
    await device.close(true); // power cut: no DISCONNECT packet
    await until(() => seen.length === 2);
    expect(seen[1]).toEqual({ v: 1, online: false });
    await server.close();
  });

  it('a throwing handler and unexpected kinds are contained; later messages still arrive', async () => {
    const counter = new RejectionCounter();
    const handlerErrors: unknown[] = [];
    const got: string[] = [];
    const server = await MqttLink.connect({
      url: broker.url,
      clientId: `srv-${id()}`,
      protocolVersion: broker.protocolVersion,
      subscriptions: [allDevicesFilter('status'), allDevicesFilter('hello')],
      counter,
      onHandlerError: (e) => void handlerErrors.push(e),
      handlers: {
        status: (m) => {
          if (m.message.actionId === 'a1') throw new Error('handler bug');
          got.push(m.message.actionId);
        },
        // no 'hello' handler: valid hellos are "unexpected" here
      },
    });
    const dev = `dev-${id()}`;
    const device = await MqttLink.connect({
      url: broker.url,
      clientId: dev,
      protocolVersion: broker.protocolVersion,
      counter: new RejectionCounter(),
      handlers: {},
    });
    await device.publishJson(deviceTopic('status', dev), status(dev, 1));
    await device.publishJson(deviceTopic('hello', dev), {
      v: 1,
      deviceId: dev,
      hardware: 'qemu-virt',
      agentVersion: '0.1.0',
      runningSlot: 'a',
      slots: { a: { version: '1', bootable: true }, b: { version: null, bootable: false } },
      lastCommandSeq: 0,
    });
    await device.publishJson(deviceTopic('status', dev), status(dev, 2));
    await until(() => got.length === 1 && counter.total() === 1);
    expect(got).toEqual(['a2']);
    expect(handlerErrors).toHaveLength(1);
    expect(counter.snapshot()).toEqual({ unexpected: 1 });
    await device.close();
    await server.close();
  });

  /** A device link to `url` (a proxy in front of the broker). */
  const deviceVia = (url: string, dev: string, extra: Partial<MqttLinkOptions> = {}) =>
    MqttLink.connect({ url, clientId: dev, protocolVersion: broker.protocolVersion, counter: new RejectionCounter(), handlers: {}, ...extra });

  it('a connection on which the broker stopped answering is dropped after the ack timeout, and the unacknowledged publish is resent', async () => {
    // The first connection through the proxy goes deaf: nothing from the
    // broker reaches the client any more, while both sockets stay open (no
    // close, no reset), so keepalive alone never notices while we send.
    const proxy = await deafProxy(broker.url);
    const got: string[] = [];
    const server = await MqttLink.connect({
      url: broker.url,
      clientId: `srv-${id()}`,
      protocolVersion: broker.protocolVersion,
      subscriptions: [allDevicesFilter('status')],
      counter: new RejectionCounter(),
      handlers: { status: (m) => void got.push(m.message.actionId) },
    });
    const dropped: number[] = [];
    const dev = `dev-${id()}`;
    const device = await deviceVia(proxy.url, dev, {
      backoff: { initialMs: 50, maxMs: 200 },
      ackTimeoutMs: 400,
      onAckTimeout: (waited) => void dropped.push(waited),
    });
    proxy.deafen();
    const sent = device.publishJson(deviceTopic('status', dev), status(dev, 7));
    await sent; // resolves only with a PUBACK, which only the second connection can carry
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toBeGreaterThanOrEqual(400);
    expect(device.ackTimeouts).toBe(1);
    expect(proxy.connections()).toBe(2);
    await until(() => got.includes('a7'));
    await device.close();
    await server.close();
    await proxy.close();
  });

  it('without an ack timeout the same deaf connection is kept (the watchdog is what recovers it)', async () => {
    const proxy = await deafProxy(broker.url);
    const dev = `dev-${id()}`;
    const device = await deviceVia(proxy.url, dev);
    proxy.deafen();
    let acked = false;
    void device.publishJson(deviceTopic('status', dev), status(dev, 8)).then(() => (acked = true), () => undefined);
    await new Promise((r) => setTimeout(r, 1500));
    expect(acked).toBe(false);
    expect(proxy.connections()).toBe(1);
    expect(device.ackTimeouts).toBe(0);
    await device.close(true);
    await proxy.close();
  });
});

/**
 * A TCP proxy to the broker whose current connection can be made deaf: bytes
 * from the broker to the client are swallowed from then on, in both sockets'
 * silence. Later connections pass everything.
 */
async function deafProxy(brokerUrl: string): Promise<{ url: string; deafen(): void; connections(): number; close(): Promise<void> }> {
  const target = new URL(brokerUrl);
  const sockets: Socket[] = [];
  let count = 0;
  let deafNow: (() => void) | null = null;
  const server = createServer((client) => {
    count += 1;
    const upstream = connect(Number(target.port), target.hostname);
    sockets.push(client, upstream);
    let deaf = false;
    deafNow = () => (deaf = true);
    upstream.on('data', (d) => {
      if (!deaf) client.write(d);
    });
    client.on('data', (d) => upstream.write(d));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    deafen: () => deafNow?.(),
    connections: () => count,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('MqttLink reconnect', () => {
  it('reconnects with backoff after the broker restarts, resubscribes, and receives on its old subscription', async () => {
    const first = await startEmbeddedBroker({ port: 0 });
    const port = first.port;
    let connects = 0;
    let disconnects = 0;
    const got: string[] = [];
    const dev = `dev-re-${process.pid}`;
    const link = await MqttLink.connect({
      url: first.url,
      clientId: `srv-re-${process.pid}`,
      protocolVersion: 4,
      subscriptions: [allDevicesFilter('status')],
      backoff: { initialMs: 50, maxMs: 200 },
      random: () => 0.5,
      counter: new RejectionCounter(),
      onConnect: () => void connects++,
      onDisconnect: () => void disconnects++,
      handlers: { status: (m) => void got.push(m.message.actionId) },
    });
    expect(connects).toBe(1);
    await first.close();
    await until(() => disconnects >= 1);
    expect(link.connected).toBe(false);
    const second = await startEmbeddedBroker({ port });
    try {
      await until(() => connects === 2);
      const device = await MqttLink.connect({
        url: second.url,
        clientId: dev,
        protocolVersion: 4,
        counter: new RejectionCounter(),
        handlers: {},
      });
      // The subscription was restored on the new broker without the caller re-subscribing.
      // MQTT.js re-subscribes right after CONNACK; publish until the first copy arrives.
      for (let i = 0; i < 100 && !got.includes('a7'); i++) {
        await device.publishJson(deviceTopic('status', dev), status(dev, 7));
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(got).toContain('a7');
      await device.close();
      await link.close();
    } finally {
      await second.close();
    }
  });
});

describe('MqttLink maximum packet size (MQTT 5, mosquitto)', () => {
  it('the broker drops packets above 512 KiB for us; smaller junk reaches the decoder and is counted', async () => {
    const broker = await startMosquitto();
    try {
      const counter = new RejectionCounter();
      const got: string[] = [];
      const dev = `dev-mps-${process.pid}`;
      const server = await MqttLink.connect({
        url: broker.url,
        clientId: `srv-mps-${process.pid}`,
        subscriptions: [allDevicesFilter('status')],
        counter,
        handlers: { status: (m) => void got.push(m.message.actionId) },
      });
      const rogue = await MqttLink.connect({ url: broker.url, clientId: dev, counter: new RejectionCounter(), handlers: {} });
      await rogue.publish(deviceTopic('status', dev), Buffer.alloc(600 * 1024, 0x41));
      await rogue.publish(deviceTopic('status', dev), Buffer.alloc(300 * 1024, 0x41));
      await rogue.publishJson(deviceTopic('status', dev), status(dev, 1)); // valid sentinel, sent last
      // One publisher, one subscriber: the broker keeps their order, so once
      // the sentinel is here the junk before it was delivered or dropped.
      await until(() => got.includes('a1'));
      expect(counter.snapshot()).toEqual({ oversized: 1 });
      await rogue.close();
      await server.close();
    } finally {
      await broker.stop();
    }
  });
});

describe('MqttLink receive maximum (MQTT 5, mosquitto at its default queue limit)', () => {
  // A whole wave reports at once. mosquitto keeps max_inflight_messages (20)
  // in flight to a subscriber that sets no Receive Maximum and queues the
  // rest, dropping past max_queued_messages (1000) although every device got
  // its PUBACK. The update server's link raises it; this is that burst.
  const BURST = 5000;
  const DEVICES = 50;

  async function burstTo(receiveMaximum: number | undefined): Promise<number> {
    const broker = await startMosquitto();
    try {
      const got = new Set<string>();
      const server = await MqttLink.connect({
        url: broker.url,
        clientId: `srv-rm-${process.pid}`,
        subscriptions: [allDevicesFilter('status')],
        counter: new RejectionCounter(),
        handlers: { status: (m) => void got.add(`${m.message.deviceId}/${m.message.actionId}`) },
        ...(receiveMaximum !== undefined ? { receiveMaximum } : {}),
      });
      const devices = await Promise.all(
        Array.from({ length: DEVICES }, (_, d) =>
          MqttLink.connect({ url: broker.url, clientId: `dev-rm-${d}`, counter: new RejectionCounter(), handlers: {} }),
        ),
      );
      // Every publish is PUBACKed by the broker before we go on.
      await Promise.all(
        devices.map(async (link, d) => {
          const reports = Array.from({ length: BURST / DEVICES }, (_, n) => link.publishJson(deviceTopic('status', `dev-rm-${d}`), status(`dev-rm-${d}`, n)));
          await Promise.all(reports);
        }),
      );
      // Delivered or dropped: wait until nothing more arrives for a second.
      let last = -1;
      while (got.size !== last && got.size < BURST) {
        last = got.size;
        await new Promise((r) => setTimeout(r, 1000));
      }
      await Promise.all(devices.map((l) => l.close()));
      await server.close();
      return got.size;
    } finally {
      await broker.stop();
    }
  }

  it(`the server's receive maximum gets every report of a ${BURST}-report burst; the broker default loses most`, async () => {
    expect(await burstTo(SERVER_RECEIVE_MAXIMUM), 'reports received with the server link setting').toBe(BURST);
    // The broker fact the setting is for: without it, mosquitto dropped reports it had acknowledged.
    expect(await burstTo(undefined), 'reports received with the broker default').toBeLessThan(BURST);
  }, 120_000);
});
