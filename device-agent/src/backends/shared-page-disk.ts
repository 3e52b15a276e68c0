/**
 * In-memory disk for fleets of simulated devices: sparse, copy-on-write, and
 * deduplicating across devices.
 *
 * Thousands of simulated devices install the same image at the same offsets,
 * so after an update their slot pages hold identical bytes. A plain
 * copy-on-write disk keeps one private copy per device (measured: ~1.3 GiB
 * for a 1,000-device fleet after one update). Here, on flush, every page
 * written since the last flush is compared with the fleet's canonical page
 * at the same index (a memcmp, no hashing); if equal, the device drops its
 * copy and shares the canonical one. Only what really differs per device
 * (journal, boot counters) stays private.
 *
 * Shared pages are never written in place: a write to one copies it first
 * (unless it covers the whole page, which is then a fresh page, or the
 * fleet's canonical page itself when the bytes are equal).
 * Write and flush semantics are MemoryBlockDevice's (a write lands when it
 * resolves); deduplication never changes a byte that a read returns.
 */
import { BlockDeviceError } from '@uniota/block-device';
import type { BlockDevice } from '@uniota/block-device';

/** Small pages: journal and env writes touch a few KiB, and only those get copied. */
export const SHARED_PAGE_SIZE = 4096;

/** The canonical page per page index, shared by every disk of one fleet. */
export class PagePool {
  readonly #canonical = new Map<number, Uint8Array>();

  /** The canonical copy of `page` at `index`: an equal one already pooled, or `page` itself, which becomes canonical. */
  intern(index: number, page: Uint8Array): Uint8Array {
    const known = this.#canonical.get(index);
    if (known !== undefined && Buffer.compare(known, page) === 0) return known;
    this.#canonical.set(index, page);
    return page;
  }

  /** The canonical page at `index`, if any. Never to be written: it may be shared. */
  canonical(index: number): Uint8Array | undefined {
    return this.#canonical.get(index);
  }

  /** Page indices with a canonical page (for memory figures). */
  get pages(): number {
    return this.#canonical.size;
  }
}

/** A sparse, copy-on-write, fleet-deduplicated in-memory disk. */
export class SharedPageDisk implements BlockDevice {
  readonly #pages = new Map<number, Uint8Array>();
  /** Pages only this disk references: written in place. Every other page may be shared. */
  readonly #owned = new Set<number>();

  constructor(
    readonly size: number,
    readonly pool: PagePool = new PagePool(),
  ) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad device size ${size}`);
  }

  /** A copy sharing every page (and the pool); later writes to either never show in the other. */
  clone(): SharedPageDisk {
    this.#owned.clear();
    const copy = new SharedPageDisk(this.size, this.pool);
    for (const [i, page] of this.#pages) copy.#pages.set(i, page);
    return copy;
  }

  /** Bytes held by the distinct pages of `disks` (a page shared by many counts once): the fleet's real disk memory. */
  static distinctBytes(disks: Iterable<SharedPageDisk>): number {
    const seen = new Set<Uint8Array>();
    let n = 0;
    for (const d of disks) {
      for (const page of d.#pages.values()) {
        if (seen.has(page)) continue;
        seen.add(page);
        n += page.length;
      }
    }
    return n;
  }

  /** Bytes in pages only this disk holds (written since its last flush). */
  get privateBytes(): number {
    let n = 0;
    for (const i of this.#owned) n += this.#pages.get(i)?.length ?? 0;
    return n;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    this.#check('read', offset, length);
    // Not zero-filled first: readInto copies or zeroes every byte, so the
    // fill would be a wasted pass.
    const out = new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
    await this.readInto(offset, out);
    return out;
  }

  async readInto(offset: number, out: Uint8Array): Promise<void> {
    const length = out.length;
    this.#check('read', offset, length);
    let pos = offset;
    while (pos < offset + length) {
      const index = Math.floor(pos / SHARED_PAGE_SIZE);
      const inPage = pos - index * SHARED_PAGE_SIZE;
      const n = Math.min(SHARED_PAGE_SIZE - inPage, offset + length - pos);
      const page = this.#pages.get(index);
      if (page !== undefined) out.set(page.subarray(inPage, inPage + n), pos - offset);
      else out.fill(0, pos - offset, pos - offset + n);
      pos += n;
    }
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.#check('write', offset, data.length);
    let pos = offset;
    const end = offset + data.length;
    while (pos < end) {
      const index = Math.floor(pos / SHARED_PAGE_SIZE);
      const inPage = pos - index * SHARED_PAGE_SIZE;
      const n = Math.min(SHARED_PAGE_SIZE - inPage, end - pos);
      const bytes = data.subarray(pos - offset, pos - offset + n);
      const whole = inPage === 0 && n === this.#pageLength(index);
      const canonical = whole ? this.pool.canonical(index) : undefined;
      if (canonical !== undefined && Buffer.compare(canonical, bytes) === 0) {
        // A whole page equal to the fleet's: share it now (what the next
        // flush would do) instead of copying it into a private page first.
        this.#pages.set(index, canonical);
        this.#owned.delete(index);
      } else {
        this.#writable(index, whole).set(bytes, inPage);
      }
      pos += n;
    }
  }

  /** Shares every page written since the last flush that equals the fleet's canonical page. */
  async flush(): Promise<void> {
    for (const i of this.#owned) {
      const page = this.#pages.get(i);
      if (page !== undefined) this.#pages.set(i, this.pool.intern(i, page));
    }
    // Pooled pages may be referenced by other disks now: copy before the next write.
    this.#owned.clear();
  }

  #pageLength(index: number): number {
    return Math.min(SHARED_PAGE_SIZE, this.size - index * SHARED_PAGE_SIZE);
  }

  /** A private page at `index`, holding the page's bytes unless the caller overwrites all of them. */
  #writable(index: number, overwritten: boolean): Uint8Array {
    const page = this.#pages.get(index);
    if (page !== undefined && this.#owned.has(index)) return page;
    const fresh = new Uint8Array(this.#pageLength(index));
    if (page !== undefined && !overwritten) fresh.set(page);
    this.#pages.set(index, fresh);
    this.#owned.add(index);
    return fresh;
  }

  #check(what: string, offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new BlockDeviceError('OUT_OF_RANGE', `${what} [${offset}, ${offset + length}) is outside the device of ${this.size} bytes`);
    }
  }
}
