/**
 * The invariants every finished run must satisfy, whatever was cut:
 * the device boots a verified image, old or new and never neither; an image
 * is committed only after passing its health check; the anti-rollback floor
 * rises only with a commit; each offer ends exactly once.
 */
import { PartitionView } from '@uniota/block-device';
import { UBootEnvStore } from '@uniota/boot-control';
import { verifySlot } from '@uniota/image';
import type { PreparedRun, RunRecord } from './flow-runner.ts';

const FINAL_STEPS: readonly string[] = ['committed', 'rolled-back', 'failed'];

/**
 * Checks every invariant of a finished run; returns the violations (empty when
 * all hold). `exactOutcome` also demands the planned final version and outcomes
 * (off for multi-cut runs, where using up bootlimit legitimately rolls back).
 */
export async function checkInvariants(p: PreparedRun, run: RunRecord, exactOutcome: boolean): Promise<string[]> {
  const v: string[] = [...(run.cutViolations ?? [])];
  const { result, device, transport } = run;
  if (result.kind !== 'settled') return [...v, `device did not settle: ${result.kind}${result.kind === 'bricked' ? ` (${JSON.stringify(result.reasons)})` : ''}`];
  const known = new Set(p.counters.keys());
  if (!known.has(result.version)) v.push(`runs unknown version ${result.version}`);
  if (exactOutcome && result.version !== p.finalVersion) v.push(`runs ${result.version}, expected ${p.finalVersion}`);
  const s = result.state;
  const mayStall = p.outcomes.includes('stalled');
  if (s.state !== 'idle' && !(mayStall && s.state === 'downloading')) v.push(`agent not idle: ${s.state}`);
  if (s.committed === null || s.committed.slot !== result.slot || s.committed.version !== result.version) {
    v.push(`journal's committed image ${JSON.stringify(s.committed)} is not the running one (${result.slot} ${result.version})`);
  }
  const runningCounter = p.counters.get(result.version) ?? -1;
  if (s.minSecurityCounter > runningCounter) v.push(`stored minimum security counter ${s.minSecurityCounter} exceeds the running image's ${runningCounter}`);
  // The env: a valid copy, no trial pending, pointing at the running slot.
  const env = await new UBootEnvStore(device.storage, { offsets: device.layout.envOffsets, envSize: device.layout.envSize }).read();
  if (env === null) v.push('no valid env copy');
  else {
    if (env.vars.get('boot_part') !== result.slot) v.push(`env boot_part=${env.vars.get('boot_part')} but running ${result.slot}`);
    if (env.vars.get('upgrade_available') !== '0') v.push('env still has a trial pending');
  }
  // What runs verifies byte for byte, independently of the bootloader's word.
  const slot = result.slot === 'A' ? device.layout.slotA : device.layout.slotB;
  try {
    await verifySlot(new PartitionView(device.storage, slot.offset, slot.length), device.spec.trailerSize, device.spec.root, { hardware: device.spec.hardware, minSecurityCounter: 0, now: p.now, checkExpiry: false });
  } catch (err) {
    v.push(`running slot does not verify: ${String(err)}`);
  }
  for (const version of new Set(run.bootedVersions)) if (!known.has(version)) v.push(`booted unknown version ${version}`);
  // Committed only after health: an image that fails its health check (or never runs) is never committed.
  for (const h of s.history) if (h.outcome === 'committed' && !p.healthyVersions.has(h.version)) v.push(`${h.actionId} committed ${h.version}, which fails its health check`);
  // Each offer ends exactly once (or is refused / stalled without ending), with the expected outcome.
  p.offers.forEach((o, i) => {
    const expected = p.outcomes[i];
    const entries = s.history.filter((h) => h.actionId === o.actionId);
    const steps = transport.reports.filter((r) => r.actionId === o.actionId).map((r) => r.step);
    if (expected === 'rejected' || expected === 'stalled') {
      if (entries.length !== 0) v.push(`${o.actionId} must be ${expected} but ended ${entries.map((e) => e.outcome).join(',')} in the journal`);
      if (expected === 'rejected' && !steps.includes('rejected')) v.push(`${o.actionId} was not rejected (reports: ${steps.join(',') || 'none'})`);
      if (expected === 'stalled' && !steps.includes('failed')) v.push(`${o.actionId} did not report its failed download (reports: ${steps.join(',') || 'none'})`);
      if (expected === 'stalled' && steps.some((x) => x === 'arming' || x === 'rebooting')) v.push(`${o.actionId} armed a slot from a download that did not verify`);
      return;
    }
    if (entries.length !== 1) v.push(`${o.actionId} ended ${entries.length} times in the journal`);
    if (exactOutcome && entries[0] !== undefined && entries[0].outcome !== expected) v.push(`${o.actionId} ended ${entries[0].outcome}, expected ${expected}`);
    const reported = new Set(steps.filter((x) => FINAL_STEPS.includes(x)));
    if (exactOutcome && (reported.size !== 1 || expected === undefined || !reported.has(expected))) v.push(`${o.actionId} reported outcomes ${[...reported].join(',') || 'none'}, expected ${expected}`);
  });
  if (s.history.some((h) => h.outcome === 'committed' && h.version !== result.version && h.actionId === p.offers.at(-1)?.actionId)) v.push('last committed update is not what runs');
  return v;
}
