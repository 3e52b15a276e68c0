/**
 * Runs a prepared flow on a simulated device with power cuts, MCUboot-simulator
 * style: count the N block operations of a clean run, then cut at any i.
 */
import { PartitionView, isPowerCut } from '@uniota/block-device';
import type { CutMode, DiskLayout, FaultPlan } from '@uniota/block-device';
import type { BootloaderQuirks, SimBehaviour } from '@uniota/bootloader-sim';
import { Journal, RecordingTransport, SimDevice } from '@uniota/device-agent';
import type { ImageSource, JournalState, PowerOnOptions, PowerOnResult, UnsafeAgentOptions, UpdateOffer, UpdateOutcome } from '@uniota/device-agent';
import type { Manifest } from '@uniota/image';
import { FaultTestError } from './errors.ts';
import { OpRecorder } from './op-recorder.ts';
import type { OpTarget } from './op-recorder.ts';

/** What an offer must end with: a journaled outcome, a refusal at offer time, or a stalled download. */
export type ExpectedOutcome = UpdateOutcome | 'rejected' | 'stalled';

/** A device plus the updates a server would offer it, and what must hold at the end. */
export interface PreparedRun {
  device: SimDevice;
  offers: UpdateOffer[];
  source: ImageSource;
  /** Version -> security counter, for the anti-rollback invariant. */
  counters: Map<string, number>;
  /** Versions whose image passes its health check: the only ones that may ever be committed. */
  healthyVersions: Set<string>;
  /** The version the device must run at the end (exact mode). */
  finalVersion: string;
  /** What each offer must end with (exact mode), index for index. */
  outcomes: ExpectedOutcome[];
  /** The device's clock. */
  now: Date;
  /** Chunks between durable download points (small, so sweeps cut between them too). */
  progressEvery?: number;
  /** How images that are not simulated ones behave (the in-process tier cannot run them). */
  behaviourOf?: (manifest: Manifest) => SimBehaviour | null;
  /** Deliberate defects, only to prove the tester can fail. */
  bootloaderQuirks?: BootloaderQuirks;
  unsafeAgent?: UnsafeAgentOptions;
}

/** What the invariants read of a device after a run: its disk and how it is laid out. */
export type CheckedDevice = Pick<SimDevice, 'storage' | 'layout' | 'spec'>;

/** The end of one run: the last power-on's result and everything observed on the way. */
export interface RunRecord {
  result: PowerOnResult;
  transport: RecordingTransport;
  device: CheckedDevice;
  /** Versions the bootloader booted on the way (the in-process manifest, or the QEMU serial banner). */
  bootedVersions: string[];
  /** Violations seen on disk right after a cut, before power came back. */
  cutViolations?: string[];
  /** Where each cut struck, in order (see describeCut). */
  cuts?: string[];
}

/** Names the region a device offset falls in, so a reader sees what a cut tore. */
function regionOf(layout: DiskLayout, offset: number): string {
  const [e0, e1] = layout.envOffsets;
  if (offset >= e0 && offset < e0 + layout.envSize) return 'env copy 0';
  if (offset >= e1 && offset < e1 + layout.envSize) return 'env copy 1';
  for (const [name, p] of [['slot A', layout.slotA], ['slot B', layout.slotB], ['data (journal)', layout.data]] as const) {
    if (offset >= p.offset && offset < p.offset + p.length) return name;
  }
  return 'the partition table';
}

/**
 * Says where a power cut struck, from its error: e.g. "op 12: torn write of
 * 16384 bytes to env copy 1". Messages it does not know pass through.
 */
export function describeCut(err: unknown, layout: DiskLayout): string {
  const message = err instanceof Error ? err.message : String(err);
  const w = /write #(\d+) of (\d+) bytes at (\d+) \((\w+)\)/.exec(message);
  if (w) return `op ${w[1]}: ${w[4] === 'after' ? 'just after a' : w[4] === 'torn' ? 'torn' : 'just before a'} write of ${w[2]} bytes to ${regionOf(layout, Number(w[3]))}`;
  const f = /flush #(\d+) \((\w+)\)/.exec(message);
  if (f) return `op ${f[1]}: ${f[2] === 'after' ? 'just after' : 'during'} a flush`;
  return message;
}

/** The cut modes of a sweep, in the order they are reported. */
export const CUT_MODES: readonly CutMode[] = ['before', 'torn', 'after'];

