/**
 * The slot inventory a hello carries (each slot's verified version, and
 * whether it verifies), re-verified only when the slot was written since.
 *
 * Verifying a slot hashes every payload byte and checks the manifest
 * signature. The agent announces itself after every connect and every
 * inventory change, so verifying both slots each time was most of a
 * simulated device's CPU (profiled: a third of the fleet process at 1,000
 * devices) and, on a real device with 100 MiB slots, seconds of flash reads
 * per hello. A slot nothing wrote since its last verification still holds
 * the bytes that verified, so the answer stands.
 */
import { readInto, type BlockDevice } from '@uniota/block-device';
import type { SlotName } from '@uniota/boot-control';

/** One slot as a hello reports it. */
export interface SlotReport {
  version: string | null;
  bootable: boolean;
}

/**
 * A pass-through block device that counts writes per named region, so a
 * cached answer about a region knows when it went stale. A write counts at
 * its start and again at its end: a verification that overlapped a write in
 * any way sees a different count and is not cached.
 */
export class WriteTracker implements BlockDevice {
  readonly #writes = new Map<string, number>();

  constructor(
    readonly inner: BlockDevice,
    private readonly regions: Readonly<Record<string, { offset: number; length: number }>>,
  ) {}

  get size(): number {
    return this.inner.size;
  }

  /** Writes so far (start and end each count) that touched `region`. */
  generation(region: string): number {
    return this.#writes.get(region) ?? 0;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(offset, length);
  }

  readInto(offset: number, target: Uint8Array): Promise<void> {
    return readInto(this.inner, offset, target);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.#bump(offset, data.length);
    try {
      await this.inner.write(offset, data);
    } finally {
      this.#bump(offset, data.length);
    }
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  #bump(offset: number, length: number): void {
    for (const [name, r] of Object.entries(this.regions)) {
      if (offset < r.offset + r.length && offset + length > r.offset) this.#writes.set(name, (this.#writes.get(name) ?? 0) + 1);
    }
  }
}

/**
 * Caches each slot's report against its write generation. Whoever supplies
 * `generation` must see every write to the slot (wrap the storage in a
 * WriteTracker); a generation that did not move means the bytes did not.
 */
export class SlotInventory {
  readonly #cache = new Map<SlotName, { generation: number; report: SlotReport }>();
  /** Verifications run (cache misses), for tests and counters. */
  verifications = 0;

  constructor(private readonly generation: (slot: SlotName) => number) {}

  /**
   * Records a verification someone else just ran on the slot (the
   * bootloader verifies the slot it boots), valid while the slot's
   * generation stays `generation`: the one read before that verification
   * started. A write since then makes it worthless, so it is not kept.
   */
  learn(slot: SlotName, generation: number, report: SlotReport): void {
    if (this.generation(slot) === generation) this.#cache.set(slot, { generation, report });
  }

  /** The slot's report: cached while nothing wrote the slot, else `verify()` again. */
  async report(slot: SlotName, verify: () => Promise<SlotReport>): Promise<SlotReport> {
    const before = this.generation(slot);
    const hit = this.#cache.get(slot);
    if (hit !== undefined && hit.generation === before) return hit.report;
    this.verifications += 1;
    const report = await verify();
    // A write during the verification may have changed what was read.
    if (this.generation(slot) === before) this.#cache.set(slot, { generation: before, report });
    else this.#cache.delete(slot);
    return report;
  }
}

/** Wraps both slot devices so that an inventory tracks every write made through them. */
export function trackSlots(slots: Record<SlotName, BlockDevice>): { slots: Record<SlotName, BlockDevice>; inventory: SlotInventory } {
  const a = new WriteTracker(slots.A, { A: { offset: 0, length: slots.A.size } });
  const b = new WriteTracker(slots.B, { B: { offset: 0, length: slots.B.size } });
  return { slots: { A: a, B: b }, inventory: new SlotInventory((s) => (s === 'A' ? a.generation('A') : b.generation('B'))) };
}
