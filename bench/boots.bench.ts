/**
 * Boots per minute of the two QEMU tiers, each against a bare QEMU
 * start-and-exit of the same payload measured in the same run, so the ratio
 * shows what the bootloader (or the host-side selection) costs on top of QEMU.
 *
 *   npx tsx bench/boots.bench.ts
 *
 * Env: UNIOTA_BENCH_UBOOT_BOOTS (default 60), UNIOTA_BENCH_MICROVM_BOOTS
 * (default 300), UNIOTA_BENCH_PARALLEL (default 4: throughput peaks at about
 * 4 QEMUs on 2 cores). Targets: U-Boot >= 250/min, microvm >= 2,500/min.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  QemuMicrovmMachine,
  QemuUbootMachine,
  buildPayload,
  buildUbootFlash,
  NodeHostFiles,
  NodeProcessRunner,
  runQemu,
  type BootResult,
  type ProcessRunner,
  type RunOptions,
  type RunResult,
} from '../bootloader-sim/src/qemu/index.ts';

/**
 * Wraps every QEMU run in GNU time to sum the CPU seconds it used. Wall-clock
 * boots/min depend on whatever else the machine runs; CPU per boot does not,
 * so it also gives the rate two idle cores would reach (2 x 60 s / CPU per boot).
 */
class CpuMeteredRunner implements ProcessRunner {
  cpuMs = 0;
  runs = 0;
  constructor(private readonly inner: ProcessRunner) {}
  async run(command: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    const res = await this.inner.run('/usr/bin/time', ['-f', 'UNIOTA-CPU %U %S', command, ...args], opts);
    const m = /UNIOTA-CPU ([\d.]+) ([\d.]+)\s*$/.exec(res.stderr);
    if (m) {
      this.cpuMs += (Number(m[1]) + Number(m[2])) * 1000;
      this.runs++;
    }
    return res;
  }
  take(): number {
    const perRun = this.cpuMs / Math.max(1, this.runs);
    this.cpuMs = 0;
    this.runs = 0;
    return perRun;
  }
}

const UBOOT_BOOTS = Number(process.env.UNIOTA_BENCH_UBOOT_BOOTS ?? 60);
const MICROVM_BOOTS = Number(process.env.UNIOTA_BENCH_MICROVM_BOOTS ?? 300);
const PARALLEL = Number(process.env.UNIOTA_BENCH_PARALLEL ?? 4);

const env = (): Map<string, string> =>
  new Map([['boot_part', 'A'], ['upgrade_available', '0'], ['bootcount', '0'], ['bootlimit', '3']]);

type Boot = () => Promise<Pick<BootResult, 'healthy' | 'serial'>>;
const meter = new CpuMeteredRunner(new NodeProcessRunner());

/** Runs `total` boots spread over `workers` (one per parallel slot); returns elapsed ms. Every boot must be healthy. */
async function timeBoots(total: number, workers: Boot[]): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    workers.map(async (boot) => {
      while (next < total) {
        next++;
        const r = await boot();
        if (!r.healthy) throw new Error(`unhealthy boot in benchmark:\n${r.serial}`);
      }
    }),
  );
  return performance.now() - started;
}

/**
 * Boots/min of `tier` and of `bare`, measured in alternating rounds so that
 * load from other work on the machine hits both alike.
 */
