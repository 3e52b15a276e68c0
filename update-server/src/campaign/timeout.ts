import { inFlightStates, type ActionState } from './states.ts';

/**
 * True when an in-flight action made no progress for `timeoutMs`. The clock
 * restarts with every accepted report, so a slow but moving download is not
 * cut off; a device that went silent is.
 */
export function isTimedOut(state: ActionState, progressAt: number | null, now: number, timeoutMs: number): boolean {
  if (!inFlightStates.has(state) || progressAt === null) return false;
  return now - progressAt >= timeoutMs;
}
