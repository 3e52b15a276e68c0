/**
 * Shared memory for the slot writer's batches, kept a while between installs.
 *
 * Why: fresh memory costs a page fault per 4 KiB on first touch. Filling an
 * install's 8 MiB ring of new SharedArrayBuffers cost the thread that copies
 * chunks a few ms per install, on the install's critical path. Measured with
 * the bench's install (64 MiB, alternating in one run of 21 rounds, median
 * against the 1 MiB raw copy): fresh ring 0.81, reused ring 0.85.
 *
 * At most `capBytes` are kept, all let go after `idleMs` without an install
 * (@uniota/image's SpareBuffers), so an idle device holds nothing.
 */
import { SpareBuffers, type IdleTimers } from '@uniota/image';

export type { IdleTimers } from '@uniota/image';

export class SpareBatchBuffers extends SpareBuffers<SharedArrayBuffer> {
  constructor(capBytes: number, idleMs: number, timers?: IdleTimers) {
    super({ allocate: (size) => new SharedArrayBuffer(size), capBytes, idleMs, fit: 'exact', ...(timers === undefined ? {} : { timers }) });
  }
}
