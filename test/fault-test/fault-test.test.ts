/**
 * `uniota fault-test` end to end through the CLI entry point: a good image
 * passes, each deliberately broken device is caught (the tester can fail),
 * scenario-file mistakes get one clear line, and parallel runs agree with
 * serial ones.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../packages/cli/src/main.ts';
import { BROKEN_CONFIGS, parseScenarioFile, runFaultTest } from '@uniota/fault-injection';
import type { BrokenConfigName, CaseResult } from '@uniota/fault-injection';
import { TEST_HARDWARE, TEST_NOW, bundleOf, workspace } from './helpers.ts';
import { captureOutput } from '../../packages/cli/src/testing/capture-output.ts';

const w = workspace();
afterAll(() => w.cleanup());

const io = captureOutput();

const SMALL = `version: 1
scenarios:
  - name: clean install
    kind: install
  - name: sampled power cuts
    kind: power-cut-sweep
    every: 7
  - kind: corrupt-payload
  - kind: wrong-signature
  - kind: downgrade
  - kind: trial-boot-cut
    times: 2
  - kind: repeated-cuts
    runs: 3
    seed: 7
`;
writeFileSync(w.path('small.yaml'), SMALL);

const faultTest = (image: string, scenarios: string, ...extra: string[]) =>
  main(['node', 'uniota', 'fault-test', '--image', w.path(image), '--deployed', w.path('old.uni'), '--root', w.path('root.json'), '--hardware', TEST_HARDWARE,
    '--scenarios', scenarios, '--now', TEST_NOW.toISOString(), '--jobs', '1', ...extra]);

/** Counts from the JUnit file as a real XML parser (Python's ElementTree) reads it. */
function junitCounts(path: string): { tests: number; failures: number; skipped: number; testcases: number; failedCases: number; suites: string[] } {
  const script = `
import json, sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
cases = r.findall('./testsuite/testcase')
print(json.dumps({'tests': int(r.get('tests')), 'failures': int(r.get('failures')), 'skipped': int(r.get('skipped')),
  'testcases': len(cases), 'failedCases': sum(1 for c in cases if c.find('failure') is not None),
  'suites': [s.get('name') for s in r.findall('./testsuite')]}))`;
  return JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8' })) as ReturnType<typeof junitCounts>;
}

