/**
 * Bounds how many chunk publishes are handed to the MQTT client at once.
 *
 * The chunk server publishes for every downloading device in parallel. When
 * the socket to the broker is full, MQTT.js parks each further publish on a
 * 'drain' listener of that one socket: with 2,500 devices downloading, 2,500
 * listeners (Node's MaxListenersExceededWarning in the 5,000-device bench),
 * each drain waking all of them, and every queued frame held in memory. A
 * bounded queue in front keeps the socket full without that pile: the
 * broker's pace (how fast it takes our bytes) sets the publishing pace.
 */
export class PublishPacer {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`publish limit must be a positive integer, not ${limit}`);
  }

  /** Publishes still waiting for a slot. */
  get queued(): number {
    return this.#waiting.length;
  }

  /** Runs `publish` once fewer than `limit` are in progress (first come, first served). */
  async run<T>(publish: () => Promise<T>): Promise<T> {
    if (this.#active < this.limit) this.#active++;
    // The slot is handed over by the finishing publish (see below), so
    // `active` never exceeds the limit.
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await publish();
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#active--;
    }
  }
}
