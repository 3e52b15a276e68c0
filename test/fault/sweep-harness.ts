/**
 * The power-cut sweep's flows, on the engine in @uniota/fault-injection (the
 * same one `uniota fault-test` runs for users' images): count the N block
 * operations of a flow, then for every i in 1..N and every cut mode clone the
 * device, cut power at operation i, power on again, run to completion, and
 * check the invariants. Flows are data; this file only maps them onto the
 * engine's PreparedRun, so the sweep tests keep their names and meaning.
 */
import { SimDevice, provisionSimDisk, smallDeviceSpec } from '@uniota/device-agent';
import type { UpdateOffer, UpdateOutcome } from '@uniota/device-agent';
import { CUT_MODES, checkInvariants, countOperations, runWithCuts, seededRandom } from '@uniota/fault-injection';
import type { PreparedRun, RunRecord } from '@uniota/fault-injection';
import { TEST_NOW, makeBundle, offerFor, sourceFor } from '../helpers/fixtures.ts';
import type { ImageSpec, TrustFixture } from '../helpers/fixtures.ts';

export { CUT_MODES, checkInvariants, countOperations, runWithCuts, seededRandom };
export type { RunRecord };

export interface Flow {
  name: string;
  factory: ImageSpec;
  /** Updates offered one after another, as a server would. */
  updates: ImageSpec[];
  /** The version the device must run at the end. */
  finalVersion: string;
  /** The outcome each update must end with. */
  outcomes: UpdateOutcome[];
}

export const FLOWS: readonly Flow[] = [
  { name: 'clean update', factory: { version: '1.0.0', behaviour: 'ok' }, updates: [{ version: '2.0.0', behaviour: 'ok', securityCounter: 2 }], finalVersion: '2.0.0', outcomes: ['committed'] },
  { name: 'failed health check -> rollback', factory: { version: '1.0.0', behaviour: 'ok' }, updates: [{ version: '2.0.0', behaviour: 'unhealthy', securityCounter: 2 }], finalVersion: '1.0.0', outcomes: ['rolled-back'] },
  { name: 'hanging image -> watchdog -> rollback', factory: { version: '1.0.0', behaviour: 'ok' }, updates: [{ version: '2.0.0', behaviour: 'hang', securityCounter: 2 }], finalVersion: '1.0.0', outcomes: ['rolled-back'] },
  {
    name: 'second update right after a rollback',
    factory: { version: '1.0.0', behaviour: 'ok' },
    updates: [
      { version: '2.0.0', behaviour: 'unhealthy', securityCounter: 2 },
      { version: '2.1.0', behaviour: 'ok', securityCounter: 3 },
    ],
    finalVersion: '2.1.0',
    outcomes: ['rolled-back', 'committed'],
  },
];

export interface PreparedFlow extends PreparedRun {
  flow: Flow;
  device: SimDevice;
  offers: UpdateOffer[];
}

/** Provisions a factory device and the signed bundles of a flow. */
export async function prepareFlow(trust: TrustFixture, flow: Flow): Promise<PreparedFlow> {
  const spec = smallDeviceSpec(trust.root);
  const { disk, layout } = await provisionSimDisk(spec, makeBundle(trust, flow.factory));
  const entries = flow.updates.map((u, i) => offerFor(`action-${i + 1}`, makeBundle(trust, u)));
  const images = [flow.factory, ...flow.updates];
  return {
    flow,
    device: new SimDevice(disk, spec, layout),
    offers: entries.map((e) => e.offer),
    source: sourceFor(entries),
    counters: new Map(images.map((u) => [u.version, u.securityCounter ?? 1])),
    healthyVersions: new Set(images.filter((u) => u.behaviour === 'ok').map((u) => u.version)),
    finalVersion: flow.finalVersion,
    outcomes: flow.outcomes,
    now: TEST_NOW,
    progressEvery: 2,
  };
}