describe('uniota fault-test', () => {
  it('passes a good image: exit 0, every case passes, the JUnit report parses with matching counts', async () => {
    const junit = w.path('good.xml');
    expect(await faultTest('good.uni', w.path('small.yaml'), '--junit', junit)).toBe(0);
    expect(io.err).toBe('');
    const m = /fault-test: (\d+) cases, (\d+) passed, 0 with violations, 0 skipped/.exec(io.out);
    expect(m).not.toBeNull();
    const total = Number(m?.[1]);
    expect(Number(m?.[2])).toBe(total);
    // 1 install + the sampled sweep (>= 3 modes x a few ops) + 4 singles + 3 random runs.
    expect(total).toBeGreaterThan(1 + 9 + 4 + 3);
    const j = junitCounts(junit);
    expect(j).toMatchObject({ tests: total, testcases: total, failures: 0, failedCases: 0, skipped: 0 });
    expect(j.suites).toEqual(['clean install', 'sampled power cuts', '3: corrupt-payload', '4: wrong-signature', '5: downgrade', '6: trial-boot-cut', '7: repeated-cuts']);
  });

  // Each broken device, with the scenario whose invariant must catch it.
  const rows: [BrokenConfigName, string][] = [
    ['bootloader-skips-bootcount', 'version: 1\nscenarios:\n  - kind: install\n    behaviour: hang\n'],
    ['agent-commits-without-health-check', 'version: 1\nscenarios:\n  - kind: install\n    behaviour: unhealthy\n'],
    ['agent-raises-counter-at-offer', 'version: 1\nscenarios:\n  - kind: power-cut-sweep\n    every: 5\n'],
  ];
  it('covers every broken configuration', () => {
    expect(rows.map((r) => r[0]).sort()).toEqual(Object.keys(BROKEN_CONFIGS).sort());
  });
  for (const [broken, scenarios] of rows) {
    it(`reports violations and exits non-zero with --break ${broken}`, async () => {
      const file = w.path(`${broken}.yaml`);
      writeFileSync(file, scenarios);
      // The same scenarios pass on a correct device: the failure is the defect's.
      expect(await faultTest('real.uni', file)).toBe(0);
      io.out = '';
      const junit = w.path(`${broken}.xml`);
      expect(await faultTest('real.uni', file, '--break', broken, '--junit', junit)).toBe(1);
      expect(io.err).toMatch(/^error VIOLATIONS: \d+ of \d+ cases violated invariants/);
      expect(io.out).toContain(`SELF-TEST with a deliberately broken configuration '${broken}'`);
      expect(junitCounts(junit).failedCases).toBeGreaterThan(0);
    });
  }

  it.each([
    ['bad YAML', 'version: 1\nscenarios: [\n', /^error SCENARIO_PARSE: .*bad\.yaml: /],
    ['an unknown kind', 'version: 1\nscenarios:\n  - kind: meteor-strike\n', /scenarios\[0\]: unknown kind "meteor-strike" \(expected one of install, /],
    ['a bad field', 'version: 1\nscenarios:\n  - kind: power-cut-sweep\n    every: 0\n', /scenarios\[0\] \(power-cut-sweep\): \/every /],
    ['an unknown field', 'version: 1\nscenarios:\n  - kind: install\n    cutAt: 3\n', /scenarios\[0\] \(install\)/],
    ['a wrong version', 'version: 2\nscenarios:\n  - kind: install\n', /unsupported version 2/],
    ['no scenarios', 'version: 1\nscenarios: []\n', /`scenarios` must be a non-empty list/],
  ])('rejects a scenario file with %s in one clear line', async (_, text, message) => {
    writeFileSync(w.path('bad.yaml'), text);
    expect(await faultTest('good.uni', w.path('bad.yaml'))).toBe(1);
    expect(io.err).toMatch(message);
    expect(io.err.trim().split('\n')).toHaveLength(1);
  });

  it('names a missing input file and an image that does not verify', async () => {
    expect(await faultTest('good.uni', w.path('nope.yaml'))).toBe(1);
    expect(io.err).toBe(`error INPUT_INVALID: --scenarios ${w.path('nope.yaml')}: no such file\n`);
    io.err = '';
    expect(await faultTest('good.uni', w.path('small.yaml'), '--hardware', 'other-board')).toBe(1);
    expect(io.err).toMatch(/^error INPUT_INVALID: image does not verify for hardware other-board/);
  });

  it('gives the same verdicts in parallel (worker threads) as serially', async () => {
    const scenarios = parseScenarioFile(SMALL, 'small.yaml');
    const common = {
      image: readFileSync(w.path('real.uni')),
      deployed: readFileSync(w.path('old.uni')),
      rootDocument: JSON.parse(readFileSync(w.path('root.json'), 'utf8')),
      hardware: TEST_HARDWARE,
      scenarios,
      now: TEST_NOW,
      // A broken device, so the comparison covers violations too, not only passes.
      broken: 'agent-raises-counter-at-offer' as const,
    };
    const strip = (rs: CaseResult[]) => rs.map(({ durationMs: _, ...r }) => r);
    const serial = await runFaultTest({ ...common, jobs: 1 });
    const parallel = await runFaultTest({ ...common, jobs: 2 });
    expect(serial.failedCases).toBeGreaterThan(0);
    expect(strip(parallel.results)).toEqual(strip(serial.results));
  });

  it('expects a refusal for an image below the deployed counter, and skips (never passes) a downgrade it cannot build', async () => {
    const scenarios = parseScenarioFile('version: 1\nscenarios:\n  - kind: install\n  - kind: downgrade\n  - kind: trial-boot-cut\n', 's.yaml');
    const run = (image: Uint8Array, deployed?: Uint8Array) =>
      runFaultTest({ image, ...(deployed === undefined ? {} : { deployed }), rootDocument: w.trust.rootDoc, hardware: TEST_HARDWARE, scenarios, now: TEST_NOW });
    const older = await run(bundleOf(w.trust, '0.9.0', 'ok', 1), bundleOf(w.trust, '1.0.0', 'ok', 5));
    expect(older.failedCases).toBe(0);
    expect(older.results.map((r) => r.skipped === null)).toEqual([true, false, false]);
    const zero = await run(bundleOf(w.trust, '2.0.0', 'ok', 0));
    expect(zero.failedCases).toBe(0);
    expect(zero.results[1]?.skipped).toMatch(/security counter is 0/);
    expect(zero.notes.join('\n')).toContain('generated factory image');
  });
});
