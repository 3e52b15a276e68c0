/**
 * The agent's report steps as protocol steps. The lifecycle has finer states
 * than operators need; this table is the one place that decides what each
 * becomes on the wire (null: not reported).
 */
import type { Step } from '@uniota/protocol';
import type { StatusReport } from '../transport.ts';

type Mapper = (r: StatusReport) => Step | null;

const failed: Mapper = (r) =>
  r.code === 'CANCELLED'
    ? { name: 'cancelled' }
    : { name: 'failed', code: (r.code ?? 'FAILED').slice(0, 64), reason: (r.reason ?? '').slice(0, 512), transient: r.transient ?? false };

export const STEP_MAP: Record<StatusReport['step'], Mapper> = {
  idle: () => null,
  downloading: (r) => ({ name: 'downloading', progress: { chunksDone: r.progress?.chunksDone ?? 0, chunkCount: r.progress?.chunkCount ?? 0 } }),
  'verifying-slot': () => ({ name: 'downloaded' }),
  installed: () => ({ name: 'installed' }),
  arming: () => ({ name: 'installing' }),
  rebooting: () => ({ name: 'rebooting' }),
  'health-check': () => ({ name: 'health-check' }),
  committing: () => null,
  'rolling-back': () => null,
  committed: () => ({ name: 'committed' }),
  'rolled-back': () => ({ name: 'rolled-back' }),
  failed,
  rejected: (r) => ({ name: 'failed', code: (r.code ?? 'REJECTED').slice(0, 64), reason: (r.reason ?? '').slice(0, 512), transient: r.transient ?? false }),
};

/** The wire step for an agent report, or null when the step is internal. */
export function toProtocolStep(r: StatusReport): Step | null {
  return STEP_MAP[r.step](r);
}
