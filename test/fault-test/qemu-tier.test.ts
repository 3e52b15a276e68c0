/**
 * `--qemu`: the images' behaviour on their trial boot comes from a real boot
 * of their payload under the x86 microvm tier (serial verdict), not from the
 * scenario. Power cuts at writes stay in-process (QEMU cannot cut at a block write).
 */
import { describe, expect, it } from 'vitest';
import { createBundle } from '@uniota/image';
import { makeSimImage } from '@uniota/bootloader-sim';
import { parseScenarioFile, runFaultTest } from '@uniota/fault-injection';
import { buildPayload } from '../../bootloader-sim/src/qemu/index.ts';
import { TEST_HARDWARE, TEST_NOW, makeTrust } from '../helpers/fixtures.ts';

const trust = makeTrust();
const bundle = (version: string, payload: Uint8Array, securityCounter: number) =>
  createBundle({ product: 'thermostat', version, securityCounter, compatibleHardware: [TEST_HARDWARE], createdAt: TEST_NOW, expiresAt: new Date(TEST_NOW.getTime() + 86400_000), chunkSize: 4096 }, payload, [trust.imageSigner]);

// The scenario claims 'ok' on purpose: under --qemu the real boot must win.
const scenarios = parseScenarioFile('version: 1\nscenarios:\n  - kind: install\n    behaviour: ok\n  - kind: trial-boot-cut\n', 'q.yaml');

describe('fault-test --qemu (microvm tier)', () => {
  it.each([
    ['healthy', 'ok', 0],
    ['panic', 'panic', 0],
  ] as const)('a payload that is %s under QEMU is judged %s and every invariant holds', async (behaviour, judged, failed) => {
    const deployed = bundle('1.0.0', await buildPayload({ arch: 'x86', version: '1.0.0', behaviour: 'healthy' }), 1);
    const image = bundle('2.0.0', await buildPayload({ arch: 'x86', version: '2.0.0', behaviour }), 2);
    const report = await runFaultTest({ image, deployed, rootDocument: trust.rootDoc, hardware: TEST_HARDWARE, scenarios, now: TEST_NOW, tier: 'microvm' });
    expect(report.notes.join('\n')).toContain(`your image 2.0.0 booted under QEMU microvm: ${behaviour} -> behaves '${judged}'`);
    expect(report.notes.join('\n')).toContain(`the deployed image 1.0.0 booted under QEMU microvm: healthy -> behaves 'ok'`);
    expect(report.lines[0]?.note).toContain(`image behaves '${judged}' (measured under QEMU`);
    expect(report.failedCases).toBe(failed);
    expect(report.results.map((r) => r.skipped)).toEqual([null, null]);
  });
});

describe('fault-test --qemu=uboot (real U-Boot, arm64)', () => {
  it('a payload that fails its health check under U-Boot is judged unhealthy and rolled back', async () => {
    const deployed = bundle('1.0.0', await buildPayload({ arch: 'aarch64', version: '1.0.0', behaviour: 'healthy' }), 1);
    const image = bundle('2.0.0', await buildPayload({ arch: 'aarch64', version: '2.0.0', behaviour: 'unhealthy' }), 2);
    const report = await runFaultTest({ image, deployed, rootDocument: trust.rootDoc, hardware: TEST_HARDWARE, scenarios, now: TEST_NOW, tier: 'uboot' });
    expect(report.notes.join('\n')).toContain(`your image 2.0.0 booted under QEMU uboot: unhealthy -> behaves 'unhealthy'`);
    expect(report.failedCases).toBe(0);
  });
});

describe('fault-test --qemu with simulated images', () => {
  it('does not boot a simulated payload under QEMU (it has none to boot) and keeps its own behaviour', async () => {
    const sim = (version: string, behaviour: 'ok' | 'unhealthy', counter: number) => bundle(version, makeSimImage({ version, behaviour }, 16 * 1024), counter);
    const report = await runFaultTest({ image: sim('2.0.0', 'unhealthy', 2), deployed: sim('1.0.0', 'ok', 1), rootDocument: trust.rootDoc, hardware: TEST_HARDWARE, scenarios, now: TEST_NOW, tier: 'microvm' });
    expect(report.notes.join('\n')).toContain(`your image 2.0.0 is a simulated image: not booted under QEMU, its behaviour 'unhealthy' comes from its payload`);
    expect(report.failedCases).toBe(0);
  });
});
