import type { BlockDevice } from './block-device.ts';
import { checkRange } from './range.ts';

const PAGE = 64 * 1024;

/**
 * In-memory block device, sparse and copy-on-write.
 *
 * Pages of 64 KiB are allocated on first write (unwritten bytes read as zero),
 * so ten thousand simulated devices with mostly empty slots fit in memory.
 * clone() shares every page and copies one only when either side next writes
 * it, so the power-cut sweep can fork a device thousands of times cheaply.
 */
export class MemoryBlockDevice implements BlockDevice {
  readonly size: number;
  private readonly pages: Map<number, Uint8Array>;
  /** Pages this instance may mutate in place; every other page may be shared with a clone. */
  private readonly owned: Set<number>;

  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad device size ${size}`);
    this.size = size;
    this.pages = new Map();
    this.owned = new Set();
  }

  /** A cheap copy-on-write copy: later writes to either device never show in the other. */
  clone(): MemoryBlockDevice {
    // Both sides lose ownership: whoever writes a page first copies it.
    this.owned.clear();
    const copy = new MemoryBlockDevice(this.size);
    for (const [index, page] of this.pages) copy.pages.set(index, page);
    return copy;
  }

  /** Bytes of page storage actually allocated (for memory benchmarks). */
  get allocatedBytes(): number {
    return this.pages.size * PAGE;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange('read', this.size, offset, length);
    const out = new Uint8Array(length);
    await this.readInto(offset, out);
    return out;
  }

  async readInto(offset: number, target: Uint8Array): Promise<void> {
    const length = target.length;
    checkRange('read', this.size, offset, length);
    let pos = offset;
    while (pos < offset + length) {
      const index = Math.floor(pos / PAGE);
      const inPage = pos - index * PAGE;
      const n = Math.min(PAGE - inPage, offset + length - pos);
      const page = this.pages.get(index);
      if (page) target.set(page.subarray(inPage, inPage + n), pos - offset);
      else target.fill(0, pos - offset, pos - offset + n);
      pos += n;
    }
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    checkRange('write', this.size, offset, data.length);
    let pos = offset;
    const end = offset + data.length;
    while (pos < end) {
      const index = Math.floor(pos / PAGE);
      const inPage = pos - index * PAGE;
      const n = Math.min(PAGE - inPage, end - pos);
      this.writablePage(index).set(data.subarray(pos - offset, pos - offset + n), inPage);
      pos += n;
    }
  }

  async flush(): Promise<void> {
    // Memory is as durable as it gets; writes land when write() resolves.
  }

  private writablePage(index: number): Uint8Array {
    let page = this.pages.get(index);
    if (page && this.owned.has(index)) return page;
    // Last page may be short so a device never holds bytes past its size.
    const len = Math.min(PAGE, this.size - index * PAGE);
    const fresh = new Uint8Array(len);
    if (page) fresh.set(page);
    page = fresh;
    this.pages.set(index, page);
    this.owned.add(index);
    return page;
  }
}
