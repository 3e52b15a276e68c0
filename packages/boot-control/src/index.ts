export { otherSlot, type BootControl, type BootState, type SlotName } from './boot-control.ts';
export { BootControlError, BootControlErrorCode } from './errors.ts';
export { encodeEnvCopy, decodeEnvCopy, newerCopy, ENV_HEADER_SIZE } from './uboot-env-format.ts';
export { UBootEnvStore, type EnvLocation, type EnvSnapshot } from './uboot-env-store.ts';
export { UBootEnvBootControl, initialBootEnv, type UBootEnvBootControlOptions } from './backends/uboot-env.ts';
export { BootVar, parseBootEnv, validateBootEnv, type BootEnvProblem } from './backends/boot-env-vars.ts';
export { MemoryBootControl } from './backends/memory.ts';
