/**
 * The reference bootloader tier: Debian's real U-Boot (qemu_arm64) under
 * qemu-system-aarch64, running boot-script.env from pflash unit 1 and
 * keeping its boot state in the redundant env on the virtio disk, where the
 * agent's UBootEnvStore and fw_printenv read it.
 */
import { join } from 'node:path';
import { accelArgs } from './accel.ts';
import type { BootOptions, BootResult } from './boot-result.ts';
import { PFLASH1_BASE, buildUbootFlash } from './boot-script.ts';
import { DeviceDisk, type DeviceDiskOptions } from './device-disk.ts';
import type { HostFiles } from './host-files.ts';
import { NodeHostFiles } from './node-host-files.ts';
import { NodeProcessRunner } from './node-process-runner.ts';
import type { ProcessRunner } from './process-runner.ts';
import { runQemu } from './run-qemu.ts';

/** Debian's U-Boot build for QEMU's arm64 virt machine (package u-boot-qemu). */
export const DEBIAN_UBOOT_ARM64 = '/usr/lib/u-boot/qemu_arm64/u-boot.bin';

/** Options of QemuUbootMachine.create. */
export interface QemuUbootMachineOptions extends DeviceDiskOptions {
  /** Directory for this device's disk.img (and its flash, unless `flashPath` is given). */
  dir: string;
  /** Initial boot-state env written to the disk; default none (no valid copy). */
  env?: Map<string, string>;
  /** A flash image made by buildUbootFlash, shared read-only between machines; default: build one in `dir`. */
  flashPath?: string;
  /** The device's watchdog: a boot still running after this long is killed (a reset). Default 5000 ms. */
  watchdogMs?: number;
  /** Guest RAM; 32 MiB hangs with the script's load addresses, 64 works. Default 64. */
  memoryMiB?: number;
  ubootPath?: string;
  qemuBinary?: string;
  runner?: ProcessRunner;
  files?: HostFiles;
}

/** A QEMU arm64 device booted by real U-Boot; one `boot()` is one power-on until the payload exits or is reset. */
export class QemuUbootMachine {
  private constructor(
    /** The device's disk: slots and boot-state env. */
    readonly disk: DeviceDisk,
    private readonly flashPath: string,
    private readonly opts: QemuUbootMachineOptions,
    private readonly runner: ProcessRunner,
  ) {}

  /** Creates the disk (and the flash unless shared) in `opts.dir`. */
  static async create(opts: QemuUbootMachineOptions): Promise<QemuUbootMachine> {
    const runner = opts.runner ?? new NodeProcessRunner();
    const files = opts.files ?? new NodeHostFiles();
    let flashPath = opts.flashPath;
    if (flashPath === undefined) {
      flashPath = join(opts.dir, 'uboot-flash.img');
      await buildUbootFlash(flashPath, { runner, files });
    }
    const disk = await DeviceDisk.create(join(opts.dir, 'disk.img'), opts);
    return new QemuUbootMachine(disk, flashPath, opts, runner);
  }

  /** The qemu-system-aarch64 command line of one boot. */
  qemuArgs(): string[] {
    return [
      // Always TCG: an arm64 guest on an x86 host has no KVM. Single-threaded TCG
      // cut QEMU's CPU per boot by about a quarter (bench/boots.bench.ts).
      ...accelArgs('tcg'),
      '-M', 'virt', '-cpu', 'cortex-a57', '-m', String(this.opts.memoryMiB ?? 64),
      '-bios', this.opts.ubootPath ?? DEBIAN_UBOOT_ARM64,
      '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio',
      // A guest reset (the script's `reset` after a failed bootm) ends this boot, like a watchdog reset would.
      '-no-reboot',
      // The static env goes into pflash unit 1 through QEMU's loader, not as a
      // pflash drive: a drive must be the full 64 MiB and QEMU copies all of it
      // into memory at every start. Without a drive nothing U-Boot might write
      // there outlives the boot, so the static env stays as read-only as before.
      '-device', `loader,file=${this.flashPath},addr=0x${PFLASH1_BASE.toString(16)},force-raw=on`,
      '-drive', `if=none,id=disk,format=raw,file=${this.disk.path}`,
      '-device', 'virtio-blk-device,drive=disk',
      '-semihosting-config', 'enable=on,target=native',
    ];
  }

  /** Powers the device on once and judges the boot from the serial output. */
  async boot(options: BootOptions = {}): Promise<BootResult> {
    const res = await runQemu(this.runner, this.opts.qemuBinary ?? 'qemu-system-aarch64', this.qemuArgs(), {
      watchdogMs: this.opts.watchdogMs ?? 5000,
      ...(options.powerCut ? { powerCut: options.powerCut } : {}),
    });
    const { verdict, ...result } = res;
    return { ...result, bootedSlot: verdict.announcedSlot };
  }

  /** Closes the disk image. */
  close(): Promise<void> {
    return this.disk.close();
  }
}

