import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UniotaError } from '@uniota/errors';
import { parseRootDocument } from '@uniota/image';
import type { RootDocument } from '@uniota/image';
import { BROKEN_CONFIGS, FaultTestError, defaultJobs, isBrokenConfigName, junitXml, parseScenarioFile, runFaultTest, summaryText } from '@uniota/fault-injection';
import type { FaultTestTier, OutputStream } from '@uniota/fault-injection';

/** Options of `uniota fault-test` as commander parses them. */
export interface FaultTestCliOptions {
  image: string;
  deployed?: string;
  root: string;
  hardware: string;
  scenarios: string;
  junit?: string;
  jobs?: number;
  qemu?: boolean | string;
  break?: string;
  /** The devices' clock (ISO time); default now. For reproducing a run. */
  now?: string;
}

function readInput(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err);
    throw new FaultTestError('INPUT_INVALID', `${flag} ${path}: ${why}`, { cause: err });
  }
}

function tierOf(qemu: boolean | string | undefined): FaultTestTier {
  if (qemu === undefined || qemu === false) return 'in-process';
  if (qemu === true || qemu === 'microvm') return 'microvm';
  if (qemu === 'uboot') return 'uboot';
  throw new UniotaError('CLI_USAGE', `--qemu takes no value (the x86 microvm tier) or =uboot (real U-Boot on arm64), got ${JSON.stringify(qemu)}`);
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new UniotaError('CLI_USAGE', `expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** Runs the command: prints the summary to `out`, writes the JUnit report, throws VIOLATIONS when any case failed. */
export async function faultTestCommand(o: FaultTestCliOptions, out: OutputStream = process.stdout): Promise<void> {
  if (o.break !== undefined && !isBrokenConfigName(o.break)) {
    throw new UniotaError('CLI_USAGE', `--break ${o.break}: unknown; one of ${Object.keys(BROKEN_CONFIGS).join(', ')}`);
  }
  const tier = tierOf(o.qemu);
  const scenarios = parseScenarioFile(readInput('--scenarios', o.scenarios).toString('utf8'), o.scenarios);
  let rootDocument: RootDocument;
  try {
    rootDocument = parseRootDocument(readInput('--root', o.root).toString('utf8'));
  } catch (err) {
    if (err instanceof FaultTestError) throw err;
    throw new FaultTestError('INPUT_INVALID', `--root ${o.root}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const now = o.now === undefined ? new Date() : new Date(o.now);
  if (Number.isNaN(now.getTime())) throw new UniotaError('CLI_USAGE', `--now ${o.now}: not an ISO time`);
  const report = await runFaultTest({
    image: readInput('--image', o.image),
    ...(o.deployed === undefined ? {} : { deployed: readInput('--deployed', o.deployed) }),
    rootDocument,
    hardware: o.hardware,
    scenarios,
    jobs: o.jobs ?? defaultJobs(),
    now,
    tier,
    broken: o.break !== undefined && isBrokenConfigName(o.break) ? o.break : null,
    progress: out,
  });
  if (o.junit !== undefined) writeFileSync(o.junit, junitXml(report.suites, report.results, report.tier));
  out.write(summaryText(report.lines, report.results, report.notes, report.tier));
  if (report.failedCases > 0) {
    throw new FaultTestError('VIOLATIONS', `${report.failedCases} of ${report.results.length} cases violated invariants${o.junit === undefined ? '' : ` (details in ${o.junit})`}`);
  }
}

/** `uniota fault-test`: CI rollback-fault injection for your own images. */
export function register(program: Command): void {
  program
    .command('fault-test')
    .description('run your signed image through the full update flow under injected faults (power cuts, corrupt payload, bad signature, downgrade, failing images) and check it can never brick a device')
    .requiredOption('--image <file>', 'the signed bundle to test')
    .option('--deployed <file>', 'the signed bundle devices run today (default: a generated factory image)')
    .requiredOption('--root <file>', 'the trust root devices hold (root.json)')
    .requiredOption('--hardware <hw>', "the devices' board name")
    .requiredOption('--scenarios <file>', 'scenario file, JSON or YAML (see docs/fault-test-scenarios.yaml)')
    .option('--junit <file>', 'write a JUnit XML report here')
    .option('--jobs <n>', 'cases run in parallel in worker threads (default: the number of cores)', positiveInt)
    .option(
      '--qemu [tier]',
      'run every case on a QEMU device with real boots: the x86 microvm tier (host-side bootloader, ~50 ms a boot), or --qemu=uboot for real U-Boot on arm64 (~1 s a boot); power cuts hit the agent\'s disk writes, a trial-boot cut kills QEMU. Each case costs several boots: bound the sweep with the scenario file (every:, runs:)',
    )
    .option('--break <config>', `self-test only: run a deliberately broken device (${Object.keys(BROKEN_CONFIGS).join(', ')}); the run must then fail`)
    .option('--now <iso>', "the devices' clock (default: now)")
    .action((o: FaultTestCliOptions) => faultTestCommand(o));
}
