import type { TransferTimers } from '../transfer/timers.ts';

/**
 * Hand-driven clock for tests: time moves only in `advance`, and due timers
 * run in time order. Shared by the unit tests here and by the agent/server
 * tests that drive the transfer machines.
 */
export class ManualTimers implements TransferTimers {
  #now: number;
  #seq = 0;
  readonly #due = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  /** Current fake time. */
  now(): number {
    return this.#now;
  }

  /** Schedules fn at now + ms. */
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#due.set(id, { at: this.#now + ms, fn });
    return id;
  }

  /** Cancels a timer. */
  clearTimeout(handle: unknown): void {
    this.#due.delete(handle as number);
  }

  /** Moves time forward by ms, running due timers (and letting promises settle between them). */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await settle();
      let nextId: number | undefined;
      let nextAt = Infinity;
      for (const [id, t] of this.#due) {
        if (t.at <= end && t.at < nextAt) {
          nextAt = t.at;
          nextId = id;
        }
      }
      if (nextId === undefined) break;
      const t = this.#due.get(nextId);
      this.#due.delete(nextId);
      this.#now = Math.max(this.#now, nextAt);
      t?.fn();
    }
    this.#now = end;
    await settle();
  }
}

/** Lets queued promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}
