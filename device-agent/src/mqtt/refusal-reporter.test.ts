import { describe, expect, it } from 'vitest';
import { RefusalReporter, type RefusalSummary } from './refusal-reporter.ts';

/** A manual clock and timer queue: time moves only when the test says so. */
function world(intervalMs = 1000) {
  let now = 1_000_000;
  let timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  const sent: Array<RefusalSummary & { sentAt: number }> = [];
  const r = new RefusalReporter({
    send: (s) => sent.push({ ...s, sentAt: now }),
    intervalMs,
    now: () => now,
    schedule: (fn, ms) => {
      const t = { at: now + ms, fn, live: true };
      timers.push(t);
      return () => {
        t.live = false;
      };
    },
  });
  const advance = (ms: number) => {
    now += ms;
    const due = timers.filter((t) => t.live && t.at <= now);
    timers = timers.filter((t) => !due.includes(t));
    for (const t of due) t.fn();
  };
  return { r, sent, advance, pendingTimers: () => timers.filter((t) => t.live).length };
}

describe('RefusalReporter', () => {
  it('reports the first refusal of a code at once, with its claimed action id', () => {
    const w = world();
    w.r.refused('expired', '7.1');
    expect(w.sent).toEqual([{ code: 'expired', count: 1, since: 1_000_000, actionId: '7.1', sentAt: 1_000_000 }]);
  });

  it('sums a flood into one report per interval: 5000 refusals in 2.5 s are 4 messages, and every refusal is counted', () => {
    const w = world(1000);
    for (let i = 0; i < 5000; i++) {
      w.r.refused('bad-signature', `${9000 + i}.1`);
      w.advance(0.5);
    }
    w.advance(1000);
    expect(w.sent.length).toBe(4);
    expect(w.sent.reduce((n, s) => n + s.count, 0)).toBe(5000);
    // Never two reports of one code closer than the interval.
    for (let i = 1; i < w.sent.length; i++) expect(w.sent[i]!.sentAt - w.sent[i - 1]!.sentAt).toBeGreaterThanOrEqual(1000);
    // A summary names the last action id it covers and when its first refusal happened.
    expect(w.sent[1]).toMatchObject({ count: 1999, since: 1_000_000.5, actionId: '10999.1' });
  });

  it('throttles each code on its own: a flood of one code does not delay another', () => {
    const w = world(1000);
    w.r.refused('bad-signature', undefined);
    w.r.refused('bad-signature', undefined);
    w.r.refused('replayed', '3.1');
    expect(w.sent.map((s) => [s.code, s.count])).toEqual([
      ['bad-signature', 1],
      ['replayed', 1],
    ]);
    expect(w.sent[0]).not.toHaveProperty('actionId');
    w.advance(1000);
    expect(w.sent.map((s) => [s.code, s.count])).toEqual([
      ['bad-signature', 1],
      ['replayed', 1],
      ['bad-signature', 1],
    ]);
  });

  it('after a quiet interval the next refusal goes out at once again', () => {
    const w = world(1000);
    w.r.refused('id-mismatch', '1.1');
    w.advance(5000);
    w.r.refused('id-mismatch', '2.1');
    expect(w.sent.map((s) => [s.count, s.actionId, s.sentAt])).toEqual([
      [1, '1.1', 1_000_000],
      [1, '2.1', 1_005_000],
    ]);
    expect(w.pendingTimers()).toBe(0);
  });

  it('stop() cancels what is due and ignores later refusals', () => {
    const w = world(1000);
    w.r.refused('expired', '1.1');
    w.r.refused('expired', '1.1');
    w.r.stop();
    w.advance(2000);
    w.r.refused('expired', '1.1');
    expect(w.sent).toHaveLength(1);
    expect(w.pendingTimers()).toBe(0);
  });
});
