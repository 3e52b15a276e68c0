/**
 * Boots per minute of each boot tier (issue #4): U-Boot (arm64, real U-Boot
 * + script), microvm (x86, host-side selection) under KVM and under TCG, and
 * the in-process bootloader. Each QEMU tier is measured against a bare QEMU
 * start-and-exit of the same payload with the SAME accelerator and flags, in
 * the same run (alternating rounds), so tier/bare shows what the bootloader or
 * the host-side selection costs on top of QEMU itself.
 *
 *   npx tsx bench/boots.bench.ts
 *
 * Env: UNIOTA_BENCH_UBOOT_BOOTS (default 60), UNIOTA_BENCH_MICROVM_BOOTS
 * (default 300), UNIOTA_BENCH_INPROCESS_BOOTS (default 2000),
 * UNIOTA_BENCH_PARALLEL: QEMUs run at once, a comma list is a sweep (default
 * 2,3,4,6); UNIOTA_QEMU_ACCEL=tcg skips the KVM row (as on a host without KVM).
 * Targets: U-Boot >= 250/min, microvm >= 2,500/min.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { provisionSimDisk, smallDeviceSpec } from '@uniota/device-agent';
import { bootOnce } from '../bootloader-sim/src/index.ts';
import {
  ACCEL_ENV,
  QemuMicrovmMachine,
  QemuUbootMachine,
  accelArgs,
  buildPayload,
  buildUbootFlash,
  microvmArgs,
  parseAccelChoice,
  resolveAccel,
  NodeHostFiles,
  NodeProcessRunner,
  runQemu,
  type BootResult,
  type ProcessRunner,
  type QemuAccel,
  type RunOptions,
  type RunResult,
} from '../bootloader-sim/src/qemu/index.ts';
import { makeBundle, makeTrust, TEST_HARDWARE } from '../test/helpers/fixtures.ts';

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
  /** CPU ms per run since the last take(), and resets. */
  take(): number {
    const perRun = this.cpuMs / Math.max(1, this.runs);
    this.cpuMs = 0;
    this.runs = 0;
    return perRun;
  }
}

const UBOOT_BOOTS = Number(process.env.UNIOTA_BENCH_UBOOT_BOOTS ?? 60);
const MICROVM_BOOTS = Number(process.env.UNIOTA_BENCH_MICROVM_BOOTS ?? 300);
const INPROCESS_BOOTS = Number(process.env.UNIOTA_BENCH_INPROCESS_BOOTS ?? 2000);
const PARALLEL = (process.env.UNIOTA_BENCH_PARALLEL ?? '2,3,4,6').split(',').map(Number);
if (PARALLEL.some((p) => !Number.isInteger(p) || p < 1)) throw new Error('UNIOTA_BENCH_PARALLEL: positive integers, comma-separated');
const MAX_PARALLEL = Math.max(...PARALLEL);

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

interface Compared {
  tier: number;
  bare: number;
  tierCpuMs: number;
  bareCpuMs: number;
  /** CPU of this Node process per boot (spawning, pipes, and for the tier the host-side env read and slot selection). */
  tierHostMs: number;
  bareHostMs: number;
}

/** CPU ms this process used since `since`. */
const hostCpuMs = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

/**
 * Boots/min of `tier` and of `bare`, measured in alternating rounds so that
 * load from other work on the machine hits both alike.
 */