async function compare(
  total: number,
  tier: Boot[],
  bare: Boot[],
): Promise<{ tier: number; bare: number; tierCpuMs: number; bareCpuMs: number }> {
  const rounds = 3;
  const per = Math.max(1, Math.round(total / rounds));
  let tierMs = 0;
  let bareMs = 0;
  let tierCpu = 0;
  let bareCpu = 0;
  for (let r = 0; r < rounds; r++) {
    bareMs += await timeBoots(per, bare);
    bareCpu += meter.take();
    tierMs += await timeBoots(per, tier);
    tierCpu += meter.take();
  }
  return {
    tier: (per * rounds * 60_000) / tierMs,
    bare: (per * rounds * 60_000) / bareMs,
    tierCpuMs: tierCpu / rounds,
    bareCpuMs: bareCpu / rounds,
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'uniota-bench-boots-'));
  const runner = meter;
  try {
    console.log(`cpus=${cpus().length} parallel=${PARALLEL} loadavg(1m) before=${loadavg()[0]!.toFixed(2)}`);

    // U-Boot tier vs bare qemu-system-aarch64 -kernel of the same payload.
    const flashPath = join(dir, 'flash.img');
    await buildUbootFlash(flashPath, { runner: new NodeProcessRunner(), files: new NodeHostFiles() });
    const aImage = await buildPayload({ arch: 'aarch64', version: '1.0.0', behaviour: 'healthy' });
    const aElf = await buildPayload({ arch: 'aarch64', version: '1.0.0', behaviour: 'healthy', format: 'elf' });
    const aElfPath = join(dir, 'aarch64.elf');
    writeFileSync(aElfPath, aElf);
    const ubootMachines = await Promise.all(
      Array.from({ length: PARALLEL }, async (_, i) => {
        const d = join(dir, `uboot${i}`);
        mkdirSync(d);
        const m = await QemuUbootMachine.create({ dir: d, flashPath, env: env(), watchdogMs: 20_000, runner });
        await m.disk.writeSlot('A', aImage);
        return m;
      }),
    );
    const bareArm = [
      '-M', 'virt', '-cpu', 'cortex-a57', '-m', '64', '-nodefaults', '-no-user-config', '-display', 'none',
      '-serial', 'stdio', '-no-reboot', '-semihosting-config', 'enable=on,target=native', '-kernel', aElfPath,
    ];
    const arm = await compare(
      UBOOT_BOOTS,
      ubootMachines.map((m) => () => m.boot()),
      ubootMachines.map(() => () => runQemu(runner, 'qemu-system-aarch64', bareArm, { watchdogMs: 20_000 })),
    );
    await Promise.all(ubootMachines.map((m) => m.close()));

    // microvm tier vs bare qemu-system-x86_64 -M microvm -kernel of the same payload.
    const xElf = await buildPayload({ arch: 'x86', version: '1.0.0', behaviour: 'healthy' });
    const xElfPath = join(dir, 'x86.elf');
    writeFileSync(xElfPath, xElf);
    const vms = await Promise.all(
      Array.from({ length: PARALLEL }, async (_, i) => {
        const d = join(dir, `microvm${i}`);
        mkdirSync(d);
        const m = await QemuMicrovmMachine.create({ dir: d, env: env(), watchdogMs: 20_000, runner });
        await m.disk.writeSlot('A', xElf);
        return m;
      }),
    );
    const x86 = await compare(
      MICROVM_BOOTS,
      vms.map((m) => () => m.boot()),
      vms.map((m) => () => runQemu(runner, 'qemu-system-x86_64', m.qemuArgs(xElfPath), { watchdogMs: 20_000 })),
    );
    await Promise.all(vms.map((m) => m.close()));

    const rows = [
      ['U-Boot tier (arm64, real U-Boot + script)', arm, 250],
      ['microvm tier (x86, host-side selection)', x86, 2500],
    ] as const;
    console.log('wall clock, this machine as loaded now:');
    console.log('  tier                                        boots/min  bare QEMU/min  tier/bare  target');
    for (const [name, r, target] of rows) {
      console.log(
        `  ${name.padEnd(44)}${fmt(r.tier).padStart(9)}  ${fmt(r.bare).padStart(13)}  ${(r.tier / r.bare).toFixed(2).padStart(9)}  ` +
          `${r.tier >= target ? 'met' : 'MISSED'} (>= ${fmt(target)})`,
      );
    }
    console.log('CPU per boot (user+sys of QEMU), and the rate 2 idle cores would give (2 x 60 s / CPU per boot):');
    console.log('  tier                                        CPU ms/boot  bare CPU ms  2-core boots/min  bare 2-core/min');
    for (const [name, r] of rows) {
      console.log(
        `  ${name.padEnd(44)}${r.tierCpuMs.toFixed(0).padStart(11)}  ${r.bareCpuMs.toFixed(0).padStart(11)}  ` +
          `${fmt(120_000 / r.tierCpuMs).padStart(16)}  ${fmt(120_000 / r.bareCpuMs).padStart(15)}`,
      );
    }
    console.log(`loadavg(1m) after=${loadavg()[0]!.toFixed(2)} (other work on the machine lowers every number)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
