import type { FailureKind } from './states.ts';
import type { CampaignSpec } from './spec.ts';

/**
 * Only failures that a second try can fix are retried: a dropped link or a
 * broken download. A bad signature or an install error will fail the same
 * way again, and retrying it only hides the problem from the abort criteria.
 */
export const transientFailureKinds: ReadonlySet<FailureKind> = new Set<FailureKind>(['download_error', 'disconnect']);

export type RetryDecision = { retry: true; at: number } | { retry: false };

/** Whether attempt number `attempt` (1-based, the one that just failed) is retried, and when. */
export function decideRetry(
  kind: FailureKind | null,
  attempt: number,
  policy: CampaignSpec['retry'],
  now: number,
): RetryDecision {
  if (kind === null || !transientFailureKinds.has(kind)) return { retry: false };
  if (attempt >= policy.maxAttempts) return { retry: false };
  const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * policy.factor ** (attempt - 1));
  return { retry: true, at: now + delay };
}
