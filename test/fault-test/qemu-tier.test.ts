/**
 * `--qemu` (x86 microvm) and `--qemu=uboot` (real U-Boot on arm64): every
 * case's device is a QEMU VM driven by the real agent. Power cuts hit the
 * agent's writes to the VM disk, a trial-boot cut kills QEMU, and every
 * power-on is a real boot whose bootloader reads the env from the disk.
 * Small scenarios on purpose: each case costs real boots.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBundle } from '@uniota/image';
import { makeSimImage } from '@uniota/bootloader-sim';
import { buildPayload } from '@uniota/bootloader-sim/qemu';
import type { PayloadBehaviour } from '@uniota/bootloader-sim/qemu';
import { parseScenarioFile, runFaultTest } from '@uniota/fault-injection';
import type { FaultTestReport } from '@uniota/fault-injection';
import { main } from '../../packages/cli/src/main.ts';
import { captureOutput } from '../../packages/cli/src/testing/capture-output.ts';
import { TEST_HARDWARE, TEST_NOW } from '../helpers/fixtures.ts';
import { workspace } from './helpers.ts';

const w = workspace();
const trust = w.trust;
afterAll(() => w.cleanup());
const io = captureOutput();

const bundle = (version: string, payload: Uint8Array, securityCounter: number) =>
  createBundle({ product: 'thermostat', version, securityCounter, compatibleHardware: [TEST_HARDWARE], createdAt: TEST_NOW, expiresAt: new Date(TEST_NOW.getTime() + 86400_000), chunkSize: 4096 }, payload, [trust.imageSigner]);
const real = async (arch: 'x86' | 'aarch64', version: string, behaviour: PayloadBehaviour, counter: number) => bundle(version, await buildPayload({ arch, version, behaviour }), counter);

// A clean install, torn env writes, a cut while the new image is on trial, and (when `every` is given) a few other cuts.
const SMALL = (every?: number) => `version: 1
scenarios:
  - name: clean install
    kind: install
  - name: env writes
    kind: power-cut-sweep
    targets: [env]
    modes: [torn]
  - name: trial boot
    kind: trial-boot-cut
${every === undefined ? '' : `  - name: other cuts
    kind: power-cut-sweep
    targets: [slot, journal]
    modes: [before, after]
    every: ${every}
`}`;
const INSTALL_ONLY = parseScenarioFile('version: 1\nscenarios:\n  - kind: install\n', 'i.yaml');

const names = (r: FaultTestReport) => r.results.map((x) => x.name);
const cutsOf = (r: FaultTestReport, scenario: number) => r.results.filter((x) => x.scenario === scenario).flatMap((x) => x.cuts ?? []);

/** What every QEMU run of SMALL must show: real cuts where they were planned, and no violation. */
function expectSmallPassed(r: FaultTestReport): void {
  expect(r.results.filter((x) => x.violations.length > 0).map((x) => `${x.name}: ${x.violations.join('; ')}`)).toEqual([]);
  expect(r.results.every((x) => x.skipped === null)).toBe(true);
  // The agent writes one env copy to arm the trial and one to commit it: each is torn.
  const env = cutsOf(r, 1);
  expect(env.length).toBeGreaterThanOrEqual(2);
  expect(env.every((c) => /^op \d+: torn write of \d+ bytes to env copy [01]$/.test(c))).toBe(true);
  // QEMU killed while the new image (slot B) runs its trial boot.
  expect(cutsOf(r, 2)).toEqual([expect.stringMatching(/^power cut during boot \d+ \(slot B\)$/)]);
  if (r.suites.length > 3) {
    expect(cutsOf(r, 3).length).toBeGreaterThanOrEqual(2);
    expect(cutsOf(r, 3).every((c) => /^op \d+: just (before|after) a write of \d+ bytes to (slot B|data \(journal\))$/.test(c))).toBe(true);
  }
}

