/**
 * The attacker in the middle. The update server talks to one broker, the
 * devices to another, and this relay is the only path between them: it
 * forwards every message both ways, the way a compromised bridge or network
 * hop would, and an attack row installs a tamper function that rewrites,
 * drops, delays or adds messages on the way to the device. Holding the
 * stolen online (server-role) key, it can re-sign what it rewrites, so the
 * device's own checks are what stands between it and an installed image.
 */
import mqtt, { type MqttClient } from 'mqtt';

/** One message on its way through the relay. */
export interface RelayedMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
  /** When the relay saw it (ms). */
  at?: number;
}

/** What a tamper function does with a message: forward it as is (undefined), or send these instead (empty: drop). */
export type Tamper = (m: RelayedMessage) => RelayedMessage[] | undefined;

const D = 'uniota/v1/devices';
/** Server -> device: commands, unicast chunks, fan-out chunks. */
const DOWN = [`${D}/+/cmd`, `${D}/+/chunks/data`, 'uniota/v1/images/+/chunks'];
/** Device -> server: hello, online, status reports, chunk requests. */
const UP = [`${D}/+/hello`, `${D}/+/online`, `${D}/+/status`, `${D}/+/chunks/req`];

function connect(url: string, clientId: string, protocolVersion: 4 | 5): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { clientId, protocolVersion, reconnectPeriod: 0 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/** Forwards between the server's broker and the devices' broker; every message it sees is kept for inspection. */
export class MitmRelay {
  /** Messages the server sent towards devices, as the attacker captured them (before tampering). */
  readonly down: RelayedMessage[] = [];
  /** Messages devices sent towards the server. */
  readonly up: RelayedMessage[] = [];
  /**
   * Tampers on server -> device traffic, per device. An attacker who owns a
   * device's path keeps it: a row's tamper is never removed, so nothing the
   * server re-sends later slips through to that device unexamined.
   */
  readonly tampers = new Map<string, Tamper>();

  private constructor(
    private readonly serverSide: MqttClient,
    private readonly deviceSide: MqttClient,
  ) {}

  /** Connects to both brokers and starts forwarding. */
  static async start(serverBrokerUrl: string, deviceBroker: { url: string; protocolVersion: 4 | 5 }): Promise<MitmRelay> {
    const serverSide = await connect(serverBrokerUrl, 'mitm-server-side', 5);
    const deviceSide = await connect(deviceBroker.url, 'mitm-device-side', deviceBroker.protocolVersion);
    const r = new MitmRelay(serverSide, deviceSide);
    serverSide.on('message', (topic, payload, packet) => {
      const m = { topic, payload, retain: packet.retain, at: Date.now() };
      r.down.push(m);
      const deviceId = topic.startsWith(`${D}/`) ? topic.split('/')[3] ?? '' : '';
      const out = r.tampers.get(deviceId)?.(m) ?? [m];
      for (const o of out) r.toDevices(o);
    });
    deviceSide.on('message', (topic, payload, packet) => {
      const m = { topic, payload, retain: packet.retain, at: Date.now() };
      r.up.push(m);
      void serverSide.publishAsync(topic, payload, { qos: 1, retain: m.retain }).catch(() => undefined);
    });
    await serverSide.subscribeAsync(DOWN, { qos: 1, nl: true });
    await deviceSide.subscribeAsync(UP, { qos: 1 });
    return r;
  }

  /** Publishes on the devices' broker (what the attacker injects). */
  toDevices(m: RelayedMessage): void {
    void this.deviceSide.publishAsync(m.topic, m.payload, { qos: m.topic.endsWith('/cmd') ? 1 : 0, retain: false }).catch(() => undefined);
  }

  /** Publishes on the devices' broker and resolves once the broker took it (PUBACK): lets a flood be paced. */
  async toDevicesAcked(m: RelayedMessage): Promise<void> {
    await this.deviceSide.publishAsync(m.topic, m.payload, { qos: 1, retain: false });
  }

  /** JSON messages devices sent on `topic`. */
  upJson<T>(topic: string): T[] {
    return this.up.filter((m) => m.topic === topic).map((m) => JSON.parse(m.payload.toString()) as T);
  }

  async stop(): Promise<void> {
    await Promise.all([this.serverSide.endAsync(true), this.deviceSide.endAsync(true)]);
  }
}
