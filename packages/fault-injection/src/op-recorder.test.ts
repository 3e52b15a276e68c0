import { describe, expect, it } from 'vitest';
import { FaultyBlockDevice, MemoryBlockDevice, planDiskLayout } from '@uniota/block-device';
import { describeCut } from './flow-runner.ts';
import { OpRecorder, targetOf } from './op-recorder.ts';

const layout = planDiskLayout({ envSize: 0x4000, slotSize: 1024 * 1024, dataSize: 1024 * 1024 });

describe('operation targets', () => {
  it.each([
    [layout.envOffsets[0], 'env'],
    [layout.envOffsets[1] + 0x3fff, 'env'],
    [layout.slotA.offset, 'slot'],
    [layout.slotB.offset + layout.slotB.length - 1, 'slot'],
    [layout.data.offset + 100, 'journal'],
    [0, 'gpt'],
  ] as const)('a write at %i touches %s', (offset, target) => {
    expect(targetOf(layout, offset)).toBe(target);
  });

  it('records writes and flushes in the order the fault injector numbers them', async () => {
    const rec = new OpRecorder(new MemoryBlockDevice(layout.diskSize), layout);
    const dev = new FaultyBlockDevice(rec, {});
    await dev.write(layout.slotB.offset, new Uint8Array(10));
    await dev.flush();
    await dev.write(layout.envOffsets[1], new Uint8Array(10));
    expect(rec.ops).toEqual(['slot', 'flush', 'env']);
    expect(dev.operations).toBe(rec.ops.length);
  });

  it('describes where a cut struck from the power-cut error', async () => {
    const dev = new FaultyBlockDevice(new MemoryBlockDevice(layout.diskSize), { cutAt: 2, mode: 'torn' });
    await dev.flush();
    const err = await dev.write(layout.envOffsets[1], new Uint8Array(0x4000)).catch((e: unknown) => e);
    expect(describeCut(err, layout)).toBe('op 2: torn write of 16384 bytes to env copy 1');
    const flushCut = await new FaultyBlockDevice(new MemoryBlockDevice(512), { cutAt: 1, mode: 'after' }).flush().catch((e: unknown) => e);
    expect(describeCut(flushCut, layout)).toBe('op 1: just after a flush');
    expect(describeCut(new Error('power cut during boot 2 (slot B)'), layout)).toBe('power cut during boot 2 (slot B)');
  });
});