describe('fault-test --qemu (x86 microvm: host-side bootloader, real boots)', () => {
  beforeAll(async () => {
    writeFileSync(w.path('q-old.uni'), await real('x86', '1.0.0', 'healthy', 1));
    writeFileSync(w.path('q-new.uni'), await real('x86', '2.0.0', 'healthy', 2));
    writeFileSync(w.path('sick.uni'), await real('x86', '2.0.0', 'unhealthy', 2));
  }, 120_000);

  it('runs through the CLI on QEMU devices: every case passes, the summary and JUnit name the tier and where each cut struck', async () => {
    writeFileSync(w.path('q.yaml'), 'version: 1\nscenarios:\n  - kind: install\n  - kind: power-cut-sweep\n    targets: [env]\n    modes: [torn]\n');
    const junit = w.path('q.xml');
    const code = await main(['node', 'uniota', 'fault-test', '--image', w.path('q-new.uni'), '--deployed', w.path('q-old.uni'), '--root', w.path('root.json'), '--hardware', TEST_HARDWARE,
      '--scenarios', w.path('q.yaml'), '--now', TEST_NOW.toISOString(), '--jobs', '2', '--qemu', '--junit', junit]);
    expect(io.err).toBe('');
    expect(code).toBe(0);
    expect(io.out).toMatch(/^tier: QEMU microvm /m);
    expect(io.out).toContain('every case ran on a QEMU microvm device');
    expect(io.out).not.toContain('in-process under every tier');
    expect(io.out).toMatch(/fault-test: (\d+) cases, \1 passed, 0 with violations, 0 skipped/);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('<testsuites name="uniota fault-test (microvm)"');
    expect(xml).toContain('<property name="tier" value="microvm"/>');
    expect(xml).toMatch(/<system-out>cut op \d+: torn write of \d+ bytes to env copy/);
  }, 300_000);

  it('runs a small scenario (install, env and other cuts, trial-boot cut): real cuts where planned, no violation', async () => {
    const r = await runFaultTest({ image: await real('x86', '2.0.0', 'healthy', 2), deployed: await real('x86', '1.0.0', 'healthy', 1), rootDocument: trust.rootDoc, hardware: TEST_HARDWARE,
      scenarios: parseScenarioFile(SMALL(8), 's.yaml'), now: TEST_NOW, tier: 'microvm', jobs: 2 });
    expect(r.tier).toBe('microvm');
    expect(names(r).filter((n) => n.startsWith('env writes: ')).every((n) => /^env writes: cut torn at op \d+\/\d+ \(env\)$/.test(n))).toBe(true);
    expectSmallPassed(r);
  }, 300_000);

  it('rolls a panicking image back on the real VM (the serial console shows the panic)', async () => {
    const r = await runFaultTest({ image: await real('x86', '2.0.0', 'panic', 2), deployed: await real('x86', '1.0.0', 'healthy', 1), rootDocument: trust.rootDoc, hardware: TEST_HARDWARE,
      scenarios: INSTALL_ONLY, now: TEST_NOW, tier: 'microvm' });
    expect(r.notes.join('\n')).toContain(`your image 2.0.0 booted under QEMU microvm: panic -> behaves 'panic'`);
    // The install case demands exactly this outcome: rolled back, 1.0.0 running, nothing committed.
    expect(r.results.map((x) => x.violations)).toEqual([[]]);
  }, 300_000);

  it('reports violations for a deliberately broken agent on QEMU devices too', async () => {
    const run = (broken: 'agent-commits-without-health-check' | null) =>
      runFaultTest({ image: readFileSync(w.path('sick.uni')), deployed: readFileSync(w.path('q-old.uni')), rootDocument: trust.rootDoc, hardware: TEST_HARDWARE, scenarios: INSTALL_ONLY, now: TEST_NOW, tier: 'microvm', broken });
    expect((await run(null)).failedCases).toBe(0);
    const bad = await run('agent-commits-without-health-check');
    expect(bad.failedCases).toBe(1);
    expect(bad.results[0]?.violations.join('\n')).toContain('committed 2.0.0, which fails its health check');
  }, 300_000);

  it('refuses what a QEMU tier cannot run: a simulated image, a defect of the in-process bootloader', async () => {
    const sim = bundle('2.0.0', makeSimImage({ version: '2.0.0', behaviour: 'ok' }, 16 * 1024), 2);
    const opts = { rootDocument: trust.rootDoc, hardware: TEST_HARDWARE, scenarios: INSTALL_ONLY, now: TEST_NOW, tier: 'microvm' as const };
    await expect(runFaultTest({ ...opts, image: sim })).rejects.toMatchObject({ code: 'QEMU_UNAVAILABLE', message: expect.stringMatching(/your image 2.0.0 is a simulated image/) });
    await expect(runFaultTest({ ...opts, image: readFileSync(w.path('q-new.uni')), broken: 'bootloader-skips-bootcount' })).rejects.toMatchObject({ code: 'BROKEN_UNSUPPORTED' });
  }, 300_000);

  it('boots a generated factory image when there is no --deployed image', async () => {
    const r = await runFaultTest({ image: readFileSync(w.path('q-new.uni')), rootDocument: trust.rootDoc, hardware: TEST_HARDWARE, scenarios: INSTALL_ONLY, now: TEST_NOW, tier: 'microvm' });
    expect(r.notes.join('\n')).toContain('generated factory image');
    expect(r.results.map((x) => x.violations)).toEqual([[]]);
  }, 300_000);
});

describe('fault-test --qemu=uboot (real U-Boot on arm64 runs its boot script on the disk env)', () => {
  it('runs the small scenario with real U-Boot boots: real cuts where planned, no violation', async () => {
    const r = await runFaultTest({ image: await real('aarch64', '2.0.0', 'healthy', 2), deployed: await real('aarch64', '1.0.0', 'healthy', 1), rootDocument: trust.rootDoc, hardware: TEST_HARDWARE,
      scenarios: parseScenarioFile(SMALL(), 'u.yaml'), now: TEST_NOW, tier: 'uboot', jobs: 2 });
    expect(r.tier).toBe('uboot');
    expect(r.notes.join('\n')).toContain('every case ran on a QEMU uboot device');
    expectSmallPassed(r);
  }, 300_000);

  it('rolls a panicking image back under real U-Boot', async () => {
    const r = await runFaultTest({ image: await real('aarch64', '2.0.0', 'panic', 2), deployed: await real('aarch64', '1.0.0', 'healthy', 1), rootDocument: trust.rootDoc, hardware: TEST_HARDWARE,
      scenarios: INSTALL_ONLY, now: TEST_NOW, tier: 'uboot' });
    expect(r.notes.join('\n')).toContain(`your image 2.0.0 booted under QEMU uboot: panic -> behaves 'panic'`);
    expect(r.results.map((x) => x.violations)).toEqual([[]]);
  }, 300_000);
});
