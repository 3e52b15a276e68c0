import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { decodeMessage, RejectCode, topicKindOf, type DecodedMessage, type MessageKind } from './decode.ts';
import { ProtocolError, ProtocolErrorCode } from './errors.ts';
import type { RejectionCounter } from './rejection-counter.ts';
import type { TopicKind } from './topics.ts';

/** Default MQTT 5 maximum packet size we accept from the broker. */
export const DEFAULT_MAX_PACKET_SIZE = 512 * 1024;

/** Typed handler per message kind; a kind without a handler is rejected as unexpected. */
export type MessageHandlers = {
  [K in MessageKind]?: (message: Extract<DecodedMessage, { kind: K }>) => void | Promise<void>;
};

/** A message published on (re)connect, or registered as the last will. */
export interface LinkMessage {
  topic: string;
  payload: Buffer | string;
  qos: 0 | 1;
  retain: boolean;
}

/** Options of MqttLink.connect. */
export interface MqttLinkOptions {
  url: string;
  clientId: string;
  /** 5 by default; 4 for the embedded aedes broker (it only speaks 3.1.1). */
  protocolVersion?: 4 | 5;
  username?: string;
  password?: string;
  /**
   * Client certificate TLS (use an `mqtts://` url): the broker's CA and this
   * client's certificate and key, PEM. The broker's certificate is always
   * verified against `ca`; there is no switch to turn that off.
   */
  tls?: { ca: string | Buffer; cert: string | Buffer; key: string | Buffer; servername?: string };
  /** Published by the broker when this client vanishes (device: retained offline status). */
  will?: LinkMessage;
  /** Published after every (re)connect (device: retained online status, then hello). */
  onConnectPublish?: () => LinkMessage[];
  /** Topic filters subscribed at QoS 1 and restored after every reconnect. */
  subscriptions?: string[];
  handlers: MessageHandlers;
  counter: RejectionCounter;
  /** Reconnect backoff: doubles from initialMs to maxMs, with jitter; reset on success. */
  backoff?: { initialMs: number; maxMs: number };
  /** Injected randomness for jitter (0..1). */
  random?: () => number;
  /** Largest packet we let the broker send us (MQTT 5 only; default DEFAULT_MAX_PACKET_SIZE). */
  maxPacketSize?: number;
  /**
   * MQTT 5 Receive Maximum: how many QoS 1 messages the broker may have in
   * flight to us at once. Without it mosquitto uses its max_inflight_messages
   * (20) and QUEUES the rest, then silently drops everything past
   * max_queued_messages (1000), QoS 1 included, while each publisher got its
   * PUBACK: a subscriber that takes a whole fleet's reports must raise it.
   */
  receiveMaximum?: number;
  /**
   * Drops and re-opens the connection when a PUBACK, SUBACK or UNSUBACK is
   * this late (0 or unset: never). MQTT.js sends PINGREQ only on an idle
   * link, so a connection on which the broker stopped answering but the
   * client keeps sending never times out by keepalive: measured in a
   * 5,000-device fan-out on mosquitto 2.0.11, a few dozen devices waited
   * minutes for an UNSUBACK and PUBACKs on a connection both ends still held
   * open. A reconnect resends the unacknowledged QoS 1 publishes.
   */
  ackTimeoutMs?: number;
  /** Called when the ack watchdog drops the connection (for logs and counters). */
  onAckTimeout?: (waitedMs: number) => void;
  onConnect?: () => void;
  onDisconnect?: () => void;
  /** Handler exceptions land here; they never crash the link. */
  onHandlerError?: (err: unknown, kind: TopicKind) => void;
  /**
   * Messages on the broker's own topics (`$SYS/...`, outside the protocol
   * tree), undecoded: the server reads the broker's denial log there. Without
   * it they are counted and dropped like any unknown topic.
   */
  onBrokerMessage?: (topic: string, payload: Buffer) => void;
}

/**
 * Thin MQTT.js adapter shared by agent and server: every incoming message is
 * decoded and validated before any handler sees it, and anything invalid or
 * unexpected is counted and dropped. Handlers therefore only ever get typed,
 * well-formed messages, and a throwing handler cannot take the process down.
 */
