/**
 * Scenario rows -> runnable cases, and running one case. A case is plain data
 * (where to cut, how, what must hold) so it can be shipped to a worker.
 */
import { provisionSimDisk, SimDevice, smallDeviceSpec, BundleImageSource } from '@uniota/device-agent';
import type { UpdateOffer } from '@uniota/device-agent';
import type { SimBehaviour } from '@uniota/bootloader-sim';
import type { CutMode, FaultPlan } from '@uniota/block-device';
import { parseBundleHeader } from '@uniota/image';
import type { Manifest } from '@uniota/image';
import { BROKEN_CONFIGS } from './broken-configs.ts';
import type { BrokenConfig, BrokenConfigName } from './broken-configs.ts';
import { CUT_MODES, firstTrialBootOperation, operationTargets, runWithCuts, seededRandom } from './flow-runner.ts';
import type { ExpectedOutcome, PreparedRun } from './flow-runner.ts';
import { checkInvariants } from './invariants.ts';
import { qemuOperationTargets, withQemuRun } from './qemu-flow.ts';
import type { QemuCut, QemuSetup } from './qemu-flow.ts';
import type { QemuTier } from './qemu-probe.ts';
import { scenarioName } from './scenario.ts';
import type { Scenario, ScenarioFile } from './scenario.ts';
import type { FaultTestInputs, ImageInput } from './test-inputs.ts';

/** A cut at a block operation, as data: `tornFraction` replaces a random() source so the plan survives structured cloning. */
export interface BlockCut {
  cutAt: number;
  mode: CutMode;
  tornFraction?: number;
}

/**
 * One power cut of a case. The in-process tier expresses a trial-boot cut as
 * a block cut right after the bootloader's count store; the QEMU tiers kill
 * QEMU during the trial boot instead, since their bootloader's writes are not
 * the host's to count.
 */
export type CutPlan = BlockCut | { trialBoot: true };

/** One runnable case of a scenario. */
export interface CaseSpec {
  scenario: number;
  index: number;
  name: string;
  plans: CutPlan[];
  /** Demand the planned outcome, not only the safety invariants. */
  exact: boolean;
  /** Set when the case cannot run on these inputs (it is reported as skipped, never as passed). */
  skip?: string;
}

/** The verdict of one case. */
export interface CaseResult {
  scenario: number;
  index: number;
  name: string;
  violations: string[];
  skipped: string | null;
  durationMs: number;
  /** Where each power cut struck (e.g. "op 12: torn write of 16384 bytes to env copy 1"), when the case cut power. */
  cuts?: string[];
}

/** Everything a worker needs besides the case list. */
export interface RunContext {
  inputs: FaultTestInputs;
  file: ScenarioFile;
  broken: BrokenConfigName | null;
  /** Where cases run: in-process, or on QEMU devices. */
  tier: 'in-process' | QemuTier;
  /** The U-Boot tier's flash image (built once per run, read-only); null otherwise. */
  ubootFlash: string | null;
}

/** The QEMU side of `ctx`, or null for the in-process tier. */
export function qemuSetup(ctx: RunContext): QemuSetup | null {
  return ctx.tier === 'in-process' ? null : { tier: ctx.tier, ubootFlash: ctx.ubootFlash };
}

const BOOT_LIMIT = 3;

/** The behaviour the in-process tier gives the user's image in `scenario`. */
export function imageBehaviour(ctx: RunContext, scenario: Scenario): SimBehaviour {
  return ctx.inputs.image.behaviour ?? scenario.behaviour ?? ctx.file.defaults?.behaviour ?? 'ok';
}

function baseBehaviour(ctx: RunContext): SimBehaviour {
  return ctx.inputs.base.behaviour ?? ctx.file.defaults?.deployedBehaviour ?? 'ok';
}

function offerOf(actionId: string, bundle: Uint8Array): { offer: UpdateOffer; entry: [string, { payloadOffset: number; payloadSize: number; chunkSize: number; bytes: Uint8Array }] } {
  const header = parseBundleHeader(bundle);
  const manifest = JSON.parse(new TextDecoder().decode(header.manifestBytes)) as Manifest;
  return {
    offer: { actionId, campaignId: 'fault-test', header: bundle.subarray(0, header.headerLength), downloadOnly: false },
    entry: [actionId, { payloadOffset: header.headerLength, payloadSize: manifest.payload.size, chunkSize: manifest.payload.chunkSize, bytes: bundle }],
  };
}

/** A copy of `bundle` with one payload byte flipped: what a bad link or a tampering proxy delivers. */
function corrupted(bundle: Uint8Array, payloadOffset: number): Uint8Array {
  const header = parseBundleHeader(bundle);
  // A real copy: Buffer#slice would be a view and corrupt the shared original.
  const copy = new Uint8Array(bundle);
  const at = Math.min(copy.length - 1, header.headerLength + payloadOffset);
  copy[at] = (copy[at] ?? 0) ^ 0xff;
  return copy;
}

