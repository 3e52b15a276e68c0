import { UniotaError } from '@uniota/errors';

/** Error codes of the simulated bootloader and devices; documented in bootloader-sim/README.md. */
export const BootloaderSimErrorCode = {
  /** A simulated image payload could not be built or read. */
  SIM_IMAGE_INVALID: 'SIM_IMAGE_INVALID',
  /** Neither slot holds an image that verifies: the device cannot boot. */
  BRICKED: 'BRICKED',
  /** A device kept resetting past the simulation's boot budget. */
  BOOT_LOOP: 'BOOT_LOOP',
} as const;
export type BootloaderSimErrorCode = (typeof BootloaderSimErrorCode)[keyof typeof BootloaderSimErrorCode];

export class BootloaderSimError extends UniotaError<BootloaderSimErrorCode> {}
