/**
 * What each block operation of a clean run touches, so a sweep can be
 * bounded to the operations that matter (e.g. only the env writes) and its
 * rows say what they cut.
 */
import type { BlockDevice, DiskLayout } from '@uniota/block-device';

/** The kind of one write-or-flush operation, by the region it touches. */
export type OpTarget = 'env' | 'slot' | 'journal' | 'gpt' | 'flush';

/** Every target a sweep can be bounded to. */
export const OP_TARGETS: readonly OpTarget[] = ['env', 'slot', 'journal', 'gpt', 'flush'];

/** The target of a write at `offset`. */
export function targetOf(layout: DiskLayout, offset: number): OpTarget {
  const inside = (start: number, length: number): boolean => offset >= start && offset < start + length;
  if (inside(layout.envOffsets[0], layout.envSize) || inside(layout.envOffsets[1], layout.envSize)) return 'env';
  if (inside(layout.slotA.offset, layout.slotA.length) || inside(layout.slotB.offset, layout.slotB.length)) return 'slot';
  if (inside(layout.data.offset, layout.data.length)) return 'journal';
  return 'gpt';
}

/** A pass-through device that records the target of every write and flush, in order (the numbering FaultyBlockDevice cuts by). */
export class OpRecorder implements BlockDevice {
  readonly size: number;
  /** Target of operation i+1. */
  readonly ops: OpTarget[] = [];

  constructor(
    private readonly inner: BlockDevice,
    private readonly layout: DiskLayout,
  ) {
    this.size = inner.size;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(offset, length);
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    this.ops.push(targetOf(this.layout, offset));
    return this.inner.write(offset, data);
  }

  flush(): Promise<void> {
    this.ops.push('flush');
    return this.inner.flush();
  }
}
