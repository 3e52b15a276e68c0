import { describe, expect, it } from 'vitest';
import { MemoryBlockDevice } from '@uniota/block-device';
import { SlotInventory, WriteTracker, trackSlots } from './slot-inventory.ts';
import type { SlotReport } from './slot-inventory.ts';

const regions = { A: { offset: 0, length: 4096 }, B: { offset: 4096, length: 4096 } };

describe('WriteTracker', () => {
  it('counts a write in every region it overlaps, and only there', async () => {
    const t = new WriteTracker(new MemoryBlockDevice(3 * 4096), regions);
    await t.write(100, new Uint8Array(10));
    expect([t.generation('A'), t.generation('B')]).toEqual([2, 0]);
    await t.write(4000, new Uint8Array(200)); // straddles A and B
    expect([t.generation('A'), t.generation('B')]).toEqual([4, 2]);
    await t.write(8192, new Uint8Array(10)); // past both
    expect([t.generation('A'), t.generation('B')]).toEqual([4, 2]);
    expect(await t.read(4000, 4)).toEqual(new Uint8Array(4));
  });
});

describe('SlotInventory', () => {
  const ok: SlotReport = { version: '1.0.0', bootable: true };

  it('verifies a slot again only after something wrote it', async () => {
    const t = new WriteTracker(new MemoryBlockDevice(2 * 4096), regions);
    const inv = new SlotInventory((s) => t.generation(s));
    let runs = 0;
    const verify = async () => (runs++, ok);
    expect(await inv.report('A', verify)).toEqual(ok);
    expect(await inv.report('A', verify)).toEqual(ok);
    await inv.report('B', verify);
    expect(runs).toBe(2);
    await t.write(4096, new Uint8Array([1])); // slot B only
    await inv.report('A', verify);
    await inv.report('B', verify);
    expect(runs).toBe(3);
    expect(inv.verifications).toBe(3);
  });

  it('does not keep an answer when the slot was written while it was being verified', async () => {
    const t = new WriteTracker(new MemoryBlockDevice(2 * 4096), regions);
    const inv = new SlotInventory((s) => t.generation(s));
    let runs = 0;
    const racing = async (): Promise<SlotReport> => {
      runs++;
      await t.write(0, new Uint8Array([9]));
      return ok;
    };
    await inv.report('A', racing);
    await inv.report('A', async () => (runs++, { version: null, bootable: false }));
    expect(runs).toBe(2);
  });

  it('takes an answer learned at the current generation, and drops one the slot was written after', async () => {
    const t = new WriteTracker(new MemoryBlockDevice(2 * 4096), regions);
    const inv = new SlotInventory((s) => t.generation(s));
    let runs = 0;
    const verify = async (): Promise<SlotReport> => (runs++, { version: 'verified-here', bootable: true });
    inv.learn('A', t.generation('A'), ok);
    expect(await inv.report('A', verify)).toEqual(ok);
    expect(runs).toBe(0);
    const before = t.generation('B');
    await t.write(4096, new Uint8Array([1]));
    inv.learn('B', before, ok);
    expect(await inv.report('B', verify)).toEqual({ version: 'verified-here', bootable: true });
    expect(runs).toBe(1);
  });

  it('trackSlots sees writes made through the slot devices it hands out', async () => {
    const { slots, inventory } = trackSlots({ A: new MemoryBlockDevice(4096), B: new MemoryBlockDevice(4096) });
    let runs = 0;
    const verify = async () => (runs++, ok);
    await inventory.report('A', verify);
    await slots.A.write(0, new Uint8Array([1]));
    await inventory.report('A', verify);
    await inventory.report('A', verify);
    expect(runs).toBe(2);
  });
});
