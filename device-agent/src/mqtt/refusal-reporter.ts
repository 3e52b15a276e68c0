/**
 * Tells the server about commands the agent refused without answering them
 * (another device's, unsigned, expired, replayed). The agent still does not
 * answer such a command (that would let anyone with write access to its
 * command topic drive its reports), but the server must not sit on an
 * `offered` action until the timeout, nor miss an attack on its fleet.
 *
 * Throttled per code: the first refusal of a code is reported at once, later
 * ones within `intervalMs` of the last report are summed into one report at
 * the end of that interval. So a flood of N forged commands costs the server
 * at most one message per code per interval, never N.
 */
import type { RefusalCode, RefusalReport } from '@uniota/protocol';

/** What one report says (the `refused` part of the wire message). */
export type RefusalSummary = RefusalReport['refused'];

/** Options of RefusalReporter. */
export interface RefusalReporterOptions {
  /** Sends one summary (fire and forget: a lost report is not worth holding the agent for). */
  send: (summary: RefusalSummary) => void;
  /** Shortest time between two reports of the same code (default 10 s). */
  intervalMs?: number;
  now: () => number;
  /** Runs `fn` after `ms`; returns a cancel function. Default: an unref'd setTimeout. */
  schedule?: (fn: () => void, ms: number) => () => void;
}

interface PerCode {
  /** When the last report of this code went out (-Infinity: never). */
  sentAt: number;
  /** Refusals not reported yet. */
  count: number;
  since: number;
  actionId: string | undefined;
  cancel: (() => void) | null;
}

const defaultSchedule = (fn: () => void, ms: number): (() => void) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

/** Per-code throttled refusal reports. */
export class RefusalReporter {
  readonly #codes = new Map<RefusalCode, PerCode>();
  readonly #interval: number;
  readonly #schedule: NonNullable<RefusalReporterOptions['schedule']>;
  #stopped = false;

  constructor(private readonly o: RefusalReporterOptions) {
    this.#interval = o.intervalMs ?? 10_000;
    this.#schedule = o.schedule ?? defaultSchedule;
  }

  /** Counts one refused command; `actionId` is what the command claimed (undefined if unreadable). */
  refused(code: RefusalCode, actionId: string | undefined): void {
    if (this.#stopped) return;
    const now = this.o.now();
    let c = this.#codes.get(code);
    if (c === undefined) {
      c = { sentAt: -Infinity, count: 0, since: now, actionId: undefined, cancel: null };
      this.#codes.set(code, c);
    }
    if (c.count === 0) c.since = now;
    c.count += 1;
    if (actionId !== undefined) c.actionId = actionId;
    if (c.cancel !== null) return; // a report of this code is already due
    const wait = c.sentAt + this.#interval - now;
    if (wait <= 0) this.#flush(code, c);
    else c.cancel = this.#schedule(() => this.#flush(code, c), wait);
  }

  /** Drops whatever is not reported yet and cancels the timers (agent stopping). */
  stop(): void {
    this.#stopped = true;
    for (const c of this.#codes.values()) c.cancel?.();
    this.#codes.clear();
  }

  #flush(code: RefusalCode, c: PerCode): void {
    c.cancel = null;
    if (this.#stopped || c.count === 0) return;
    const summary: RefusalSummary = { code, count: c.count, since: c.since, ...(c.actionId === undefined ? {} : { actionId: c.actionId }) };
    c.sentAt = this.o.now();
    c.count = 0;
    c.actionId = undefined;
    this.o.send(summary);
  }
}
