/**
 * `uniota fault-test` as a library call: verify the inputs, expand the
 * scenarios into cases, run them (in worker threads when jobs > 1), and
 * return the verdicts with what the summary and the JUnit report need.
 * Under a QEMU tier every case's device is a QEMU VM driven by the real agent
 * (see qemu-flow.ts); the images' expected outcomes come from one probe boot each.
 */
import { parseBundleHeader } from '@uniota/image';
import type { RootDocument } from '@uniota/image';
import type { SimBehaviour } from '@uniota/bootloader-sim';
import { BROKEN_CONFIGS } from './broken-configs.ts';
import type { BrokenConfig, BrokenConfigName } from './broken-configs.ts';
import { CaseExecutor } from './case-executor.ts';
import type { CaseBatch } from './case-executor.ts';
import { expandCases, imageBehaviour } from './cases.ts';
import { FaultTestError } from './errors.ts';
import type { CaseResult, CaseSpec, RunContext } from './cases.ts';
import type { SuiteInfo } from './junit.ts';
import { probeUnderQemu } from './qemu-probe.ts';
import type { QemuTier, QemuVerdict } from './qemu-probe.ts';
import { scenarioName } from './scenario.ts';
import type { ScenarioFile } from './scenario.ts';
import { prepareQemuAssets } from './qemu-assets.ts';
import type { QemuAssets } from './qemu-assets.ts';
import { ProgressBar } from './summary.ts';
import type { OutputStream, ScenarioLine } from './summary.ts';
import { prepareInputs } from './test-inputs.ts';
import type { ImageInput } from './test-inputs.ts';
import { runInWorkers } from './worker-pool.ts';

/** Where the images' trial boots are judged. */
export type FaultTestTier = 'in-process' | QemuTier;

export interface FaultTestOptions {
  /** The user's signed bundle. */
  image: Uint8Array;
  /** The bundle devices run today; default a generated factory image. */
  deployed?: Uint8Array;
  rootDocument: RootDocument;
  hardware: string;
  scenarios: ScenarioFile;
  /** Worker threads; 1 runs in this thread. Under a QEMU tier each case boots VMs, so up to the cores pays. */
  jobs?: number;
  /** The devices' clock (expiry checks); default now. */
  now?: Date;
  /** Where cases run: in-process (default), or on QEMU devices with real boots. */
  tier?: FaultTestTier;
  /** A deliberately broken configuration (self-test of the tester); default none. */
  broken?: BrokenConfigName | null;
  /** Where the progress bar is drawn (only when it is a TTY). */
  progress?: OutputStream;
  /** Boots a payload under a QEMU tier (injected by tests); default the real QEMU tiers. */
  qemuProbe?: (payload: Uint8Array, tier: QemuTier, opts: { flashPath?: string }) => Promise<QemuVerdict>;
}

export interface FaultTestReport {
  /** The tier every case ran on. */
  tier: FaultTestTier;
  results: CaseResult[];
  suites: SuiteInfo[];
  lines: ScenarioLine[];
  notes: string[];
  failedCases: number;
}

function payloadOf(i: ImageInput): Uint8Array {
  return i.bundle.subarray(parseBundleHeader(i.bundle).headerLength);
}

/** Runs every scenario of `opts.scenarios` and returns the verdicts (sorted by scenario, then case). */
export async function runFaultTest(opts: FaultTestOptions): Promise<FaultTestReport> {
  const tier = opts.tier ?? 'in-process';
  if (tier !== 'in-process' && opts.broken != null) {
    const b: BrokenConfig = BROKEN_CONFIGS[opts.broken];
    if (b.bootloaderQuirks !== undefined) {
      throw new FaultTestError('BROKEN_UNSUPPORTED', `--break ${opts.broken} is a defect of the in-process bootloader; the QEMU ${tier} tier boots a real bootloader that cannot have it (run it without --qemu)`);
    }
  }
  const assets = tier === 'in-process' ? null : await prepareQemuAssets(tier);
  try {
    return await runWith(opts, tier, assets);
  } finally {
    await assets?.dispose();
  }
}

