/** Failed-login limit: at most `max` failures per key inside `windowMs`. */
export interface RateLimitOptions {
  max: number;
  windowMs: number;
}

export const defaultLoginLimit: RateLimitOptions = { max: 5, windowMs: 15 * 60_000 };

/**
 * Counts failed logins per key (the username and, separately, the client
 * address) in a sliding window, in memory: a restart forgets, which is
 * acceptable because the KDF already makes each guess expensive.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();
  constructor(private readonly clock: () => number, private readonly opts: RateLimitOptions = defaultLoginLimit) {}

  private recent(key: string): number[] {
    const since = this.clock() - this.opts.windowMs;
    const list = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (list.length === 0) this.failures.delete(key);
    else this.failures.set(key, list);
    return list;
  }

  /** Milliseconds until `key` may try again (0 = now). */
  retryAfterMs(key: string): number {
    const list = this.recent(key);
    if (list.length < this.opts.max) return 0;
    return Math.max(1, (list[list.length - this.opts.max] ?? 0) + this.opts.windowMs - this.clock());
  }

  /** Records a failure for `key`. */
  fail(key: string): void {
    this.failures.set(key, [...this.recent(key), this.clock()]);
  }

  /** Forgets `key` (after a successful login). */
  reset(key: string): void {
    this.failures.delete(key);
  }
}
