import { describe, expect, it } from 'vitest';
import { SpareBatchBuffers } from './batch-buffers.ts';
import type { IdleTimers } from './batch-buffers.ts';

/** Timers the test fires by hand. */
function manualTimers(): IdleTimers & { pending: Map<number, { fn: () => void; ms: number }>; fire(): void } {
  let next = 1;
  const pending = new Map<number, { fn: () => void; ms: number }>();
  return {
    pending,
    setTimeout: (fn, ms) => {
      pending.set(next, { fn, ms });
      return next++;
    },
    clearTimeout: (h) => void pending.delete(h as number),
    fire() {
      for (const [h, t] of [...pending]) {
        pending.delete(h);
        t.fn();
      }
    },
  };
}

describe('SpareBatchBuffers', () => {
  it('hands a kept buffer of the same size to the next install, and a new one otherwise', () => {
    const spare = new SpareBatchBuffers(1000, 30_000, manualTimers());
    const a = spare.take(100);
    const b = spare.take(100);
    expect(a).not.toBe(b);
    spare.giveBack([a, b]);
    expect(spare.heldBytes).toBe(200);
    const again = [spare.take(100), spare.take(100)];
    expect(new Set(again)).toEqual(new Set([a, b]));
    expect(spare.heldBytes).toBe(0);
    expect(spare.take(100)).not.toBe(a);
    spare.giveBack([a]);
    expect(spare.take(64)).not.toBe(a);
    expect(spare.take(64).byteLength).toBe(64);
  });

  it('keeps no more than its cap, and drops kept buffers of another size for the newest install', () => {
    const spare = new SpareBatchBuffers(250, 30_000, manualTimers());
    spare.giveBack([new SharedArrayBuffer(100), new SharedArrayBuffer(100), new SharedArrayBuffer(100)]);
    expect(spare.heldBytes).toBe(200);
    const newest = [new SharedArrayBuffer(120), new SharedArrayBuffer(120)];
    spare.giveBack(newest);
    expect(spare.heldBytes).toBe(240);
    expect(newest).toContain(spare.take(120));
    expect(spare.take(100)).toBeInstanceOf(SharedArrayBuffer);
    expect(spare.heldBytes).toBe(120);
  });

  it('lets everything go after the idle time, counted from the last install', () => {
    const timers = manualTimers();
    const spare = new SpareBatchBuffers(1000, 30_000, timers);
    spare.giveBack([new SharedArrayBuffer(100)]);
    spare.giveBack([new SharedArrayBuffer(100)]);
    // The second install restarted the idle clock: one timer, for 30 s.
    expect([...timers.pending.values()].map((t) => t.ms)).toEqual([30_000]);
    timers.fire();
    expect(spare.heldBytes).toBe(0);
    expect(timers.pending.size).toBe(0);
  });
});