/** Provisions a device with the base image and the offers of `scenario`; null plus a reason when it cannot apply. */
export async function buildRun(ctx: RunContext, scenario: Scenario): Promise<{ run: PreparedRun } | { skip: string }> {
  const { inputs } = ctx;
  const user = inputs.image;
  const base = inputs.base;
  const spec = { ...smallDeviceSpec(inputs.root, inputs.hardware), slotSize: inputs.slotSize, trailerSize: inputs.trailerSize };
  const { disk, layout } = await provisionSimDisk(spec, base.bundle);
  const behaviours = new Map<string, SimBehaviour>([
    [base.payloadSha256, baseBehaviour(ctx)],
    [user.payloadSha256, imageBehaviour(ctx, scenario)],
  ]);
  const userOk = behaviours.get(user.payloadSha256) === 'ok';
  const accepted = user.securityCounter >= base.securityCounter;
  const userOutcome: ExpectedOutcome = !accepted ? 'rejected' : userOk ? 'committed' : 'rolled-back';
  const afterUser = userOutcome === 'committed' ? user.version : base.version;
  const counters = new Map([[base.version, base.securityCounter], [user.version, user.securityCounter]]);
  const healthy = new Set([...[base, user].filter((i) => behaviours.get(i.payloadSha256) === 'ok').map((i) => i.version)]);

  let images: Uint8Array[] = [user.bundle];
  let served: Uint8Array[] | null = null;
  let outcomes: ExpectedOutcome[] = [userOutcome];
  let finalVersion = afterUser;
  switch (scenario.kind) {
    case 'corrupt-payload': {
      const header = parseBundleHeader(user.bundle);
      const size = user.bundle.length - header.headerLength;
      served = [corrupted(user.bundle, Math.min(size - 1, scenario.offset ?? Math.floor(size / 2)))];
      outcomes = [accepted ? 'stalled' : 'rejected'];
      finalVersion = base.version;
      break;
    }
    case 'wrong-signature':
      images = [inputs.wrongSignature];
      outcomes = ['rejected'];
      finalVersion = base.version;
      break;
    case 'downgrade': {
      const d = inputs.downgrade;
      if (d === null) return { skip: `your image's security counter is ${user.securityCounter}: there is no lower one to downgrade to` };
      if (!accepted) return { skip: `your image (counter ${user.securityCounter}) is itself below the deployed one (${base.securityCounter}); the install scenario covers its refusal` };
      images = [user.bundle, d.bundle];
      counters.set(d.version, d.securityCounter);
      healthy.add(d.version);
      // A downgrade is refused once the floor rose with a commit; before that it is a legitimate install.
      const downgradeOutcome: ExpectedOutcome = userOutcome === 'committed' || d.securityCounter < base.securityCounter ? 'rejected' : 'committed';
      outcomes = [userOutcome, downgradeOutcome];
      finalVersion = downgradeOutcome === 'committed' ? d.version : afterUser;
      break;
    }
    default:
      break;
  }
  const entries = images.map((b, i) => offerOf(`action-${i + 1}`, b));
  const sourceEntries = entries.map((e, i) => (served?.[i] === undefined ? e.entry : ([e.entry[0], { ...e.entry[1], bytes: served[i] }] as const)));
  const broken: BrokenConfig = ctx.broken === null ? { description: '', caughtBy: '' } : BROKEN_CONFIGS[ctx.broken];
  const run: PreparedRun = {
    device: new SimDevice(disk, spec, layout),
    offers: entries.map((e) => e.offer),
    source: new BundleImageSource(new Map(sourceEntries)),
    counters,
    healthyVersions: healthy,
    finalVersion,
    outcomes,
    now: inputs.now,
    behaviourOf: (m) => behaviours.get(m.payload.sha256) ?? null,
    ...(broken.bootloaderQuirks === undefined ? {} : { bootloaderQuirks: broken.bootloaderQuirks }),
    ...(broken.unsafeAgent === undefined ? {} : { unsafeAgent: broken.unsafeAgent }),
  };
  return { run };
}

