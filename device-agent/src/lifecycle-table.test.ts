import { describe, expect, it } from 'vitest';
import { AGENT_STATES } from './agent-state.ts';
import { AGENT_EVENTS, TRANSITIONS, nextState } from './lifecycle-table.ts';

describe('lifecycle transition table', () => {
  it.each(TRANSITIONS.map((t) => [t.from, t.on, t.to] as const))('%s --%s--> %s', (from, on, to) => {
    expect(nextState(from, on)).toBe(to);
  });

  it('refuses every pair the table does not list', () => {
    const listed = new Set(TRANSITIONS.map((t) => `${t.from}|${t.on}`));
    let refused = 0;
    for (const s of AGENT_STATES) {
      for (const e of AGENT_EVENTS) {
        if (listed.has(`${s}|${e}`)) continue;
        expect(() => nextState(s, e)).toThrow(expect.objectContaining({ code: 'ILLEGAL_TRANSITION' }));
        refused += 1;
      }
    }
    expect(refused).toBeGreaterThan(0);
  });

  it('has exactly one row per (state, event)', () => {
    const keys = TRANSITIONS.map((t) => `${t.from}|${t.on}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('reaches every state from idle, and idle again from every state', () => {
    const reach = (start: string, forward: boolean) => {
      const seen = new Set([start]);
      const todo = [start];
      while (todo.length > 0) {
        const cur = todo.pop() as string;
        for (const t of TRANSITIONS) {
          const [a, b] = forward ? [t.from, t.to] : [t.to, t.from];
          if (a === cur && !seen.has(b)) {
            seen.add(b);
            todo.push(b);
          }
        }
      }
      return seen;
    };
    expect([...reach('idle', true)].sort()).toEqual([...AGENT_STATES].sort());
    expect([...reach('idle', false)].sort()).toEqual([...AGENT_STATES].sort());
  });

  it('lets nothing that already touched the boot state be cancelled', () => {
    const cancellable = TRANSITIONS.filter((t) => t.on === 'cancel').map((t) => t.from).sort();
    expect(cancellable).toEqual(['downloading', 'installed', 'verifying-slot']);
  });
});
