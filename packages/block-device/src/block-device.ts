/**
 * A block device: the only way device-side code touches storage.
 *
 * Every byte the agent, journal and boot-control write goes through this
 * interface so that a fault-injecting wrapper can count each write and flush
 * and cut power at any one of them (see faulty-device.ts).
 */
export interface BlockDevice {
  /** Size in bytes. Offsets are plain numbers: safe integers reach 8 PiB. */
  readonly size: number;
  /** Reads exactly `length` bytes at `offset`; throws if out of range. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Writes all of `data` at `offset`; throws if out of range. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Makes every earlier write durable. */
  flush(): Promise<void>;
}
