import type { CampaignState } from './states.ts';

export type CampaignCommand = 'pause' | 'resume' | 'cancel' | 'auto_pause' | 'auto_abort' | 'complete';

/**
 * Operator and engine commands per campaign state. Anything not listed is an
 * illegal change (HTTP 409). Terminal states accept nothing, so a cancel that
 * races with completion cannot resurrect a campaign.
 */
export const campaignTransitionRows: readonly (readonly [CampaignState, CampaignCommand, CampaignState])[] = [
  ['running', 'pause', 'paused'],
  ['running', 'auto_pause', 'paused'],
  ['running', 'auto_abort', 'aborted'],
  ['running', 'cancel', 'canceled'],
  ['running', 'complete', 'completed'],
  ['paused', 'resume', 'running'],
  ['paused', 'cancel', 'canceled'],
  ['paused', 'pause', 'paused'],
];

/** Next campaign state, or null when the command is illegal in `current`. */
export function nextCampaignState(current: CampaignState, cmd: CampaignCommand): CampaignState | null {
  for (const [from, c, to] of campaignTransitionRows) if (from === current && c === cmd) return to;
  return null;
}
