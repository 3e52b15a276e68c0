/**
 * What the agent does at start-up, given the state its journal holds and what
 * the bootloader actually did. This is where power cuts are reconciled.
 *
 * `onTarget`: the running slot is the update's target slot.
 * `trial`: the bootloader env says the running slot is on trial
 *   (upgrade_available=1 and boot_part is the running slot).
 *
 * Rows are checked in order; the first whose state matches and whose
 * conditions (when given) all hold wins. 'reenter' re-runs the state's entry
 * action, which is idempotent.
 */
import type { AgentStateName } from './agent-state.ts';
import type { AgentEvent } from './lifecycle-table.ts';

export interface BootObservation {
  onTarget: boolean;
  trial: boolean;
}

export type ResumeAction = 'none' | 'reenter' | { event: AgentEvent } | { fail: 'TARGET_IS_RUNNING' };

export interface ResumeRow {
  state: AgentStateName;
  onTarget?: boolean;
  trial?: boolean;
  action: ResumeAction;
  why: string;
}

export const RESUME_TABLE: readonly ResumeRow[] = [
  { state: 'idle', action: 'none', why: 'nothing in progress' },
  // Never write into the slot we run from: the bootloader must have fallen
  // back to the target (old slot unbootable) and the running image is all we have.
  { state: 'downloading', onTarget: true, action: { fail: 'TARGET_IS_RUNNING' }, why: 'target slot is running' },
  { state: 'downloading', action: 'reenter', why: 'resume from the first chunk not durably written' },
  { state: 'verifying-slot', onTarget: true, action: { fail: 'TARGET_IS_RUNNING' }, why: 'target slot is running' },
  { state: 'verifying-slot', action: 'reenter', why: 'read back and verify again' },
  { state: 'installed', onTarget: true, action: { fail: 'TARGET_IS_RUNNING' }, why: 'target slot is running' },
  { state: 'installed', action: 'reenter', why: 'wait for install (or install now)' },
  { state: 'arming', onTarget: true, action: { event: 'trial-boot' }, why: 'the arm write landed and the target booted' },
  { state: 'arming', action: { event: 'arm-not-landed' }, why: 'power was cut before the arm write landed' },
  { state: 'rebooting', onTarget: true, action: { event: 'trial-boot' }, why: 'the target booted' },
  { state: 'rebooting', action: { event: 'booted-old-slot' }, why: 'the bootloader rolled back (bootlimit)' },
  { state: 'health-check', onTarget: true, action: 'reenter', why: 'check health again' },
  { state: 'health-check', action: { event: 'booted-old-slot' }, why: 'the bootloader rolled back during the check' },
  { state: 'committing', onTarget: true, action: 'reenter', why: 'finish the commit (idempotent)' },
  { state: 'committing', action: { event: 'booted-old-slot' }, why: 'bootlimit ran out before the commit landed' },
  { state: 'rolling-back', onTarget: true, action: 'reenter', why: 'the rollback write has not landed yet' },
  { state: 'rolling-back', action: { event: 'rollback-done' }, why: 'running the old slot again' },
];

/** Looks up what to do at start-up. Every state has a catch-all row, so this always answers. */
export function resumeAction(state: AgentStateName, obs: BootObservation): ResumeRow {
  for (const row of RESUME_TABLE) {
    if (row.state !== state) continue;
    if (row.onTarget !== undefined && row.onTarget !== obs.onTarget) continue;
    if (row.trial !== undefined && row.trial !== obs.trial) continue;
    return row;
  }
  throw new Error(`resume table has no row for state ${state}`);
}
