import { describe, expect, it } from 'vitest';
import { ProgressBar, summaryText } from './summary.ts';
import type { CaseResult } from './cases.ts';

function sink(isTTY: boolean): { text: () => string; write: (s: string) => boolean; isTTY: boolean } {
  let t = '';
  return { isTTY, text: () => t, write: (s: string) => ((t += s), true) };
}

describe('ProgressBar', () => {
  it('draws nothing when the output is not a TTY (CI logs stay clean)', () => {
    const out = sink(false);
    const bar = new ProgressBar(out, 10);
    bar.update(5, 1);
    bar.finish();
    expect(out.text()).toBe('');
  });

  it('redraws one line in place on a TTY and ends it', () => {
    const out = sink(true);
    const bar = new ProgressBar(out, 4);
    bar.update(1, 0);
    bar.update(1, 0);
    bar.update(4, 1);
    bar.finish();
    expect(out.text()).toBe(`\r\x1b[2K[${'#'.repeat(8)}${'.'.repeat(22)}] 1/4 cases, 0 with violations\r\x1b[2K[${'#'.repeat(30)}] 4/4 cases, 1 with violations\n`);
  });
});

describe('summaryText', () => {
  const r = (scenario: number, index: number, violations: string[], skipped: string | null = null): CaseResult => ({ scenario, index, name: `s${scenario}c${index}`, violations, skipped, durationMs: 0 });

  it('marks each scenario, lists violations and totals', () => {
    const text = summaryText(
      [{ name: 'install', note: '' }, { name: 'sweep', note: 'image behaves ok' }, { name: 'downgrade', note: '' }],
      [r(0, 0, []), r(1, 0, []), r(1, 1, ['env still has a trial pending']), r(2, 0, [], 'counter is 0')],
      ['a note'],
    );
    expect(text).toBe(
      [
        'note: a note',
        'ok   install — 1 cases passed',
        'FAIL sweep — 1/2 cases violated invariants (image behaves ok)',
        'SKIP downgrade — skipped: counter is 0',
        '',
        'violations:',
        '  s1c1: env still has a trial pending',
        '',
        'fault-test: 4 cases, 2 passed, 1 with violations, 1 skipped',
        '',
      ].join('\n'),
    );
  });

  it('names the tier first and, under a violation, where power was cut', () => {
    const bad: CaseResult = { ...r(0, 0, ['runs 1.0.0, expected 2.0.0']), cuts: ['op 3: torn write of 828 bytes to slot B'] };
    const lines = summaryText([{ name: 'sweep', note: '' }], [bad], [], 'microvm').split('\n');
    expect(lines[0]).toMatch(/^tier: QEMU microvm \(/);
    expect(lines).toContain('  s0c0: runs 1.0.0, expected 2.0.0');
    expect(lines).toContain('    where power was cut: op 3: torn write of 828 bytes to slot B');
  });
});