async function runWith(opts: FaultTestOptions, tier: FaultTestTier, assets: QemuAssets | null): Promise<FaultTestReport> {
  const now = opts.now ?? new Date();
  const inputs = prepareInputs({
    image: opts.image,
    ...(opts.deployed === undefined ? {} : { deployed: opts.deployed }),
    rootDocument: opts.rootDocument,
    hardware: opts.hardware,
    now,
    ...(assets === null ? {} : { generatedPayloads: assets.generatedPayloads }),
  });
  const notes: string[] = [];
  if (tier !== 'in-process') {
    const probe = opts.qemuProbe ?? probeUnderQemu;
    for (const [label, img] of [['your image', inputs.image], ['the deployed image', inputs.base]] as const) {
      if (img.behaviourSource === 'generated') continue;
      // Every power-on of a QEMU case really boots the slot: a simulated payload cannot boot there.
      if (img.behaviourSource === 'simulated payload') {
        throw new FaultTestError('QEMU_UNAVAILABLE', `${label} ${img.version} is a simulated image with no bootable payload; the QEMU ${tier} tier boots every image for real (run it without --qemu)`);
      }
      const v = await probe(payloadOf(img), tier, assets?.ubootFlash == null ? {} : { flashPath: assets.ubootFlash });
      img.behaviour = v.behaviour;
      img.behaviourSource = 'qemu';
      notes.push(`${label} ${img.version} booted under QEMU ${tier}: ${v.outcome} -> behaves '${v.behaviour}' on every trial boot`);
    }
    notes.push(
      `every case ran on a QEMU ${tier} device: the agent writes the VM's disk host-side, power cuts hit its block writes there (sweep ops count the agent's writes; the bootloader's own env writes are ${tier === 'uboot' ? "U-Boot's" : "the host bootloader's"}), a trial-boot cut kills QEMU once the new image runs, and every power-on is a real boot from the disk's env`,
    );
  } else if (inputs.image.behaviour === null) {
    notes.push(`your image ${inputs.image.version} is not a simulated image: a real unikernel cannot run in-process, so its behaviour comes from the scenario (default 'ok'); use --qemu to boot it for real`);
  }
  if (inputs.baseIsGenerated) notes.push(`no --deployed image: devices start from a generated factory image (${inputs.base.version}, counter 0) signed by a throwaway key added to a copy of your images role`);
  if (opts.broken != null) notes.push(`SELF-TEST with a deliberately broken configuration '${opts.broken}': ${BROKEN_CONFIGS[opts.broken].description}`);

  const ctx: RunContext = { inputs, file: opts.scenarios, broken: opts.broken ?? null, tier, ubootFlash: assets?.ubootFlash ?? null };
  const suites: SuiteInfo[] = [];
  const lines: ScenarioLine[] = [];
  const cases: CaseSpec[][] = [];
  for (const [si, s] of opts.scenarios.scenarios.entries()) {
    const name = scenarioName(s, si);
    suites.push({ name, kind: s.kind });
    lines.push({ name, note: behaviourNote(ctx, s.behaviour, imageBehaviour(ctx, s)) });
    cases.push(await expandCases(ctx, s, si));
  }
  const total = cases.reduce((t, c) => t + c.length, 0);
  const jobs = Math.max(1, opts.jobs ?? 1);
  // Several batches per worker so one slow scenario does not leave cores idle at the end.
  const size = Math.max(1, Math.ceil(total / (jobs * 8)));
  const batches: CaseBatch[] = cases.flatMap((cs) => {
    const out: CaseBatch[] = [];
    for (let i = 0; i < cs.length; i += size) out.push({ scenario: cs[0]?.scenario ?? 0, cases: cs.slice(i, i + size) });
    return out;
  });

  const bar = new ProgressBar(opts.progress ?? { write: () => true }, total);
  const results: CaseResult[] = [];
  const onBatch = (rs: CaseResult[]): void => {
    results.push(...rs);
    bar.update(results.length, results.filter((r) => r.violations.length > 0).length);
  };
  bar.update(0, 0);
  if (jobs === 1) {
    const ex = new CaseExecutor(ctx);
    for (const b of batches) onBatch(await ex.run(b));
  } else {
    await runInWorkers(ctx, batches, jobs, onBatch);
  }
  bar.finish();
  results.sort((a, b) => a.scenario - b.scenario || a.index - b.index);
  return { tier, results, suites, lines, notes, failedCases: results.filter((r) => r.violations.length > 0).length };
}

function behaviourNote(ctx: RunContext, asked: SimBehaviour | undefined, used: SimBehaviour): string {
  const img = ctx.inputs.image;
  if (img.behaviourSource === 'scenario') return `image behaves '${used}' (from the scenario)`;
  const from = img.behaviourSource === 'qemu' ? 'measured under QEMU' : 'from its simulated payload';
  const ignored = asked !== undefined && asked !== used ? `; the scenario's '${asked}' does not apply` : '';
  return `image behaves '${used}' (${from}${ignored})`;
}
