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
} from '../bootloader-sim/src/qemu/index.ts';

const UBOOT_BOOTS = Number(process.env.UNIOTA_BENCH_UBOOT_BOOTS ?? 60);
const MICROVM_BOOTS = Number(process.env.UNIOTA_BENCH_MICROVM_BOOTS ?? 300);
const PARALLEL = Number(process.env.UNIOTA_BENCH_PARALLEL ?? 4);

const env = (): Map<string, string> =>
  new Map([['boot_part', 'A'], ['upgrade_available', '0'], ['bootcount', '0'], ['bootlimit', '3']]);

/** Runs `total` boots on `workers` (one per parallel slot) and returns boots per minute; every boot must be healthy. */
async function throughput(total: number, workers: Array<() => Promise<Pick<BootResult, 'healthy' | 'serial'>>>): Promise<number> {
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
  return (total / (performance.now() - started)) * 60_000;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'uniota-bench-boots-'));
  const runner = new NodeProcessRunner();
  try {
    console.log(`cpus=${cpus().length} parallel=${PARALLEL} loadavg(1m) before=${loadavg()[0]!.toFixed(2)}`);

    // U-Boot tier vs bare qemu-system-aarch64 -kernel of the same payload.
    const flashPath = join(dir, 'flash.img');
    await buildUbootFlash(flashPath, { runner, files: new NodeHostFiles() });
    const aImage = await buildPayload({ arch: 'aarch64', version: '1.0.0', behaviour: 'healthy' });
    const aElf = await buildPayload({ arch: 'aarch64', version: '1.0.0', behaviour: 'healthy', format: 'elf' });
    const aElfPath = join(dir, 'aarch64.elf');
    writeFileSync(aElfPath, aElf);
    const ubootMachines = await Promise.all(
      Array.from({ length: PARALLEL }, async (_, i) => {
        const d = join(dir, `uboot${i}`);
        mkdirSync(d);
        const m = await QemuUbootMachine.create({ dir: d, flashPath, env: env(), watchdogMs: 20_000 });
        await m.disk.writeSlot('A', aImage);
        return m;
      }),
    );
    const bareArm = [
      '-M', 'virt', '-cpu', 'cortex-a57', '-m', '64', '-nodefaults', '-no-user-config', '-display', 'none',
      '-serial', 'stdio', '-no-reboot', '-semihosting-config', 'enable=on,target=native', '-kernel', aElfPath,
    ];
    const bareArmRate = await throughput(
      UBOOT_BOOTS,
      ubootMachines.map(() => () => runQemu(runner, 'qemu-system-aarch64', bareArm, { watchdogMs: 20_000 })),
    );
    const ubootRate = await throughput(UBOOT_BOOTS, ubootMachines.map((m) => () => m.boot()));
    await Promise.all(ubootMachines.map((m) => m.close()));

    // microvm tier vs bare qemu-system-x86_64 -M microvm -kernel of the same payload.
    const xElf = await buildPayload({ arch: 'x86', version: '1.0.0', behaviour: 'healthy' });
    const xElfPath = join(dir, 'x86.elf');
    writeFileSync(xElfPath, xElf);
    const vms = await Promise.all(
      Array.from({ length: PARALLEL }, async (_, i) => {
        const d = join(dir, `microvm${i}`);
        mkdirSync(d);
        const m = await QemuMicrovmMachine.create({ dir: d, env: env(), watchdogMs: 20_000 });
        await m.disk.writeSlot('A', xElf);
        return m;
      }),
    );
    const bareX86Rate = await throughput(
      MICROVM_BOOTS,
      vms.map((m) => () => runQemu(runner, 'qemu-system-x86_64', m.qemuArgs(xElfPath), { watchdogMs: 20_000 })),
    );
    const microvmRate = await throughput(MICROVM_BOOTS, vms.map((m) => () => m.boot()));
    await Promise.all(vms.map((m) => m.close()));

    const rows = [
      ['U-Boot tier (arm64, real U-Boot + script)', ubootRate, bareArmRate, 250],
      ['microvm tier (x86, host-side selection)', microvmRate, bareX86Rate, 2500],
    ] as const;
    console.log('tier                                        boots/min   bare QEMU/min  tier/bare  target');
    for (const [name, rate, bare, target] of rows) {
      console.log(
        `${name.padEnd(44)}${fmt(rate).padStart(9)}   ${fmt(bare).padStart(13)}  ${(rate / bare).toFixed(2).padStart(9)}  ` +
          `${rate >= target ? 'met' : 'MISSED'} (>= ${fmt(target)})`,
      );
    }
    console.log(`loadavg(1m) after=${loadavg()[0]!.toFixed(2)} (other work on the machine lowers every number)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
