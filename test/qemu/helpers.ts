/** Shared setup of the QEMU tests: temp dirs, payloads, fw_printenv/fw_setenv on a device disk. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceDisk } from '../../bootloader-sim/src/qemu/index.ts';

/** A fresh temp dir, removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function fwConfig(disk: DeviceDisk): string {
  const path = `${disk.path}.fw_env.config`;
  writeFileSync(path, disk.fwEnvConfig());
  return path;
}

/** The env as Debian's fw_printenv (libubootenv) reads it from the disk image. */
export function fwPrintenv(disk: DeviceDisk): Record<string, string> {
  const out = execFileSync('fw_printenv', ['-c', fwConfig(disk)], { encoding: 'utf8' });
  const vars: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) vars[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return vars;
}

/** Sets variables with Debian's fw_setenv in ONE write (its script mode: name=value lines). */
export function fwSetenv(disk: DeviceDisk, vars: Record<string, string>): void {
  const script = `${disk.path}.fw_setenv`;
  writeFileSync(script, Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(''));
  execFileSync('fw_setenv', ['-c', fwConfig(disk), '-s', script]);
}

/** The env a provisioned device starts with, slot A committed. */
export function factoryEnv(): Map<string, string> {
  return new Map([
    ['boot_part', 'A'],
    ['upgrade_available', '0'],
    ['bootcount', '0'],
    ['bootlimit', '3'],
  ]);
}

/** What the agent writes to arm a trial of `slot` (one write). */
export function trialEnv(slot: 'A' | 'B'): Map<string, string> {
  return new Map([
    ['boot_part', slot],
    ['upgrade_available', '1'],
    ['bootcount', '0'],
    ['bootlimit', '3'],
  ]);
}
