/** The QEMU tiers of the bootloader simulator: real U-Boot on arm64, and host-selected x86 microvm. */
export { QemuUbootMachine, DEBIAN_UBOOT_ARM64, type QemuUbootMachineOptions } from './qemu-uboot-machine.ts';
export { QemuMicrovmMachine, microvmArgs, type QemuMicrovmMachineOptions, type MicrovmBootResult } from './qemu-microvm-machine.ts';
export { ACCEL_ENV, accelArgs, kvmUsable, parseAccelChoice, resolveAccel, type AccelChoice, type QemuAccel } from './accel.ts';
export type { BootOptions, BootResult, PowerCut } from './boot-result.ts';
export type { BootOutcome } from './serial-verdict.ts';
export { DeviceDisk, type DeviceDiskOptions } from './device-disk.ts';
export {
  buildPayload,
  PAYLOAD_EXIT_CODE,
  type PayloadArch,
  type PayloadBehaviour,
  type PayloadFormat,
  type PayloadSpec,
  type PayloadBuildDeps,
} from './payload-builder.ts';
export { buildUbootFlash, BOOT_SCRIPT_PATH, SLOT_READ_BYTES } from './boot-script.ts';
export { runQemu } from './run-qemu.ts';
export { QemuError, QemuErrorCode } from './errors.ts';
export type { ProcessRunner, RunOptions, RunResult } from './process-runner.ts';
export { NodeProcessRunner } from './node-process-runner.ts';
export type { HostFiles } from './host-files.ts';
export { NodeHostFiles } from './node-host-files.ts';