/** The server's view: the first offer that has neither a final outcome in the journal nor a refusal. */
export function nextOfferFor(p: PreparedRun, transport: RecordingTransport) {
  return (state: JournalState): UpdateOffer | null =>
    p.offers.find((o) => !state.history.some((h) => h.actionId === o.actionId) && !transport.reports.some((r) => r.actionId === o.actionId && r.step === 'rejected')) ?? null;
}

function powerOnOptions(p: PreparedRun, transport: RecordingTransport): PowerOnOptions {
  return {
    transport,
    source: p.source,
    nextOffer: nextOfferFor(p, transport),
    clock: () => p.now,
    progressEvery: p.progressEvery ?? 2,
    ...(p.behaviourOf === undefined ? {} : { behaviourOf: p.behaviourOf }),
    ...(p.bootloaderQuirks === undefined ? {} : { bootloaderQuirks: p.bootloaderQuirks }),
    ...(p.unsafeAgent === undefined ? {} : { unsafeAgent: p.unsafeAgent }),
  };
}

/** Powers `device` on with each plan in turn (each expected to cut), then once more to completion. */
export async function runWithCuts(p: PreparedRun, device: SimDevice, plans: FaultPlan[]): Promise<RunRecord & { cutsHit: number }> {
  const transport = new RecordingTransport();
  const base = powerOnOptions(p, transport);
  const cutViolations: string[] = [];
  const cuts: string[] = [];
  let cutsHit = 0;
  for (const plan of plans) {
    try {
      await device.powerOn({ ...base, plan });
    } catch (err) {
      if (!isPowerCut(err)) throw err;
      cutsHit += 1;
      cuts.push(describeCut(err, device.layout));
      for (const v of await checkAtCut(device)) cutViolations.push(`after cut ${cutsHit}: ${v}`);
    }
  }
  const result = await device.powerOn(base);
  const bootedVersions = device.bootLog.flatMap((b) => (b.kind === 'booted' ? [b.manifest.version] : []));
  return { result, transport, device, bootedVersions, cutsHit, cutViolations, cuts };
}

/**
 * What must hold on disk at any instant, so also right after a cut: the
 * anti-rollback floor never exceeds the committed image's counter (it rises
 * only in the commit's own journal write).
 */
export async function checkAtCut(device: CheckedDevice): Promise<string[]> {
  const d = device.layout.data;
  const state = await new Journal(new PartitionView(device.storage, d.offset, d.length)).load();
  if (state === null || state.committed === null) return [];
  if (state.minSecurityCounter > state.committed.securityCounter) {
    return [`anti-rollback floor ${state.minSecurityCounter} raised above the committed image's counter ${state.committed.securityCounter} (${state.committed.version}) before a commit`];
  }
  return [];
}

/** Number of block operations of the flow run without any fault. */
export async function countOperations(p: PreparedRun): Promise<number> {
  return (await operationTargets(p)).length;
}

/** What each block operation of the flow run without any fault touches (operation i is entry i-1). */
export async function operationTargets(p: PreparedRun): Promise<OpTarget[]> {
  const storage = p.device.clone().storage;
  const recorder = new OpRecorder(storage, p.device.layout);
  const d = new SimDevice(recorder, p.device.spec, p.device.layout);
  const result = await d.powerOn({ ...powerOnOptions(p, new RecordingTransport()), plan: {} });
  if (result.kind !== 'settled') throw new FaultTestError('FLOW_UNSETTLED', `the flow does not settle without faults: ${result.kind}`);
  // The recorder sits under the fault injector, which forwards every operation of a plan-free run.
  if (recorder.ops.length !== d.operations) throw new FaultTestError('FLOW_UNSETTLED', `recorded ${recorder.ops.length} operations, the fault injector counted ${d.operations}`);
  return recorder.ops;
}

/**
 * The operation index at which the first trial boot has stored its count, in
 * a clean run (null when no trial boot happens): cutting 'after' it kills
 * power while the new image is booting.
 */
export async function firstTrialBootOperation(p: PreparedRun): Promise<number | null> {
  const d = p.device.clone();
  let at: number | null = null;
  await d.powerOn({
    ...powerOnOptions(p, new RecordingTransport()),
    plan: {},
    log: (line) => {
      if (at === null && /^boot \d+: slot [AB] \(trial/.test(line)) at = d.operations;
    },
  });
  return at;
}

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