/** Expands scenario `s` (index `si`) into its cases; sweeps need one clean run to count the operations. */
export async function expandCases(ctx: RunContext, s: Scenario, si: number): Promise<CaseSpec[]> {
  const name = scenarioName(s, si);
  const one = (extra: Partial<CaseSpec> = {}): CaseSpec[] => [{ scenario: si, index: 0, name, plans: [], exact: true, ...extra }];
  const built = await buildRun(ctx, s);
  if ('skip' in built) return one({ skip: built.skip });
  const p = built.run;
  const setup = qemuSetup(ctx);
  // Under QEMU the operations are the agent's block writes on a real VM disk (the bootloader's are its own).
  const targets = (): Promise<string[]> => (setup === null ? operationTargets(p) : qemuOperationTargets(p, setup));
  switch (s.kind) {
    case 'install':
    case 'corrupt-payload':
    case 'wrong-signature':
    case 'downgrade':
      return one();
    case 'power-cut-sweep': {
      const ops = await targets();
      const n = ops.length;
      const wanted = s.targets;
      // Bounded first by target, then every `every`-th of what is left.
      const at = ops.flatMap((t, i) => (wanted === undefined || wanted.some((w) => w === t) ? [{ op: i + 1, target: t }] : [])).filter((_, k) => k % (s.every ?? 1) === 0);
      const cases: CaseSpec[] = [];
      for (const { op, target } of at) {
        for (const mode of s.modes ?? CUT_MODES) cases.push({ scenario: si, index: cases.length, name: `${name}: cut ${mode} at op ${op}/${n} (${target})`, plans: [{ cutAt: op, mode }], exact: true });
      }
      if (cases.length === 0) return one({ skip: `no operation of the flow touches ${wanted?.join(', ') ?? 'anything'}` });
      return cases;
    }
    case 'trial-boot-cut': {
      const at = await firstTrialBootOperation(p);
      if (at === null) return one({ skip: 'the update never reaches a trial boot (it is refused before), so there is no trial boot to cut' });
      const times = s.times ?? 1;
      // After the first cut, each power-on dies right after the bootloader's count store (its write + flush).
      const plans: CutPlan[] =
        setup === null
          ? [{ cutAt: at, mode: 'after' }, ...Array.from({ length: times - 1 }, () => ({ cutAt: 2, mode: 'after' as const }))]
          : Array.from({ length: times }, () => ({ trialBoot: true as const }));
      // Fewer cuts than bootlimit must not change the outcome; more legitimately roll back.
      return one({ plans, exact: times < BOOT_LIMIT });
    }
    case 'repeated-cuts': {
      const n = (await targets()).length;
      const rnd = seededRandom(s.seed ?? 1);
      const maxCuts = s.maxCuts ?? 5;
      return Array.from({ length: s.runs ?? 20 }, (_, r) => {
        const k = 2 + Math.floor(rnd() * (maxCuts - 1));
        const plans = Array.from({ length: k }, () => ({ cutAt: 1 + Math.floor(rnd() * n), mode: CUT_MODES[Math.floor(rnd() * 3)] ?? 'torn', tornFraction: rnd() }));
        return { scenario: si, index: r, name: `${name}: run ${r} cuts ${plans.map((x) => `${x.mode}@${x.cutAt}`).join(' ')}`, plans, exact: false };
      });
    }
  }
}

function faultPlan(c: BlockCut): FaultPlan {
  if (c.tornFraction === undefined) return { cutAt: c.cutAt, mode: c.mode };
  const f = c.tornFraction;
  return { cutAt: c.cutAt, mode: c.mode, tornBytes: 'random', random: () => f };
}

function qemuCut(c: CutPlan): QemuCut {
  return 'trialBoot' in c ? 'trial-boot' : faultPlan(c);
}

/** Runs one case on a fresh clone of the prepared device, or on a fresh QEMU device when `setup` says so. */
export async function runCase(p: PreparedRun, c: CaseSpec, setup: QemuSetup | null = null, clock: () => number = Date.now): Promise<CaseResult> {
  const started = clock();
  const done = (violations: string[], skipped: string | null = null, cuts: string[] = []): CaseResult => ({
    scenario: c.scenario,
    index: c.index,
    name: c.name,
    violations,
    skipped,
    durationMs: clock() - started,
    ...(cuts.length === 0 ? {} : { cuts }),
  });
  if (c.skip !== undefined) return done([], c.skip);
  // A sweep row whose cut never happened proves nothing: say so rather than pass it.
  const verdict = async (run: Parameters<typeof checkInvariants>[1] & { cutsHit: number }): Promise<CaseResult> => {
    const v = await checkInvariants(p, run, c.exact);
    if (c.exact && run.cutsHit !== c.plans.length) v.push(`only ${run.cutsHit} of ${c.plans.length} planned cuts happened`);
    return done(v, null, run.cuts ?? []);
  };
  try {
    if (setup !== null) return await withQemuRun(p, setup, c.plans.map(qemuCut), verdict);
    const blockCuts = c.plans.map((x) => {
      if ('trialBoot' in x) throw new Error('a trial-boot cut by killing QEMU needs a QEMU tier');
      return faultPlan(x);
    });
    return await verdict(await runWithCuts(p, p.device.clone(), blockCuts));
  } catch (err) {
    return done([`run failed: ${err instanceof Error ? err.message : String(err)}`]);
  }
}
