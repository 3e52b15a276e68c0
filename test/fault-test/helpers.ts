/** Inputs of the fault-test tests: a trust root and signed images written to a temp dir. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBundle } from '@uniota/image';
import { makeSimImage } from '@uniota/bootloader-sim';
import type { SimBehaviour } from '@uniota/bootloader-sim';
import { TEST_HARDWARE, TEST_NOW, makeTrust } from '../helpers/fixtures.ts';
import type { TrustFixture } from '../helpers/fixtures.ts';

export { TEST_HARDWARE, TEST_NOW };

/** A signed bundle; `behaviour: null` makes a payload that is not a simulated image (a "real" unikernel). */
export function bundleOf(trust: TrustFixture, version: string, behaviour: SimBehaviour | null, securityCounter: number): Uint8Array {
  const payload = behaviour === null ? new Uint8Array(20 * 1024).map((_, i) => (i * 131 + 7) & 0xff) : makeSimImage({ version, behaviour }, 16 * 1024);
  return createBundle(
    { product: 'thermostat', version, securityCounter, compatibleHardware: [TEST_HARDWARE], createdAt: TEST_NOW, expiresAt: new Date(TEST_NOW.getTime() + 30 * 86400_000), chunkSize: 2048 },
    payload,
    [trust.imageSigner],
  );
}

/** A temp dir with root.json, good.uni (ok), old.uni (deployed), panic.uni, real.uni (not simulated). */
export function workspace(): { dir: string; trust: TrustFixture; path: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'uniota-fault-test-'));
  const trust = makeTrust();
  const path = (name: string) => join(dir, name);
  writeFileSync(path('root.json'), JSON.stringify(trust.rootDoc));
  writeFileSync(path('good.uni'), bundleOf(trust, '2.0.0', 'ok', 2));
  writeFileSync(path('old.uni'), bundleOf(trust, '1.0.0', 'ok', 1));
  writeFileSync(path('panic.uni'), bundleOf(trust, '2.0.0', 'panic', 2));
  writeFileSync(path('real.uni'), bundleOf(trust, '2.0.0', null, 2));
  return { dir, trust, path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
