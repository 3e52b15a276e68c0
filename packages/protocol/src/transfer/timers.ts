/**
 * Clock and timers injected into the transfer state machines, so tests drive
 * time by hand and nothing in them depends on the real event loop.
 */
export interface TransferTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Real wall-clock timers (the adapter the agent and server use). */
export const realTimers: TransferTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending re-request must not keep a process alive on shutdown.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};