async function compare(total: number, tier: Boot[], bare: Boot[]): Promise<Compared> {
  const rounds = 3;
  const per = Math.max(1, Math.round(total / rounds));
  let tierMs = 0;
  let bareMs = 0;
  let tierCpu = 0;
  let bareCpu = 0;
  let tierHost = 0;
  let bareHost = 0;
  meter.take(); // forget set-up runs (the KVM probe)
  for (let r = 0; r < rounds; r++) {
    let since = process.cpuUsage();
    bareMs += await timeBoots(per, bare);
    bareHost += hostCpuMs(since);
    bareCpu += meter.take();
    since = process.cpuUsage();
    tierMs += await timeBoots(per, tier);
    tierHost += hostCpuMs(since);
    tierCpu += meter.take();
  }
  return {
    tier: (per * rounds * 60_000) / tierMs,
    bare: (per * rounds * 60_000) / bareMs,
    tierCpuMs: tierCpu / rounds,
    bareCpuMs: bareCpu / rounds,
    tierHostMs: tierHost / (per * rounds),
    bareHostMs: bareHost / (per * rounds),
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

interface Row {
  name: string;
  accel: string;
  parallel: number;
  r: Compared;
  target: number;
}

/** The U-Boot tier (always TCG) against bare qemu-system-aarch64 -kernel of the same payload with the same flags. */
async function ubootRows(dir: string): Promise<Row[]> {
  const flashPath = join(dir, 'flash.img');
  await buildUbootFlash(flashPath, { runner: new NodeProcessRunner(), files: new NodeHostFiles() });
  const image = await buildPayload({ arch: 'aarch64', version: '1.0.0', behaviour: 'healthy' });
  const elfPath = join(dir, 'aarch64.elf');
  writeFileSync(elfPath, await buildPayload({ arch: 'aarch64', version: '1.0.0', behaviour: 'healthy', format: 'elf' }));
  const machines = await Promise.all(
    Array.from({ length: MAX_PARALLEL }, async (_, i) => {
      const d = join(dir, `uboot${i}`);
      mkdirSync(d);
      const m = await QemuUbootMachine.create({ dir: d, flashPath, env: env(), watchdogMs: 30_000, runner: meter });
      await m.disk.writeSlot('A', image);
      return m;
    }),
  );
  const bareArgs = [
    ...accelArgs('tcg'),
    '-M', 'virt', '-cpu', 'cortex-a57', '-m', '64', '-nodefaults', '-no-user-config', '-display', 'none',
    '-serial', 'stdio', '-no-reboot', '-semihosting-config', 'enable=on,target=native', '-kernel', elfPath,
  ];
  const rows: Row[] = [];
  try {
    for (const p of PARALLEL) {
      const ms = machines.slice(0, p);
      const r = await compare(
        UBOOT_BOOTS,
        ms.map((m) => () => m.boot()),
        ms.map(() => () => runQemu(meter, 'qemu-system-aarch64', bareArgs, { watchdogMs: 30_000 })),
      );
      rows.push({ name: 'U-Boot (arm64, real U-Boot + script)', accel: 'tcg', parallel: p, r, target: 250 });
      console.log(`  measured U-Boot P=${p}: ${fmt(r.tier)}/min (bare ${fmt(r.bare)}/min)`);
    }
  } finally {
    await Promise.all(machines.map((m) => m.close()));
  }
  return rows;
}

/** The microvm tier with `accel` against bare qemu-system-x86_64 -M microvm -kernel with the same accelerator and flags. */
async function microvmRows(dir: string, accel: QemuAccel, elf: Uint8Array, elfPath: string): Promise<Row[]> {
  const machines = await Promise.all(
    Array.from({ length: MAX_PARALLEL }, async (_, i) => {
      const d = join(dir, `microvm-${accel}${i}`);
      mkdirSync(d);
      const m = await QemuMicrovmMachine.create({ dir: d, env: env(), watchdogMs: 20_000, runner: meter, accel });
      await m.disk.writeSlot('A', elf);
      return m;
    }),
  );
  const rows: Row[] = [];
  try {
    for (const p of PARALLEL) {
      const ms = machines.slice(0, p);
      const r = await compare(
        MICROVM_BOOTS,
        ms.map((m) => () => m.boot()),
        ms.map(() => () => runQemu(meter, 'qemu-system-x86_64', microvmArgs(accel, elfPath), { watchdogMs: 20_000 })),
      );
      rows.push({ name: 'microvm (x86, host-side selection)', accel, parallel: p, r, target: 2500 });
      console.log(`  measured microvm ${accel} P=${p}: ${fmt(r.tier)}/min (bare ${fmt(r.bare)}/min)`);
    }
  } finally {
    await Promise.all(machines.map((m) => m.close()));
  }
  return rows;
}

/** The in-process bootloader (signature and payload verification over an in-memory disk), one Node thread. */
async function inProcessRate(): Promise<number> {
  const trust = makeTrust();
  const spec = smallDeviceSpec(trust.root, TEST_HARDWARE);
  const { disk, layout } = await provisionSimDisk(spec, makeBundle(trust, { version: '1.0.0', behaviour: 'ok' }));
  const cfg = { hardware: spec.hardware, root: spec.root, layout, trailerSize: spec.trailerSize };
  const started = performance.now();
  for (let i = 0; i < INPROCESS_BOOTS; i++) {
    const r = await bootOnce(disk, cfg);
    if (r.kind !== 'booted' || r.slot !== 'A') throw new Error(`in-process boot ${i} did not boot slot A`);
  }
  return (INPROCESS_BOOTS * 60_000) / (performance.now() - started);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'uniota-bench-boots-'));
  try {
    const choice = parseAccelChoice(process.env[ACCEL_ENV]);
    // The microvm tier's default (auto) is KVM when usable; TCG is measured too, as the fallback every host has.
    const kvm = choice !== 'tcg' && (await resolveAccel('auto', new NodeProcessRunner(), 'qemu-system-x86_64')) === 'kvm';
    console.log(
      `cpus=${cpus().length} parallel=${PARALLEL.join(',')} kvm=${kvm ? 'usable' : choice === 'tcg' ? `off (${ACCEL_ENV}=tcg)` : 'not usable'} ` +
        `loadavg(1m) before=${loadavg()[0]!.toFixed(2)}`,
    );

    const rows: Row[] = [];
    rows.push(...(await ubootRows(dir)));
    const elf = await buildPayload({ arch: 'x86', version: '1.0.0', behaviour: 'healthy' });
    const elfPath = join(dir, 'x86.elf');
    writeFileSync(elfPath, elf);
    if (kvm) rows.push(...(await microvmRows(dir, 'kvm', elf, elfPath)));
    rows.push(...(await microvmRows(dir, 'tcg', elf, elfPath)));
    const inProcess = await inProcessRate();

    console.log('wall clock, this machine as loaded now (bare = QEMU start-and-exit of the same payload, same accel and flags):');
    console.log('  tier                                  accel   P  boots/min  bare QEMU/min  tier/bare  target');
    for (const { name, accel, parallel, r, target } of rows) {
      console.log(
        `  ${name.padEnd(38)}${accel.padEnd(5)}${String(parallel).padStart(4)}${fmt(r.tier).padStart(11)}  ${fmt(r.bare).padStart(13)}  ` +
          `${(r.tier / r.bare).toFixed(2).padStart(9)}  ${r.tier >= target ? 'met' : 'MISSED'} (>= ${fmt(target)})`,
      );
    }
    console.log(`  ${'in-process bootloader (no QEMU)'.padEnd(38)}${'-'.padEnd(5)}${'1'.padStart(4)}${fmt(inProcess).padStart(11)}  ${'n/a'.padStart(13)}`);
    console.log('CPU per boot (user+sys of QEMU), the rate 2 idle cores would give (2 x 60 s / CPU per boot), and this');
    console.log('Node process\'s own CPU per boot (spawn, pipes; for the tier also the host-side env read and selection):');
    console.log('  tier                                  accel   P  CPU ms/boot  bare CPU ms  2-core boots/min  bare 2-core/min  host ms  bare host ms');
    for (const { name, accel, parallel, r } of rows) {
      console.log(
        `  ${name.padEnd(38)}${accel.padEnd(5)}${String(parallel).padStart(4)}${r.tierCpuMs.toFixed(1).padStart(13)}  ${r.bareCpuMs.toFixed(1).padStart(11)}  ` +
          `${fmt(120_000 / r.tierCpuMs).padStart(16)}  ${fmt(120_000 / r.bareCpuMs).padStart(15)}  ${r.tierHostMs.toFixed(1).padStart(7)}  ${r.bareHostMs.toFixed(1).padStart(12)}`,
      );
    }
    console.log('best wall-clock rate per tier:');
    for (const key of [...new Set(rows.map((r) => `${r.name}|${r.accel}`))]) {
      const best = rows.filter((r) => `${r.name}|${r.accel}` === key).sort((a, b) => b.r.tier - a.r.tier)[0]!;
      console.log(`  ${best.name} ${best.accel}: ${fmt(best.r.tier)}/min at P=${best.parallel} (bare ${fmt(best.r.bare)}/min)`);
    }
    console.log(`loadavg(1m) after=${loadavg()[0]!.toFixed(2)} (other work on the machine lowers every number)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
