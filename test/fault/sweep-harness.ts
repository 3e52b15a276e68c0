/**
 * The power-cut sweep, MCUboot-simulator style but with torn writes too:
 * count the N block operations of a flow, then for every i in 1..N and every
 * cut mode clone the device, cut power at operation i, power on again, run to
 * completion, and check the invariants. Flows and invariants are data.
 */
import { isPowerCut } from '@uniota/block-device';
import type { CutMode, FaultPlan } from '@uniota/block-device';
import { UBootEnvStore } from '@uniota/boot-control';
import { PartitionView } from '@uniota/block-device';
import { verifySlot } from '@uniota/image';
import { RecordingTransport, SimDevice, provisionSimDisk, smallDeviceSpec } from '@uniota/device-agent';
import type { JournalState, PowerOnResult, UpdateOffer, UpdateOutcome } from '@uniota/device-agent';
import { TEST_NOW, makeBundle, offerFor, sourceFor } from '../helpers/fixtures.ts';
import type { ImageSpec, TrustFixture } from '../helpers/fixtures.ts';

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

export interface PreparedFlow {
  flow: Flow;
  device: SimDevice;
  offers: UpdateOffer[];
  source: ReturnType<typeof sourceFor>;
  /** Version -> security counter, for the anti-rollback invariant. */
  counters: Map<string, number>;
}

/** Provisions a factory device and the signed bundles of a flow. */
export async function prepareFlow(trust: TrustFixture, flow: Flow): Promise<PreparedFlow> {
  const spec = smallDeviceSpec(trust.root);
  const { disk, layout } = await provisionSimDisk(spec, makeBundle(trust, flow.factory));
  const entries = flow.updates.map((u, i) => offerFor(`action-${i + 1}`, makeBundle(trust, u)));
  const counters = new Map<string, number>([[flow.factory.version, flow.factory.securityCounter ?? 1]]);
  for (const u of flow.updates) counters.set(u.version, u.securityCounter ?? 1);
  return { flow, device: new SimDevice(disk, spec, layout), offers: entries.map((e) => e.offer), source: sourceFor(entries), counters };
}

/** The server's view for the sweep: offer the first update with no final outcome yet. */
function nextOfferFor(p: PreparedFlow) {
  return (state: JournalState): UpdateOffer | null => p.offers.find((o) => !state.history.some((h) => h.actionId === o.actionId)) ?? null;
}

export interface RunRecord {
  result: PowerOnResult;
  transport: RecordingTransport;
  device: SimDevice;
}

/** Powers `device` on with each plan in turn (each expected to cut), then once more to completion. */
export async function runWithCuts(p: PreparedFlow, device: SimDevice, plans: FaultPlan[]): Promise<RunRecord & { cutsHit: number }> {
  const transport = new RecordingTransport();
  const base = { transport, source: p.source, nextOffer: nextOfferFor(p), clock: () => TEST_NOW, progressEvery: 2 };
  let cutsHit = 0;
  for (const plan of plans) {
    try {
      await device.powerOn({ ...base, plan });
    } catch (err) {
      if (!isPowerCut(err)) throw err;
      cutsHit += 1;
    }
  }
  const result = await device.powerOn(base);
  return { result, transport, device, cutsHit };
}

/** Number of block operations of the flow run without any fault. */
export async function countOperations(p: PreparedFlow): Promise<number> {
  const d = p.device.clone();
  const result = await d.powerOn({ transport: new RecordingTransport(), source: p.source, nextOffer: nextOfferFor(p), clock: () => TEST_NOW, progressEvery: 2, plan: {} });
  if (result.kind !== 'settled') throw new Error(`flow ${p.flow.name} does not settle without faults: ${result.kind}`);
  return d.operations;
}

/** Checks every invariant of a finished run; returns the violations (empty when all hold). */
export async function checkInvariants(p: PreparedFlow, run: RunRecord, exactOutcome: boolean): Promise<string[]> {
  const v: string[] = [];
  const { result, device, transport } = run;
  if (result.kind !== 'settled') return [`device did not settle: ${result.kind}${result.kind === 'bricked' ? ` (${JSON.stringify(result.reasons)})` : ''}`];
  const known = new Set([p.flow.factory.version, ...p.flow.updates.map((u) => u.version)]);
  if (!known.has(result.version)) v.push(`runs unknown version ${result.version}`);
  if (exactOutcome && result.version !== p.flow.finalVersion) v.push(`runs ${result.version}, expected ${p.flow.finalVersion}`);
  const s = result.state;
  if (s.state !== 'idle') v.push(`agent not idle: ${s.state}`);
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
    await verifySlot(new PartitionView(device.storage, slot.offset, slot.length), device.spec.trailerSize, device.spec.root, { hardware: device.spec.hardware, minSecurityCounter: 0, now: TEST_NOW, checkExpiry: false });
  } catch (err) {
    v.push(`running slot does not verify: ${String(err)}`);
  }
  for (const b of device.bootLog) if (b.kind === 'booted' && !known.has(b.manifest.version)) v.push(`booted unknown version ${b.manifest.version}`);
  // Each update ends exactly once, with the expected outcome.
  p.offers.forEach((o, i) => {
    const entries = s.history.filter((h) => h.actionId === o.actionId);
    if (entries.length !== 1) v.push(`${o.actionId} ended ${entries.length} times in the journal`);
    const expected = p.flow.outcomes[i];
    if (exactOutcome && entries[0] !== undefined && entries[0].outcome !== expected) v.push(`${o.actionId} ended ${entries[0].outcome}, expected ${expected}`);
    const reported = new Set<string>(transport.reports.filter((r) => r.actionId === o.actionId && (['committed', 'rolled-back', 'failed'] as string[]).includes(r.step)).map((r) => r.step));
    if (exactOutcome && (reported.size !== 1 || expected === undefined || !reported.has(expected))) v.push(`${o.actionId} reported outcomes ${[...reported].join(',') || 'none'}, expected ${expected}`);
  });
  if (s.history.some((h) => h.outcome === 'committed' && h.version !== result.version && h.actionId === p.offers.at(-1)?.actionId)) v.push('last committed update is not what runs');
  return v;
}

export const CUT_MODES: readonly CutMode[] = ['before', 'torn', 'after'];

/** A small deterministic PRNG (mulberry32) so random multi-cut runs are reproducible by seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
