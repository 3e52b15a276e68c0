import { describe, expect, it } from 'vitest';
import { actionTransitionRows, downloadOnlyRows, nextActionState } from './action-transitions.ts';
import { evaluateAbortCriteria } from './abort-criteria.ts';
import { campaignTransitionRows, nextCampaignState } from './campaign-transitions.ts';
import { decideRetry, transientFailureKinds } from './retry-policy.ts';
import { isTimedOut } from './timeout.ts';
import { decideWave, planWaves, waveRows } from './waves.ts';
import { inMaintenanceWindow } from './maintenance-window.ts';
import { matchesTarget } from './targeting.ts';
import { allActionStates, allCampaignStates, allFailureKinds, allReportSteps, terminalStates, type ActionState } from './states.ts';
import type { AbortCriterion } from './spec.ts';

describe('action transition table', () => {
  // Every (step, from) pair the table names, checked one by one.
  const rows = actionTransitionRows.flatMap(([step, froms, to]) => froms.map((from) => [step, from, to] as const));
  it.each(rows)('%s while %s -> %s', (step, from, to) => {
    expect(nextActionState(step, from)).toBe(to);
  });

  const dlRows = downloadOnlyRows.flatMap(([step, froms, to]) => froms.map((from) => [step, from, to] as const));
  it.each(dlRows)('download-only: %s while %s -> %s', (step, from, to) => {
    expect(nextActionState(step, from, true)).toBe(to);
  });

  it('every pair not in the table is ignored, and terminal states never move', () => {
    const named = new Set(rows.map(([s, f]) => `${s}|${f}`));
    for (const step of allReportSteps) {
      for (const from of allActionStates) {
        if (named.has(`${step}|${from}`)) continue;
        expect(nextActionState(step, from), `${step}|${from}`).toBe('ignore');
      }
      for (const t of terminalStates) expect(nextActionState(step, t)).toBe('ignore');
    }
  });

  it('only the commit report leads to succeeded in install campaigns', () => {
    for (const step of allReportSteps) {
      for (const from of allActionStates) {
        if (nextActionState(step, from) === 'succeeded') expect(step).toBe('committed');
      }
    }
  });
});

describe('wave plan', () => {
  it.each([
    [10, { canary: 2, percents: [50, 100], successPercent: 100 }, [2, 3, 5]],
    [10, { canary: 0, percents: [100], successPercent: 100 }, [10]],
    [10, { canary: 1, percents: [], successPercent: 100 }, [1, 9]],
    [3, { canary: 5, percents: [10, 100], successPercent: 100 }, [3, 0, 0]],
    [100, { canary: 1, percents: [10, 50], successPercent: 100 }, [1, 9, 40, 50]],
  ])('%i targets with %j -> %j', (total, waves, sizes) => {
    expect(planWaves(total, waves)).toEqual(sizes);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(total);
  });
});

describe('wave advancement table', () => {
  const cases: [string, { planned: number; pending: number; succeeded: number; failed: number }, number, string][] = [
    ['empty wave', { planned: 0, pending: 0, succeeded: 0, failed: 0 }, 100, 'advance'],
    ['devices still pending', { planned: 3, pending: 1, succeeded: 2, failed: 0 }, 50, 'wait'],
    ['success share reached', { planned: 4, pending: 0, succeeded: 3, failed: 1 }, 75, 'advance'],
    ['success share missed', { planned: 4, pending: 0, succeeded: 3, failed: 1 }, 76, 'pause'],
  ];
  it('has one case per row', () => {
    expect(cases.map((c) => c[0])).toEqual(waveRows.map((r) => r[0]));
  });
  it.each(cases)('%s', (row, tally, pct, decision) => {
    expect(decideWave(tally, pct)).toEqual({ decision, row });
  });
  it('a pending device is waited for even when the early finishers all failed', () => {
    expect(decideWave({ planned: 3, pending: 1, succeeded: 0, failed: 2 }, 100).decision).toBe('wait');
  });
});

describe('abort criteria', () => {
  const c = (over: Partial<AbortCriterion>): AbortCriterion => ({ failureType: 'all', thresholdPercent: 50, minFinished: 4, action: 'pause', ...over });
  const counts = (o: Partial<Record<ActionState, number>>) => o;
  it.each<[string, Partial<Record<ActionState, number>>, AbortCriterion[], string | null]>([
    ['below minFinished never fires', counts({ failed: 3 }), [c({})], null],
    ['at minFinished and threshold fires', counts({ failed: 2, succeeded: 2 }), [c({})], 'pause'],
    ['below threshold does not fire', counts({ failed: 1, succeeded: 3 }), [c({})], null],
    ['in-flight devices do not count as finished', counts({ failed: 2, installing: 10, queued: 5, succeeded: 1 }), [c({})], null],
    ['rolled back counts under all', counts({ rolled_back: 2, succeeded: 2 }), [c({})], 'pause'],
    ['rolled back counts under rolled_back', counts({ rolled_back: 2, succeeded: 2 }), [c({ failureType: 'rolled_back' })], 'pause'],
    ['timed out is not counted under failed', counts({ timed_out: 3, succeeded: 1 }), [c({ failureType: 'failed' })], null],
    ['timed out counted under timed_out', counts({ timed_out: 3, succeeded: 1 }), [c({ failureType: 'timed_out' })], 'pause'],
    ['rejected counted under rejected', counts({ rejected: 2, succeeded: 2 }), [c({ failureType: 'rejected' })], 'pause'],
    ['abort wins over pause', counts({ failed: 4 }), [c({}), c({ action: 'abort' })], 'abort'],
    ['canceled devices are not finished', counts({ canceled: 10, failed: 1, succeeded: 2 }), [c({ minFinished: 3 })], null],
  ])('%s', (_name, cs, criteria, expected) => {
    expect(evaluateAbortCriteria(cs, criteria)?.criterion.action ?? null).toBe(expected);
  });
});

