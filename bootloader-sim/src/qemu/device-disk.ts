/**
 * The disk image a QEMU device boots from: GPT with uniota-env (the redundant
 * boot-state env), slot-a, slot-b, data, laid out by the shared block-device
 * code and written through the same UBootEnvStore the device agent uses.
 */
import { FileBlockDevice, planDiskLayout, writeGpt, type DiskLayout } from '@uniota/block-device';
import { UBootEnvStore, type SlotName } from '@uniota/boot-control';
import { QemuError } from './errors.ts';

/** Sizes of a device disk; defaults keep images small (a few MiB, sparse). */
export interface DeviceDiskOptions {
  /** Bytes per slot; default 1 MiB. */
  slotSize?: number;
  /** Bytes of the data partition; default 1 MiB. */
  dataSize?: number;
  /** Bytes of one env copy; default 0x4000 (the boot script assumes 0x4000). */
  envSize?: number;
}

/** A uniota disk image file with its layout and env store. */
export class DeviceDisk {
  /** The boot-state env, read and written exactly as the agent does. */
  readonly env: UBootEnvStore;

  private constructor(
    readonly path: string,
    readonly layout: DiskLayout,
    private readonly dev: FileBlockDevice,
  ) {
    this.env = new UBootEnvStore(dev, { offsets: layout.envOffsets, envSize: layout.envSize });
  }

  /** Creates (or overwrites) a sparse disk image at `path` with a GPT and an initial boot-state env. */
  static async create(path: string, opts: DeviceDiskOptions & { env?: Map<string, string> } = {}): Promise<DeviceDisk> {
    const layout = planDiskLayout({
      slotSize: opts.slotSize ?? 1024 * 1024,
      dataSize: opts.dataSize ?? 1024 * 1024,
      envSize: opts.envSize ?? 0x4000,
    });
    const dev = await FileBlockDevice.open(path, { create: true, size: layout.diskSize });
    await writeGpt(dev, layout);
    const disk = new DeviceDisk(path, layout, dev);
    if (opts.env) await disk.env.write(opts.env);
    await dev.flush();
    return disk;
  }

  /** The two lines of fw_env.config for this image, so fw_printenv/fw_setenv read the same env. */
  fwEnvConfig(): string {
    const [a, b] = this.layout.envOffsets;
    const size = `0x${this.layout.envSize.toString(16)}`;
    return `${this.path} 0x${a.toString(16)} ${size}\n${this.path} 0x${b.toString(16)} ${size}\n`;
  }

  /** Writes `image` raw at offset 0 of the slot, as the agent's installer does. */
  async writeSlot(slot: SlotName, image: Uint8Array): Promise<void> {
    const part = slot === 'A' ? this.layout.slotA : this.layout.slotB;
    if (image.length > part.length) {
      throw new QemuError('PAYLOAD_TOO_LARGE', `image of ${image.length} bytes does not fit slot ${slot} (${part.length})`);
    }
    await this.dev.write(part.offset, image);
    await this.dev.flush();
  }

  /** Reads `length` bytes from the start of a slot. */
  async readSlot(slot: SlotName, length: number): Promise<Uint8Array> {
    const part = slot === 'A' ? this.layout.slotA : this.layout.slotB;
    return this.dev.read(part.offset, Math.min(length, part.length));
  }

  /** Flips one byte in the data area of env copy `copy`, so its CRC no longer matches (a torn write). */
  async corruptEnvCopy(copy: 0 | 1): Promise<void> {
    const at = this.layout.envOffsets[copy] + 8;
    const [b] = await this.dev.read(at, 1);
    await this.dev.write(at, Uint8Array.of((b ?? 0) ^ 0xff));
    await this.dev.flush();
  }

  /** Closes the image file. */
  close(): Promise<void> {
    return this.dev.close();
  }
}
