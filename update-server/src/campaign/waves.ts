import type { CampaignSpec } from './spec.ts';

/** Splits `total` ordered targets into wave sizes: the canary first, then cumulative percentages. */
export function planWaves(total: number, waves: CampaignSpec['waves']): number[] {
  const sizes: number[] = [];
  const canary = Math.min(waves.canary, total);
  if (waves.canary > 0) sizes.push(canary);
  let assigned = canary;
  // Always end at 100% so no target is left without a wave.
  const percents = [...waves.percents];
  if (percents.length === 0 || percents[percents.length - 1] !== 100) percents.push(100);
  for (const pct of percents) {
    const upTo = Math.max(assigned, Math.min(total, Math.ceil((total * pct) / 100)));
    sizes.push(upTo - assigned);
    assigned = upTo;
  }
  return sizes;
}

/** Per-wave tallies the advancement rule reads. */
export interface WaveTally {
  planned: number;
  /** Actions in the wave not yet terminal (including queued and retry_wait). */
  pending: number;
  succeeded: number;
  failed: number;
}

export type WaveDecision = 'wait' | 'advance' | 'pause';

type Row = readonly [name: string, when: (t: WaveTally, successPercent: number) => boolean, decision: WaveDecision];

/**
 * Whether the campaign may open the next wave. Row order matters: the first
 * matching row wins, so "still pending" is checked before any percentage,
 * because a wave half-way done must never be judged on its early finishers.
 */
export const waveRows: readonly Row[] = [
  ['empty wave', (t) => t.pending + t.succeeded + t.failed === 0, 'advance'],
  ['devices still pending', (t) => t.pending > 0, 'wait'],
  ['success share reached', (t, p) => (t.succeeded * 100) / (t.succeeded + t.failed) >= p, 'advance'],
  ['success share missed', () => true, 'pause'],
];

/** Decides what to do with the current wave. */
export function decideWave(t: WaveTally, successPercent: number): { decision: WaveDecision; row: string } {
  for (const [name, when, decision] of waveRows) if (when(t, successPercent)) return { decision, row: name };
  /* c8 ignore next */
  throw new Error('unreachable: the last wave row always matches');
}