describe('retry policy', () => {
  const policy = { maxAttempts: 3, baseDelayMs: 1000, factor: 2, maxDelayMs: 3000 };
  it.each<[string, Parameters<typeof decideRetry>[0], number, ReturnType<typeof decideRetry>]>([
    ['download error, attempt 1 -> base delay', 'download_error', 1, { retry: true, at: 1000 }],
    ['disconnect, attempt 2 -> doubled', 'disconnect', 2, { retry: true, at: 2000 }],
    ['at maxAttempts -> give up', 'download_error', 3, { retry: false }],
    ['verify failure is permanent', 'verify_failed', 1, { retry: false }],
    ['install error is permanent', 'install_error', 1, { retry: false }],
    ['incompatible is permanent', 'incompatible', 1, { retry: false }],
    ['unclassified is permanent', 'other', 1, { retry: false }],
    ['no kind is permanent', null, 1, { retry: false }],
  ])('%s', (_n, kind, attempt, expected) => {
    expect(decideRetry(kind, attempt, policy, 0)).toEqual(expected);
  });
  it('caps the delay at maxDelayMs', () => {
    expect(decideRetry('disconnect', 5, { ...policy, maxAttempts: 10 }, 0)).toEqual({ retry: true, at: 3000 });
  });
  it('classifies exactly disconnect and download errors as transient', () => {
    expect(allFailureKinds.filter((k) => transientFailureKinds.has(k)).sort()).toEqual(['disconnect', 'download_error']);
  });
});

describe('timeout sweep', () => {
  it.each<[ActionState, number | null, number, boolean]>([
    ['offered', 0, 999, false],
    ['offered', 0, 1000, true],
    ['rebooting', 0, 5000, true],
    ['canceling', 0, 1000, true],
    ['queued', 0, 5000, false],
    ['retry_wait', 0, 5000, false],
    ['succeeded', 0, 5000, false],
    ['downloading', null, 5000, false],
  ])('%s since %s, now %i -> %s', (state, progress, now, expected) => {
    expect(isTimedOut(state, progress, now, 1000)).toBe(expected);
  });
});

describe('campaign state table', () => {
  it.each(campaignTransitionRows.map((r) => [...r]))('%s + %s -> %s', (from, cmd, to) => {
    expect(nextCampaignState(from, cmd)).toBe(to);
  });
  it('terminal campaigns accept no command', () => {
    for (const s of allCampaignStates.filter((x) => x === 'completed' || x === 'canceled' || x === 'aborted')) {
      for (const cmd of ['pause', 'resume', 'cancel', 'auto_pause', 'auto_abort', 'complete'] as const) {
        expect(nextCampaignState(s, cmd)).toBeNull();
      }
    }
  });
  it('a running campaign cannot be resumed', () => {
    expect(nextCampaignState('running', 'resume')).toBeNull();
  });
});

describe('maintenance window', () => {
  const at = (h: number, m: number) => Date.UTC(2026, 0, 1, h, m);
  it.each([
    [undefined, at(3, 0), true],
    [{ start: '02:00', durationMinutes: 60 }, at(1, 59), false],
    [{ start: '02:00', durationMinutes: 60 }, at(2, 0), true],
    [{ start: '02:00', durationMinutes: 60 }, at(3, 0), false],
    [{ start: '23:00', durationMinutes: 120 }, at(0, 30), true],
    [{ start: '23:00', durationMinutes: 120 }, at(1, 0), false],
  ])('%j at %i -> %s', (w, now, expected) => {
    expect(inMaintenanceWindow(w, now)).toBe(expected);
  });
});

describe('target selection', () => {
  const image = { version: '2', compatible: ['a'] };
  const dev = { id: 'd1', hardware: 'a', tags: ['lab'], currentVersion: '1' };
  it.each<[string, Parameters<typeof matchesTarget>[0], Parameters<typeof matchesTarget>[1], boolean]>([
    ['explicit id', dev, { deviceIds: ['d1'] }, true],
    ['explicit ids exclude others even when filters match', dev, { deviceIds: ['d2'], hardware: ['a'] }, false],
    ['tag any-of', dev, { tags: ['x', 'lab'] }, true],
    ['tag missing', dev, { tags: ['x'] }, false],
    ['hardware filter', dev, { hardware: ['b'] }, false],
    ['current version filter', dev, { currentVersions: ['1'] }, true],
    ['current version mismatch', dev, { currentVersions: ['0.9'] }, false],
    ['filters are ANDed', dev, { tags: ['lab'], currentVersions: ['0.9'] }, false],
    ['incompatible hardware never matches', { ...dev, hardware: 'b' }, { deviceIds: ['d1'] }, false],
    ['already on the version never matches', { ...dev, currentVersion: '2' }, { deviceIds: ['d1'] }, false],
  ])('%s', (_n, d, t, expected) => {
    expect(matchesTarget(d, t, image)).toBe(expected);
  });
});
