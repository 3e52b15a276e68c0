/**
 * Which accelerator a QEMU tier runs its guest with, and the flags for it.
 *
 * KVM is what a real x86 deployment uses; TCG (QEMU's translator) is the
 * fallback when /dev/kvm is missing or unusable (containers, CI runners,
 * nested hosts), and the only choice for the arm64 U-Boot tier on an x86 host.
 * `auto` asks QEMU itself whether KVM initialises, once per runner and binary,
 * because an openable /dev/kvm can still refuse to create a VM.
 */
import { QemuError } from './errors.ts';
import type { ProcessRunner } from './process-runner.ts';

/** An accelerator QEMU can run the guest with. */
export type QemuAccel = 'kvm' | 'tcg';
/** What a caller asks for: a fixed accelerator, or KVM when the host can use it and TCG otherwise. */
export type AccelChoice = QemuAccel | 'auto';

/** Environment variable that overrides the choice (`kvm`, `tcg` or `auto`); tests force TCG with it. */
export const ACCEL_ENV = 'UNIOTA_QEMU_ACCEL';

const CHOICES: readonly AccelChoice[] = ['auto', 'kvm', 'tcg'];

/** Reads an AccelChoice from an environment value; unset or empty means `auto`. Throws ACCEL_INVALID. */
export function parseAccelChoice(value: string | undefined): AccelChoice {
  if (value === undefined || value === '') return 'auto';
  const v = value.trim().toLowerCase();
  if (!(CHOICES as readonly string[]).includes(v)) {
    throw new QemuError('ACCEL_INVALID', `${ACCEL_ENV}=${JSON.stringify(value)}: expected auto, kvm or tcg`);
  }
  return v as AccelChoice;
}

/**
 * The -accel arguments. TCG runs single-threaded: every guest here has one
 * vCPU, and MTTCG's extra threads and region-split 1 GiB code buffer only add
 * start-up cost; 32 MiB of translated code is far more than U-Boot needs, so
 * the smaller buffer never forces a flush.
 */
export function accelArgs(accel: QemuAccel): string[] {
  return accel === 'kvm' ? ['-accel', 'kvm'] : ['-accel', 'tcg,thread=single,tb-size=32'];
}

// One probe per runner and binary: machines are created by the hundred in fleet runs.
const probes = new WeakMap<ProcessRunner, Map<string, Promise<boolean>>>();

/**
 * True when `binary` can start with -accel kvm on this host: QEMU creates the
 * VM (KVM_CREATE_VM) during accelerator set-up even for `-M none`, and then
 * quits on the monitor's `quit`; without usable KVM it exits non-zero.
 */
export function kvmUsable(runner: ProcessRunner, binary: string): Promise<boolean> {
  let perRunner = probes.get(runner);
  if (!perRunner) probes.set(runner, (perRunner = new Map()));
  let probe = perRunner.get(binary);
  if (!probe) {
    probe = runner
      .run(binary, ['-accel', 'kvm', '-M', 'none', '-nodefaults', '-no-user-config', '-display', 'none', '-monitor', 'stdio'], {
        stdin: new TextEncoder().encode('quit\n'),
        timeoutMs: 10_000,
      })
      .then(
        (res) => res.exitCode === 0 && !res.timedOut,
        () => false,
      );
    perRunner.set(binary, probe);
  }
  return probe;
}

/** Turns a choice into the accelerator to use: `auto` is KVM if `binary` can use it, else TCG; `kvm` insists. Throws ACCEL_UNAVAILABLE. */
export async function resolveAccel(choice: AccelChoice, runner: ProcessRunner, binary: string): Promise<QemuAccel> {
  if (choice === 'tcg') return 'tcg';
  const usable = await kvmUsable(runner, binary);
  if (usable) return 'kvm';
  if (choice === 'kvm') {
    throw new QemuError('ACCEL_UNAVAILABLE', `${binary} cannot use KVM on this host (is /dev/kvm present and accessible?)`);
  }
  return 'tcg';
}
