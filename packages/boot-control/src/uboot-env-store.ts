import type { BlockDevice } from '@uniota/block-device';
import { BootControlError } from './errors.ts';
import { decodeEnvCopy, encodeEnvCopy, ENV_HEADER_SIZE, newerCopy } from './uboot-env-format.ts';

/** Where the two copies of a redundant env live on the device. */
export interface EnvLocation {
  /** Byte offsets of copy 0 and copy 1 (the two lines of fw_env.config). */
  offsets: [number, number];
  /** Bytes of one copy (CONFIG_ENV_SIZE). */
  envSize: number;
}

/** The current env as read from disk. */
export interface EnvSnapshot {
  vars: Map<string, string>;
  flags: number;
  /** Which copy it came from. */
  copy: 0 | 1;
}

/**
 * The redundant U-Boot environment on a block device, read and written the
 * way libubootenv does, so fw_printenv/fw_setenv and this store can take
 * turns on the same disk.
 *
 * A write never touches the current copy: it writes the other one with
 * flags+1 and flushes. A power cut at any point leaves the old copy valid
 * (the new one is either absent, torn with a bad CRC, or complete and newer).
 */
export class UBootEnvStore {
  constructor(
    private readonly dev: BlockDevice,
    private readonly loc: EnvLocation,
  ) {
    const [a, b] = loc.offsets;
    if (!Number.isSafeInteger(loc.envSize) || loc.envSize <= ENV_HEADER_SIZE + 1) {
      throw new BootControlError('ENV_BAD_LOCATION', `env size ${loc.envSize} is too small`);
    }
    if (Math.abs(a - b) < loc.envSize) {
      throw new BootControlError('ENV_BAD_LOCATION', `env copies at ${a} and ${b} overlap (size ${loc.envSize})`);
    }
  }

  /** The current env: the only valid copy, or of two valid ones the newer by flags; null if neither is valid. */
  async read(): Promise<EnvSnapshot | null> {
    return (await this.readBoth()).current;
  }

  /**
   * Replaces the whole env with `vars` in ONE write of the non-current copy
   * (flags+1 mod 256), then flushes. With no valid copy it does what
   * libubootenv does: takes copy 0 as current with whatever flag byte it
   * holds and writes copy 1 with that byte+1.
   */
  async write(vars: Map<string, string>): Promise<void> {
    const { current, rawFlags0 } = await this.readBoth();
    const from = current ?? { copy: 0 as const, flags: rawFlags0 };
    const target = from.copy === 0 ? 1 : 0;
    const bytes = encodeEnvCopy(vars, this.loc.envSize, (from.flags + 1) & 0xff);
    await this.dev.write(this.loc.offsets[target], bytes);
    await this.dev.flush();
  }

  private async readBoth(): Promise<{ current: EnvSnapshot | null; rawFlags0: number }> {
    const raw0 = await this.dev.read(this.loc.offsets[0], this.loc.envSize);
    const raw1 = await this.dev.read(this.loc.offsets[1], this.loc.envSize);
    const c0 = decodeEnvCopy(raw0);
    const c1 = decodeEnvCopy(raw1);
    let current: EnvSnapshot | null = null;
    if (c0 && c1) {
      const copy = newerCopy(c0.flags, c1.flags);
      current = { ...(copy === 0 ? c0 : c1), copy };
    } else if (c0) current = { ...c0, copy: 0 };
    else if (c1) current = { ...c1, copy: 1 };
    return { current, rawFlags0: raw0[4]! };
  }
}
