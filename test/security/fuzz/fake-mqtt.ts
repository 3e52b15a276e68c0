/**
 * An in-process stand-in for the MQTT.js client, installed with
 * `vi.mock('mqtt', ...)`, so the real MqttLink (decode, validate, count,
 * dispatch) and the real agent service / server gateway run unchanged while
 * the fuzzer delivers messages straight into them: no broker, no sockets,
 * 100,000 inputs in seconds.
 */
import { EventEmitter } from 'node:events';

/** What a client published (the fuzz targets read reports and requests from here). */
export interface Published {
  topic: string;
  payload: Buffer;
}

/** The client MqttLink gets from `mqtt.connect`. */
export class FakeMqttClient extends EventEmitter {
  readonly published: Published[] = [];
  readonly subscriptions = new Set<string>();
  connected = false;
  readonly stream = { destroy: (): void => undefined };

  constructor(
    readonly url: string,
    readonly options: Record<string, unknown>,
  ) {
    super();
    // MQTT.js connects asynchronously; so does this one (after the link attached its listeners).
    queueMicrotask(() => {
      this.connected = true;
      this.emit('connect');
    });
  }

  /** Delivers a message as if the broker had forwarded it. */
  deliver(topic: string, payload: Buffer): void {
    this.emit('message', topic, payload);
  }

  publish(topic: string, payload: string | Buffer, _opts: unknown, cb?: () => void): this {
    this.published.push({ topic, payload: Buffer.from(payload) });
    cb?.();
    return this;
  }

  async publishAsync(topic: string, payload: string | Buffer): Promise<void> {
    this.published.push({ topic, payload: Buffer.from(payload) });
  }

  async subscribeAsync(filters: string[]): Promise<void> {
    for (const f of filters) this.subscriptions.add(f);
  }

  async unsubscribeAsync(filters: string[]): Promise<void> {
    for (const f of filters) this.subscriptions.delete(f);
  }

  async endAsync(): Promise<void> {
    this.connected = false;
  }
}

/** Every client created, by client id. */
export const clients = new Map<string, FakeMqttClient>();

/** The module that replaces `mqtt` (only `connect` is used by MqttLink). */
export const fakeMqttModule = {
  default: {
    connect(url: string, options: Record<string, unknown>): FakeMqttClient {
      const c = new FakeMqttClient(url, options);
      clients.set(String(options.clientId), c);
      return c;
    },
  },
};
