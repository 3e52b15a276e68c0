/**
 * The update lifecycle as a transition table: state x event -> next state.
 *
 * The agent persists the next state BEFORE it performs that state's side
 * effect (entry action in agent.ts), so after a power cut it always knows
 * which side effect may have been in flight and re-runs it; every entry
 * action is therefore idempotent.
 */
import type { AgentStateName } from './agent-state.ts';
import { AgentError } from './errors.ts';

export const AGENT_EVENTS = [
  'offer-accepted',
  'download-complete',
  'download-failed',
  'slot-verified',
  'slot-invalid',
  'install',
  'armed',
  'arm-not-landed',
  'trial-boot',
  'booted-old-slot',
  'health-ok',
  'health-fail',
  'commit-done',
  'rollback-done',
  'cancel',
] as const;
export type AgentEvent = (typeof AGENT_EVENTS)[number];

export interface Transition {
  from: AgentStateName;
  on: AgentEvent;
  to: AgentStateName;
}

/** Every legal transition. Anything not listed is refused (ILLEGAL_TRANSITION). */
export const TRANSITIONS: readonly Transition[] = [
  { from: 'idle', on: 'offer-accepted', to: 'downloading' },
  { from: 'downloading', on: 'download-complete', to: 'verifying-slot' },
  { from: 'downloading', on: 'download-failed', to: 'idle' },
  { from: 'downloading', on: 'slot-invalid', to: 'idle' },
  { from: 'downloading', on: 'cancel', to: 'idle' },
  { from: 'verifying-slot', on: 'slot-verified', to: 'installed' },
  { from: 'verifying-slot', on: 'slot-invalid', to: 'idle' },
  { from: 'verifying-slot', on: 'cancel', to: 'idle' },
  { from: 'installed', on: 'install', to: 'arming' },
  { from: 'installed', on: 'cancel', to: 'idle' },
  { from: 'installed', on: 'slot-invalid', to: 'idle' },
  // The slot is re-verified right before the env write (no verify/activate race).
  { from: 'arming', on: 'slot-invalid', to: 'idle' },
  { from: 'arming', on: 'armed', to: 'rebooting' },
  // Power was cut before the arm write landed: arm again (it is one atomic write).
  { from: 'arming', on: 'arm-not-landed', to: 'arming' },
  { from: 'arming', on: 'trial-boot', to: 'health-check' },
  { from: 'rebooting', on: 'trial-boot', to: 'health-check' },
  { from: 'rebooting', on: 'booted-old-slot', to: 'idle' },
  { from: 'health-check', on: 'health-ok', to: 'committing' },
  { from: 'health-check', on: 'health-fail', to: 'rolling-back' },
  { from: 'health-check', on: 'booted-old-slot', to: 'idle' },
  { from: 'committing', on: 'commit-done', to: 'idle' },
  // Repeated power cuts during the trial can exhaust bootlimit before the
  // commit write lands: the bootloader rolled back, and that is the truth.
  { from: 'committing', on: 'booted-old-slot', to: 'idle' },
  { from: 'rolling-back', on: 'rollback-done', to: 'idle' },
];

const index = new Map(TRANSITIONS.map((t) => [`${t.from}|${t.on}`, t.to] as const));

/** The state `event` leads to from `from`; throws ILLEGAL_TRANSITION when the table has no row. */
export function nextState(from: AgentStateName, event: AgentEvent): AgentStateName {
  const to = index.get(`${from}|${event}`);
  if (to === undefined) throw new AgentError('ILLEGAL_TRANSITION', `no transition from '${from}' on '${event}'`);
  return to;
}
