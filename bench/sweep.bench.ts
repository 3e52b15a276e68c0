/**
 * Power-cut sweep throughput: cut points per second, against clean runs of
 * the same flow (no fault) per second measured in the same run.
 *
 *   npx tsx bench/sweep.bench.ts [--flows all|clean]
 */
import { CUT_MODES, FLOWS, countOperations, prepareFlow, runWithCuts } from '../test/fault/sweep-harness.ts';
import { makeTrust } from '../test/helpers/fixtures.ts';

const trust = makeTrust();
const only = process.argv.includes('clean') ? FLOWS.slice(0, 1) : FLOWS;
let cutPoints = 0;
let cutSeconds = 0;
let cleanRuns = 0;
let cleanSeconds = 0;
for (const flow of only) {
  const p = await prepareFlow(trust, flow);
  const n = await countOperations(p);
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await runWithCuts(p, p.device.clone(), []);
  cleanSeconds += Number(process.hrtime.bigint() - t0) / 1e9;
  cleanRuns += n;
  t0 = process.hrtime.bigint();
  for (let i = 1; i <= n; i++) for (const mode of CUT_MODES) await runWithCuts(p, p.device.clone(), [{ cutAt: i, mode }]);
  cutSeconds += Number(process.hrtime.bigint() - t0) / 1e9;
  cutPoints += n * CUT_MODES.length;
  console.log(`${flow.name}: ${n} operations`);
}
const cutRate = cutPoints / cutSeconds;
const cleanRate = cleanRuns / cleanSeconds;
console.log(`clean flow runs:   ${cleanRate.toFixed(1)} /s (baseline)`);
console.log(`cut points swept:  ${cutRate.toFixed(1)} /s   ratio ${(cutRate / cleanRate).toFixed(2)} (a cut point = one cut run + recovery run)`);
console.log(`power-cut sweep: ${cutPoints} cut points in ${cutSeconds.toFixed(1)} s`);
