import { decodeMessage, type DecodedMessage } from '../decode.ts';

/**
 * In-memory stand-in for an MQTT broker: exact-topic subscriptions, delivery
 * on a later macrotask (like a network), and an optional `drop` predicate to
 * lose messages. Messages pass through decodeMessage as they would on a real
 * link, so tests exercise the same validation.
 */
export class LoopbackBroker {
  readonly #subs = new Map<string, Set<(m: DecodedMessage) => void>>();
  drop: (topic: string, payload: Buffer) => boolean = () => false;
  delivered = 0;
  deliveredBytes = 0;

  /** Subscribes a handler to an exact topic; returns an unsubscribe function. */
  subscribe(topic: string, handler: (m: DecodedMessage) => void): () => void {
    let set = this.#subs.get(topic);
    if (set === undefined) {
      set = new Set();
      this.#subs.set(topic, set);
    }
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Publishes to every subscriber of the topic. */
  publish(topic: string, payload: Buffer): void {
    const handlers = [...(this.#subs.get(topic) ?? [])];
    for (const h of handlers) {
      if (this.drop(topic, payload)) continue;
      setImmediate(() => {
        const decoded = decodeMessage(topic, payload);
        if (!decoded.ok) throw new Error(`loopback got an invalid message: ${decoded.detail}`);
        this.delivered++;
        this.deliveredBytes += payload.length;
        h(decoded);
      });
    }
  }
}
