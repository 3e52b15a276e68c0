export { decideBoot, fallbackEnv, DEFAULT_BOOT_LIMIT } from './boot-decision.ts';
export type { BootDecision, BootPath } from './boot-decision.ts';
export { bootOnce } from './in-process-bootloader.ts';
export type { BootloaderConfig, BootloaderQuirks, BootResult } from './in-process-bootloader.ts';
export { makeSimImage, parseSimImage, SIM_BEHAVIOURS } from './sim-image.ts';
export type { SimBehaviour, SimImageInfo } from './sim-image.ts';
export { BootloaderSimError, BootloaderSimErrorCode } from './errors.ts';
