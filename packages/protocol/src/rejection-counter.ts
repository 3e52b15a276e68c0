import type { Rejection, RejectCode } from './decode.ts';

/** Minimal logger shape (pino-compatible) so callers inject their own. */
export interface ProtocolLogger {
  warn(obj: object, msg: string): void;
}

/**
 * Counts dropped messages by reason and logs each one. A rejection must be
 * visible (operators see a rogue client) but must never change state, so this
 * is the only thing that happens to a rejected message.
 */
export class RejectionCounter {
  readonly #counts = new Map<RejectCode, number>();
  readonly #logger: ProtocolLogger | undefined;
  readonly #onReject: ((r: Rejection, topic: string) => void) | undefined;

  /** `onReject` lets a caller mirror counts into its metrics (e.g. prom-client). */
  constructor(options: { logger?: ProtocolLogger; onReject?: (r: Rejection, topic: string) => void } = {}) {
    this.#logger = options.logger;
    this.#onReject = options.onReject;
  }

  /** Records one rejection. */
  record(rejection: Rejection, topic: string): void {
    this.#counts.set(rejection.reason, (this.#counts.get(rejection.reason) ?? 0) + 1);
    this.#logger?.warn(
      { topic: topic.slice(0, 200), reason: rejection.reason, detail: rejection.detail },
      'mqtt message rejected',
    );
    this.#onReject?.(rejection, topic);
  }

  /** Count for one reason. */
  count(reason: RejectCode): number {
    return this.#counts.get(reason) ?? 0;
  }

  /** Total over all reasons. */
  total(): number {
    let n = 0;
    for (const v of this.#counts.values()) n += v;
    return n;
  }

  /** Snapshot of all counts. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}
