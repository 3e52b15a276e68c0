export type { BlockDevice } from './block-device.ts';
export { readInto } from './block-device.ts';
export { BlockDeviceError, BlockDeviceErrorCode } from './errors.ts';
export { MemoryBlockDevice } from './memory-device.ts';
export { FileBlockDevice, type FileBlockDeviceOptions } from './file-device.ts';
export { PartitionView } from './partition-view.ts';
export {
  planDiskLayout,
  PartitionType,
  SECTOR_SIZE,
  type DiskLayout,
  type DiskLayoutOptions,
  type PartitionInfo,
} from './disk-layout.ts';
export { writeGpt, readGpt } from './gpt.ts';
export { FaultyBlockDevice, PowerCutError, isPowerCut, type CutMode, type FaultPlan } from './faulty-device.ts';
export { crc32 } from './crc32.ts';
