import { UniotaError } from '@uniota/errors';

/**
 * Error codes of the QEMU tier; documented in bootloader-sim/README.md (QEMU
 * section). Kept apart from the in-process simulator's codes because the lead
 * owns src/errors.ts; they can be merged into one type there later.
 */
export const QemuErrorCode = {
  /** A payload parameter (arch, version, behaviour) is not one the sources accept. */
  PAYLOAD_INVALID: 'PAYLOAD_INVALID',
  /** as/ld/objcopy/mkimage failed while building a payload. */
  PAYLOAD_BUILD_FAILED: 'PAYLOAD_BUILD_FAILED',
  /** A payload does not fit in the slot read size the boot script uses. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** A host tool (mkenvimage, qemu-system-*) could not be started or failed. */
  TOOL_FAILED: 'TOOL_FAILED',
  /** The boot script file is malformed (a continuation line before any variable, a line without '='). */
  SCRIPT_INVALID: 'SCRIPT_INVALID',
  /** UNIOTA_QEMU_ACCEL (or the accel option) is not auto, kvm or tcg. */
  ACCEL_INVALID: 'ACCEL_INVALID',
  /** KVM was required but QEMU cannot use it on this host. */
  ACCEL_UNAVAILABLE: 'ACCEL_UNAVAILABLE',
} as const;
export type QemuErrorCode = (typeof QemuErrorCode)[keyof typeof QemuErrorCode];

/** The one error type of bootloader-sim/src/qemu. */
export class QemuError extends UniotaError<QemuErrorCode> {}
