import { BlockDeviceError } from './errors.ts';

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
  /**
   * Optional: fills all of `target` with the bytes at `offset`, the same
   * bytes `read` would return, into memory the caller reuses. Verifying a
   * slot reads every payload byte, several times per update; a fresh buffer
   * for each read is new memory the kernel must fault in and the garbage
   * collector must free. Callers use `readInto` below, which falls back to
   * `read` for devices without it (a wrapper that changes what reads return,
   * such as the fault injector's bit flips, simply leaves it out).
   */
  readInto?(offset: number, target: Uint8Array): Promise<void>;
  /** Writes all of `data` at `offset`; throws if out of range. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Makes every earlier write durable. */
  flush(): Promise<void>;
}

/** Fills `target` with `dev`'s bytes at `offset`: in place where the device can, else through `read`. */
export async function readInto(dev: Pick<BlockDevice, 'read' | 'readInto'>, offset: number, target: Uint8Array): Promise<void> {
  if (dev.readInto !== undefined) return dev.readInto(offset, target);
  const bytes = await dev.read(offset, target.length);
  // A short read would leave earlier bytes of a reused buffer in place, to be taken for the slot's.
  if (bytes.length !== target.length) {
    throw new BlockDeviceError('IO_ERROR', `read at ${offset} returned ${bytes.length} bytes, ${target.length} asked`);
  }
  target.set(bytes);
}
