import type { BlockDevice } from './block-device.ts';
import { BlockDeviceError } from './errors.ts';
import { hasCode } from '@uniota/errors';

const SECTOR = 512;

/**
 * Where the cut operation stands when power goes:
 * 'before' nothing of it lands, 'torn' only a prefix of a write lands (a torn
 * flush is the same as 'before'), 'after' it lands completely.
 */
export type CutMode = 'before' | 'torn' | 'after';

/** A fault scenario as data, so sweeps can be written as tables of rows. */
export interface FaultPlan {
  /** 1-based index of the write-or-flush operation at which power is cut. */
  cutAt?: number;
  /** Default 'before'. */
  mode?: CutMode;
  /**
   * How much of a torn write lands: a byte count, everything up to the last
   * sector the write touches ('all-but-last-sector', the default; writes of
   * at most 512 bytes land half), or a random prefix drawn from `random`.
   */
  tornBytes?: number | 'all-but-last-sector' | 'random';
  /** Bits flipped in the data every read returns (absolute device offsets); the storage is untouched. */
  bitFlipsOnRead?: { offset: number; bit: number }[];
  /** Source of randomness for tornBytes 'random'; returns [0, 1). */
  random?: () => number;
}

/** Thrown by the cut operation and by every operation after it. */
export class PowerCutError extends BlockDeviceError {
  constructor(message = 'power cut') {
    super('POWER_CUT', message);
  }
}

/** True when `err` is a simulated power cut (from any copy of this package). */
export function isPowerCut(err: unknown): boolean {
  return err instanceof PowerCutError || hasCode(err, 'POWER_CUT');
}

/**
 * Wraps a device and cuts power at one chosen write or flush.
 *
 * Counts every write and flush, like MCUboot's flash simulator counts every
 * write and erase, so a sweep can run a clean update once, read `operations`,
 * then cut at each i in 1..N. Unlike that simulator it can also tear a write,
 * which is how real env and trailer writes have bricked devices. After the cut
 * the device is dead: power comes back by building a new FaultyBlockDevice
 * over the same inner storage.
 */
export class FaultyBlockDevice implements BlockDevice {
  readonly size: number;
  private ops = 0;
  private dead = false;
  private readonly plan: FaultPlan;

  constructor(
    private readonly inner: BlockDevice,
    plan: FaultPlan = {},
  ) {
    if (plan.cutAt !== undefined && (!Number.isSafeInteger(plan.cutAt) || plan.cutAt < 1)) {
      throw new BlockDeviceError('INVALID_ARGUMENT', `cutAt must be a positive integer, got ${plan.cutAt}`);
    }
    if (plan.tornBytes === 'random' && !plan.random) {
      // Randomness is injected so every sweep row is reproducible.
      throw new BlockDeviceError('INVALID_ARGUMENT', "tornBytes 'random' needs a random() source in the plan");
    }
    this.size = inner.size;
    this.plan = plan;
  }

  /** Writes and flushes attempted so far, the cut one included. */
  get operations(): number {
    return this.ops;
  }

  /** True once the planned cut has happened. */
  get powerIsCut(): boolean {
    return this.dead;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    this.assertPowered();
    const data = await this.inner.read(offset, length);
    for (const flip of this.plan.bitFlipsOnRead ?? []) {
      const i = flip.offset - offset;
      if (i >= 0 && i < data.length) data[i] = data[i]! ^ (1 << (flip.bit & 7));
    }
    return data;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.assertPowered();
    if (++this.ops !== this.plan.cutAt) return this.inner.write(offset, data);
    const mode = this.plan.mode ?? 'before';
    if (mode === 'after') await this.inner.write(offset, data);
    if (mode === 'torn') {
      const n = this.tornLength(offset, data.length);
      if (n > 0) await this.inner.write(offset, data.subarray(0, n));
    }
    this.cut(`write #${this.ops} of ${data.length} bytes at ${offset} (${mode})`);
  }

  async flush(): Promise<void> {
    this.assertPowered();
    if (++this.ops !== this.plan.cutAt) return this.inner.flush();
    const mode = this.plan.mode ?? 'before';
    if (mode === 'after') await this.inner.flush();
    this.cut(`flush #${this.ops} (${mode})`);
  }

  private tornLength(offset: number, length: number): number {
    const torn = this.plan.tornBytes ?? 'all-but-last-sector';
    if (typeof torn === 'number') return Math.max(0, Math.min(length, Math.floor(torn)));
    if (torn === 'random') return Math.floor(this.plan.random!() * length);
    if (length <= SECTOR) return Math.floor(length / 2);
    // Storage commits whole sectors: everything up to the start of the last sector lands.
    const lastSectorStart = Math.floor((offset + length - 1) / SECTOR) * SECTOR;
    return Math.max(0, lastSectorStart - offset);
  }

  private cut(what: string): never {
    this.dead = true;
    throw new PowerCutError(`power cut at ${what}`);
  }

  private assertPowered(): void {
    if (this.dead) throw new PowerCutError('power is cut; build a new FaultyBlockDevice to power on');
  }
}