export class MqttLink {
  readonly #client: MqttClient;
  readonly #o: MqttLinkOptions;
  #delay: number;
  /** Acks awaited (token -> since when); only those asked on the current connection count as late. */
  readonly #awaiting = new Map<number, number>();
  #nextToken = 0;
  #watchdog: NodeJS.Timeout | undefined;
  /** Connections dropped because an ack was late (see ackTimeoutMs). */
  ackTimeouts = 0;

  private constructor(client: MqttClient, options: MqttLinkOptions) {
    this.#client = client;
    this.#o = options;
    this.#delay = options.backoff?.initialMs ?? 500;
    client.on('message', (topic, payload) => this.#onMessage(topic, payload));
    client.on('connect', () => {
      // What was awaited on the old connection is resent now: its clock starts again.
      const now = Date.now();
      for (const k of this.#awaiting.keys()) this.#awaiting.set(k, now);
      this.#delay = this.#o.backoff?.initialMs ?? 500;
      client.options.reconnectPeriod = this.#delay;
      for (const m of this.#o.onConnectPublish?.() ?? []) {
        client.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain }, () => undefined);
      }
      this.#o.onConnect?.();
    });
    client.on('close', () => {
      // MQTT.js only knows a fixed reconnect period; raising it before its
      // reconnect timer is armed gives exponential backoff, so a broker
      // restart is not met by the whole fleet reconnecting in the same second.
      const max = this.#o.backoff?.maxMs ?? 30_000;
      const jitter = 0.5 + (this.#o.random ?? Math.random)() / 2;
      client.options.reconnectPeriod = Math.max(1, Math.round(this.#delay * jitter));
      this.#delay = Math.min(max, this.#delay * 2);
      this.#o.onDisconnect?.();
    });
    // Errors surface as close/reconnect; an unhandled 'error' event would throw.
    client.on('error', () => undefined);
    const ackTimeout = options.ackTimeoutMs ?? 0;
    if (ackTimeout > 0) {
      this.#watchdog = setInterval(() => this.#checkAcks(ackTimeout), Math.max(10, Math.floor(ackTimeout / 4)));
      this.#watchdog.unref();
    }
  }

  #checkAcks(timeoutMs: number): void {
    if (!this.#client.connected) return;
    const now = Date.now();
    let oldest = now;
    for (const since of this.#awaiting.values()) oldest = Math.min(oldest, since);
    if (now - oldest < timeoutMs) return;
    this.ackTimeouts += 1;
    for (const k of this.#awaiting.keys()) this.#awaiting.set(k, now);
    this.#o.onAckTimeout?.(now - oldest);
    this.#client.stream.destroy();
  }

  /** Counts `p` as an awaited ack until it settles. */
  async #acked<T>(p: Promise<T>): Promise<T> {
    const token = this.#nextToken++;
    this.#awaiting.set(token, Date.now());
    try {
      return await p;
    } finally {
      this.#awaiting.delete(token);
    }
  }

  /** Connects (waiting for the first CONNACK) and subscribes. */
  static async connect(options: MqttLinkOptions): Promise<MqttLink> {
    const protocolVersion = options.protocolVersion ?? 5;
    const clientOptions: IClientOptions = {
      clientId: options.clientId,
      protocolVersion,
      clean: true,
      reconnectPeriod: options.backoff?.initialMs ?? 500,
      connectTimeout: 10_000,
      resubscribe: true,
    };
    if (options.username !== undefined) clientOptions.username = options.username;
    if (options.password !== undefined) clientOptions.password = options.password;
    if (options.tls !== undefined) {
      clientOptions.ca = options.tls.ca;
      clientOptions.cert = options.tls.cert;
      clientOptions.key = options.tls.key;
      clientOptions.rejectUnauthorized = true;
      if (options.tls.servername !== undefined) clientOptions.servername = options.tls.servername;
    }
    if (options.will !== undefined) {
      clientOptions.will = { ...options.will, payload: Buffer.from(options.will.payload) };
    }
    if (protocolVersion === 5) {
      // Tell the broker not to forward anything bigger than the largest
      // legitimate message (a 256 KiB chunk frame or a 96 KiB offer): junk
      // that large is then dropped at the broker, before it costs us memory.
      clientOptions.properties = {
        maximumPacketSize: options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE,
        ...(options.receiveMaximum !== undefined ? { receiveMaximum: options.receiveMaximum } : {}),
      };
    }
    const client = mqtt.connect(options.url, clientOptions);
    const link = new MqttLink(client, options);
    try {
      await new Promise<void>((resolve, reject) => {
        const onErr = (err: Error) => {
          client.off('connect', onOk);
          reject(err);
        };
        const onOk = () => {
          client.off('error', onErr);
          resolve();
        };
        client.once('connect', onOk);
        client.once('error', onErr);
      });
      if (options.subscriptions && options.subscriptions.length > 0) await link.subscribe(options.subscriptions);
    } catch (err) {
      clearInterval(link.#watchdog);
      await client.endAsync(true).catch(() => undefined);
      throw new ProtocolError(ProtocolErrorCode.NOT_CONNECTED, `cannot connect to ${options.url}`, { cause: err, transient: true });
    }
    return link;
  }

  /** True while connected to the broker. */
  get connected(): boolean {
    return this.#client.connected;
  }

  /** Subscribes at QoS 1 (kept across reconnects). */
  async subscribe(filters: string[]): Promise<void> {
    await this.#acked(this.#client.subscribeAsync(filters.map((f) => f), { qos: 1 }));
  }

  /** Unsubscribes. */
  async unsubscribe(filters: string[]): Promise<void> {
    await this.#acked(this.#client.unsubscribeAsync(filters));
  }

  /**
   * Publishes; resolves when handed to the broker (QoS 1: on PUBACK). A
   * PUBACK says the broker has it, NOT that any subscriber got it.
   */
  async publish(topic: string, payload: Buffer | string, options: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    const sent = this.#client.publishAsync(topic, payload, { qos: options.qos ?? 1, retain: options.retain ?? false });
    await ((options.qos ?? 1) === 1 ? this.#acked(sent) : sent);
  }

  /** Publishes a JSON message. */
  publishJson(topic: string, message: unknown, options: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    return this.publish(topic, JSON.stringify(message), options);
  }

  /** Breaks the connection as a network failure would; the client reconnects with backoff. */
  dropConnection(): void {
    this.#client.stream.destroy();
  }

  /** Disconnects. `force` skips the DISCONNECT packet so the broker publishes the will (tests of power loss). */
  async close(force = false): Promise<void> {
    clearInterval(this.#watchdog);
    if (force) {
      // Destroying the socket is what a power cut looks like to the broker.
      this.#client.stream.destroy();
    }
    await this.#client.endAsync(force);
  }

  #onMessage(topic: string, payload: Buffer): void {
    if (this.#o.onBrokerMessage !== undefined && topic.startsWith('$SYS/')) {
      try {
        this.#o.onBrokerMessage(topic, payload);
      } catch {
        // A broker log line is information only: a failing reader must not take the link down.
      }
      return;
    }
    const decoded = decodeMessage(topic, payload);
    if (!decoded.ok) {
      this.#o.counter.record(decoded, topic);
      return;
    }
    const handler = this.#o.handlers[decoded.kind] as ((m: DecodedMessage) => void | Promise<void>) | undefined;
    if (handler === undefined) {
      this.#o.counter.record(
        { ok: false, reason: RejectCode.UNEXPECTED, detail: `no handler for ${decoded.kind} here`, kind: topicKindOf(decoded.kind) },
        topic,
      );
      return;
    }
    try {
      void Promise.resolve(handler(decoded)).catch((err: unknown) => this.#o.onHandlerError?.(err, topicKindOf(decoded.kind)));
    } catch (err) {
      this.#o.onHandlerError?.(err, topicKindOf(decoded.kind));
    }
  }
}
