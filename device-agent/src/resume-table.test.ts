import { describe, expect, it } from 'vitest';
import { AGENT_STATES } from './agent-state.ts';
import type { AgentStateName } from './agent-state.ts';
import { resumeAction } from './resume-table.ts';
import type { ResumeAction } from './resume-table.ts';

// One expectation per (state, running the target slot?) — what a power cut at
// that point must lead to on the next start.
const CASES: Array<[AgentStateName, boolean, ResumeAction]> = [
  ['idle', false, 'none'],
  ['idle', true, 'none'],
  ['downloading', false, 'reenter'],
  ['downloading', true, { fail: 'TARGET_IS_RUNNING' }],
  ['verifying-slot', false, 'reenter'],
  ['verifying-slot', true, { fail: 'TARGET_IS_RUNNING' }],
  ['installed', false, 'reenter'],
  ['installed', true, { fail: 'TARGET_IS_RUNNING' }],
  ['arming', false, { event: 'arm-not-landed' }],
  ['arming', true, { event: 'trial-boot' }],
  ['rebooting', false, { event: 'booted-old-slot' }],
  ['rebooting', true, { event: 'trial-boot' }],
  ['health-check', false, { event: 'booted-old-slot' }],
  ['health-check', true, 'reenter'],
  ['committing', false, { event: 'booted-old-slot' }],
  ['committing', true, 'reenter'],
  ['rolling-back', false, { event: 'rollback-done' }],
  ['rolling-back', true, 'reenter'],
];

describe('resume table', () => {
  it.each(CASES)('%s, on target slot %s -> %j', (state, onTarget, action) => {
    for (const trial of [false, true]) expect(resumeAction(state, { onTarget, trial }).action).toEqual(action);
  });

  it('covers every state in both boot situations', () => {
    for (const s of AGENT_STATES) for (const onTarget of [false, true]) expect(CASES.some(([a, b]) => a === s && b === onTarget)).toBe(true);
  });
});
