import type { ActionState, ReportStep } from './states.ts';

/** What a report does to an action: move it to a state, or be ignored as stale/out of order. */
export type ActionOutcome = ActionState | 'ignore';

type Row = readonly [step: ReportStep, from: readonly ActionState[], to: ActionState];

const active: readonly ActionState[] = ['offered', 'downloading', 'downloaded', 'installing', 'rebooting'];

/**
 * Report step × current state → next state, for install campaigns.
 * Rows are looked up, not ordered; a (step, state) pair missing here is
 * ignored, which is what makes late or reordered MQTT deliveries harmless
 * (e.g. a `downloading` that arrives after `installing`).
 * `committed` is accepted from any active state because the progress reports
 * before it may have been lost, but it is the only way to `succeeded`: a device
 * that booted back into its old slot reports `rolled_back`, never success.
 * `canceling` still records what really happened on the device.
 */
export const actionTransitionRows: readonly Row[] = [
  ['accepted', ['offered'], 'offered'],
  ['downloading', ['offered', 'downloading'], 'downloading'],
  ['downloaded', ['offered', 'downloading'], 'downloaded'],
  ['installing', ['offered', 'downloading', 'downloaded'], 'installing'],
  ['rebooting', ['downloaded', 'installing'], 'rebooting'],
  ['committed', [...active, 'canceling'], 'succeeded'],
  ['rolled_back', [...active, 'canceling'], 'rolled_back'],
  ['failed', [...active, 'canceling'], 'failed'],
  ['rejected', [...active, 'canceling'], 'rejected'],
  ['canceled', ['canceling'], 'canceled'],
];

/**
 * Download-only campaigns end at `downloaded`: the device keeps the image in
 * its spare slot and installs it later, so a completed download is success.
 */
export const downloadOnlyRows: readonly Row[] = [
  ['accepted', ['offered'], 'offered'],
  ['downloading', ['offered', 'downloading'], 'downloading'],
  ['downloaded', ['offered', 'downloading', 'canceling'], 'succeeded'],
  ['failed', ['offered', 'downloading', 'canceling'], 'failed'],
  ['rejected', ['offered', 'downloading', 'canceling'], 'rejected'],
  ['canceled', ['canceling'], 'canceled'],
];

function index(rows: readonly Row[]): Map<string, ActionState> {
  const m = new Map<string, ActionState>();
  for (const [step, froms, to] of rows) {
    for (const from of froms) {
      const key = `${step}|${from}`;
      if (m.has(key)) throw new Error(`duplicate action transition row ${key}`);
      m.set(key, to);
    }
  }
  return m;
}

const installTable = index(actionTransitionRows);
const downloadOnlyTable = index(downloadOnlyRows);

/** Next state for `step` reported while the action is in `current`. */
export function nextActionState(step: ReportStep, current: ActionState, downloadOnly = false): ActionOutcome {
  return (downloadOnly ? downloadOnlyTable : installTable).get(`${step}|${current}`) ?? 'ignore';
}
