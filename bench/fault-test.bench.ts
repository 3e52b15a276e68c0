/**
 * `uniota fault-test` throughput: cases per second run serially (jobs 1, in
 * this thread) against the worker-thread pool (jobs = cores), same scenarios,
 * same run.
 *
 *   npx tsx bench/fault-test.bench.ts [--jobs N] [--every 1] [--runs 40]
 *
 * Prints both rates and their ratio (ideal: close to the number of cores on
 * an idle machine). The parallel figure includes worker start-up (each worker
 * loads the TypeScript sources through tsx), which is printed separately.
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseScenarioFile, runFaultTest } from '@uniota/fault-injection';
import { makeBundle, makeTrust, TEST_HARDWARE, TEST_NOW } from '../test/helpers/fixtures.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const JOBS = arg('jobs', availableParallelism());
const EVERY = arg('every', 1);
const RUNS = arg('runs', 40);

const trust = makeTrust();
const image = makeBundle(trust, { version: '2.0.0', behaviour: 'ok', securityCounter: 2 });
const deployed = makeBundle(trust, { version: '1.0.0', behaviour: 'ok', securityCounter: 1 });
const scenarios = parseScenarioFile(
  `version: 1
scenarios:
  - kind: power-cut-sweep
    every: ${EVERY}
  - kind: repeated-cuts
    runs: ${RUNS}
  - kind: trial-boot-cut
    times: 4
  - kind: corrupt-payload
`,
  'bench.yaml',
);

async function measure(jobs: number): Promise<{ cases: number; seconds: number }> {
  const t = performance.now();
  const r = await runFaultTest({ image, deployed, rootDocument: trust.rootDoc, hardware: TEST_HARDWARE, scenarios, now: TEST_NOW, jobs });
  if (r.failedCases > 0) throw new Error(`${r.failedCases} cases failed: the bench needs a passing run`);
  return { cases: r.results.length, seconds: (performance.now() - t) / 1000 };
}

// Worker start-up alone: a run of one trivial case on JOBS workers.
const tiny = parseScenarioFile('version: 1\nscenarios:\n  - kind: wrong-signature\n', 'tiny.yaml');
const t0 = performance.now();
await runFaultTest({ image, deployed, rootDocument: trust.rootDoc, hardware: TEST_HARDWARE, scenarios: tiny, now: TEST_NOW, jobs: Math.max(2, JOBS) });
const startup = (performance.now() - t0) / 1000;

const serial = await measure(1);
const parallel = await measure(JOBS);
const rate = (m: { cases: number; seconds: number }) => m.cases / m.seconds;
process.stdout.write(`fault-test: ${serial.cases} cases; serial ${rate(serial).toFixed(1)} cases/s (${serial.seconds.toFixed(1)} s)\n`);
process.stdout.write(`fault-test: ${JOBS} workers ${rate(parallel).toFixed(1)} cases/s (${parallel.seconds.toFixed(1)} s, incl. ~${startup.toFixed(1)} s worker start-up)\n`);
const steady = parallel.cases / Math.max(0.001, parallel.seconds - startup);
process.stdout.write(
  `fault-test: parallel/serial ratio ${(rate(parallel) / rate(serial)).toFixed(2)} end to end, ${(steady / rate(serial)).toFixed(2)} without worker start-up, on ${availableParallelism()} cores (load average ${loadavg()[0]?.toFixed(1)}: other processes share these cores)\n`,
);
