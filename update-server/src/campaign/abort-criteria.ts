import type { ActionState } from './states.ts';
import type { AbortCriterion, FailureType } from './spec.ts';

/** Which terminal action states each criterion failure type counts. */
export const failureTypeStates: Readonly<Record<FailureType, readonly ActionState[]>> = {
  failed: ['failed'],
  rolled_back: ['rolled_back'],
  timed_out: ['timed_out'],
  rejected: ['rejected'],
  all: ['failed', 'rolled_back', 'timed_out', 'rejected'],
};

const finishedStates: readonly ActionState[] = ['succeeded', 'failed', 'rolled_back', 'timed_out', 'rejected'];

/** A criterion that fired, with the numbers that made it fire (for the audit log). */
export interface AbortHit {
  criterion: AbortCriterion;
  finished: number;
  failures: number;
  percent: number;
}

/**
 * AWS IoT Jobs-style abort rules: a criterion applies once at least
 * `minFinished` devices finished (so one early failure in a big fleet is not
 * 100%), then fires when the counted failures reach `thresholdPercent` of the
 * finished devices. `abort` beats `pause` when both fire.
 */
export function evaluateAbortCriteria(
  counts: Readonly<Partial<Record<ActionState, number>>>,
  criteria: readonly AbortCriterion[],
): AbortHit | null {
  const finished = finishedStates.reduce((n, s) => n + (counts[s] ?? 0), 0);
  let hit: AbortHit | null = null;
  for (const criterion of criteria) {
    if (finished < criterion.minFinished || finished === 0) continue;
    const failures = failureTypeStates[criterion.failureType].reduce((n, s) => n + (counts[s] ?? 0), 0);
    const percent = (failures * 100) / finished;
    if (percent < criterion.thresholdPercent) continue;
    if (hit === null || (hit.criterion.action === 'pause' && criterion.action === 'abort')) {
      hit = { criterion, finished, failures, percent };
    }
  }
  return hit;
}
