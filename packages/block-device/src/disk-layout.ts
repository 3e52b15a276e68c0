import { BlockDeviceError } from './errors.ts';
import { deterministicGuid } from './guid.ts';

export const SECTOR_SIZE = 512;
const MIB = 1024 * 1024;
/** Sectors a GPT copy needs: the header sector plus 128 entries of 128 bytes. */
export const GPT_SECTORS = 1 + (128 * 128) / SECTOR_SIZE;

/** Partition type GUIDs; the env one is the Discoverable Partitions spec's "U-Boot environment". */
export const PartitionType = {
  ubootEnv: '3DE21764-95BD-54BD-A5C3-4ABE786F38A8',
  /** uniota's own type for an A/B unikernel slot, so tools never mount it as a file system. */
  uniotaSlot: '8D4F1B36-6C2E-4B7A-9E53-2A7C1F0B9D41',
  linuxData: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
} as const;

/** Sizes for planDiskLayout, in bytes. */
export interface DiskLayoutOptions {
  /** Bytes of ONE env copy (U-Boot CONFIG_ENV_SIZE); default 0x4000. */
  envSize: number;
  slotSize: number;
  dataSize: number;
}

/** One GPT partition; offsets and lengths in bytes. */
export interface PartitionInfo {
  name: string;
  /** 1-based GPT partition number. */
  index: number;
  offset: number;
  length: number;
  typeGuid: string;
  uniqueGuid: string;
}

/** Where everything lives on a uniota disk. */
export interface DiskLayout {
  diskSize: number;
  env: PartitionInfo;
  slotA: PartitionInfo;
  slotB: PartitionInfo;
  data: PartitionInfo;
  envSize: number;
  /** Absolute byte offsets of the two env copies: env.offset and env.offset+envSize. */
  envOffsets: [number, number];
}

const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to;

/**
 * Plans the uniota disk: 1 uniota-env (two env copies), 2 slot-a, 3 slot-b,
 * 4 data. Partitions start on 1 MiB boundaries (flash erase blocks and
 * sfdisk's default alignment); lengths are rounded up to whole sectors; the
 * disk ends with room for the backup GPT. Pure: same options, same layout.
 */
export function planDiskLayout(opts: Partial<DiskLayoutOptions> & Omit<DiskLayoutOptions, 'envSize'>): DiskLayout {
  const envSize = opts.envSize ?? 0x4000;
  for (const [name, v] of [['envSize', envSize], ['slotSize', opts.slotSize], ['dataSize', opts.dataSize]] as const) {
    if (!Number.isSafeInteger(v) || v <= 0) {
      throw new BlockDeviceError('LAYOUT_INVALID', `${name} must be a positive integer, got ${v}`);
    }
  }
  if (envSize % SECTOR_SIZE !== 0) {
    // The second copy must start on a sector so each copy is written on its own.
    throw new BlockDeviceError('LAYOUT_INVALID', `envSize must be a multiple of ${SECTOR_SIZE}, got ${envSize}`);
  }
  const specs = [
    { name: 'uniota-env', length: 2 * envSize, typeGuid: PartitionType.ubootEnv },
    { name: 'slot-a', length: roundUp(opts.slotSize, SECTOR_SIZE), typeGuid: PartitionType.uniotaSlot },
    { name: 'slot-b', length: roundUp(opts.slotSize, SECTOR_SIZE), typeGuid: PartitionType.uniotaSlot },
    { name: 'data', length: roundUp(opts.dataSize, SECTOR_SIZE), typeGuid: PartitionType.linuxData },
  ];
  const seed = `${envSize}/${opts.slotSize}/${opts.dataSize}`;
  let next = MIB;
  const parts = specs.map((s, i): PartitionInfo => {
    const p = { ...s, index: i + 1, offset: next, uniqueGuid: deterministicGuid(`uniota:${seed}:${s.name}`) };
    next = roundUp(next + s.length, MIB);
    return p;
  });
  const [env, slotA, slotB, data] = parts as [PartitionInfo, PartitionInfo, PartitionInfo, PartitionInfo];
  const diskSize = roundUp(data.offset + data.length + GPT_SECTORS * SECTOR_SIZE, MIB);
  return { diskSize, env, slotA, slotB, data, envSize, envOffsets: [env.offset, env.offset + envSize] };
}
