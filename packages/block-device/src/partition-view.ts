import { readInto, type BlockDevice } from './block-device.ts';
import { checkRange } from './range.ts';

/**
 * The window [offset, offset+length) of another device, bounds-checked so a
 * slot writer can never spill into the neighbouring slot or the env.
 */
export class PartitionView implements BlockDevice {
  readonly size: number;

  constructor(
    private readonly parent: BlockDevice,
    private readonly offset: number,
    length: number,
  ) {
    checkRange('partition', parent.size, offset, length);
    this.size = length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange('read', this.size, offset, length);
    return this.parent.read(this.offset + offset, length);
  }

  async readInto(offset: number, target: Uint8Array): Promise<void> {
    checkRange('read', this.size, offset, target.length);
    return readInto(this.parent, this.offset + offset, target);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    checkRange('write', this.size, offset, data.length);
    return this.parent.write(this.offset + offset, data);
  }

  async flush(): Promise<void> {
    return this.parent.flush();
  }
}
