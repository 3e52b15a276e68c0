/**
 * Shared memory for the slot writer's batches, kept a while between installs.
 *
 * Why: fresh memory costs a page fault per 4 KiB on first touch. Filling an
 * install's 8 MiB ring of new SharedArrayBuffers cost the thread that copies
 * chunks a few ms per install, on the install's critical path. Measured with
 * the bench's install (64 MiB, alternating in one run of 21 rounds, median
 * against the 1 MiB raw copy): fresh ring 0.81, reused ring 0.85.
 *
 * Held memory stays bounded: at most `capBytes` are kept, and all of it is let
 * go after `idleMs` without an install, so an idle device holds nothing.
 */

/** Timer functions, injected so tests control the idle release. */
export interface IdleTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const nodeTimers: IdleTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // Spare buffers never keep the process alive.
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class SpareBatchBuffers {
  #spare: SharedArrayBuffer[] = [];
  #held = 0;
  #timer: unknown = undefined;

  constructor(
    private readonly capBytes: number,
    private readonly idleMs: number,
    private readonly timers: IdleTimers = nodeTimers,
  ) {}

  /** Bytes kept for the next install. */
  get heldBytes(): number {
    return this.#held;
  }

  /** A kept buffer of exactly `size` bytes, or a new one. */
  take(size: number): SharedArrayBuffer {
    const i = this.#spare.findIndex((b) => b.byteLength === size);
    if (i < 0) return new SharedArrayBuffer(size);
    const [buffer] = this.#spare.splice(i, 1) as [SharedArrayBuffer];
    this.#held -= size;
    return buffer;
  }

  /**
   * Keeps `buffers` (as far as the cap allows) for the next install. The
   * caller must be done with them: no write or hash may still read them.
   */
  giveBack(buffers: readonly SharedArrayBuffer[]): void {
    // The newest install's batch size is the likeliest next one: kept buffers
    // of other sizes make room first.
    const sizes = new Set(buffers.map((b) => b.byteLength));
    this.#spare = this.#spare.filter((b) => sizes.has(b.byteLength));
    this.#held = this.#spare.reduce((n, b) => n + b.byteLength, 0);
    for (const b of buffers) {
      if (this.#held + b.byteLength > this.capBytes) break;
      this.#spare.push(b);
      this.#held += b.byteLength;
    }
    if (this.#timer !== undefined) this.timers.clearTimeout(this.#timer);
    this.#timer = this.#held === 0 ? undefined : this.timers.setTimeout(() => this.release(), this.idleMs);
  }

  /** Lets every kept buffer go. */
  release(): void {
    if (this.#timer !== undefined) this.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#spare = [];
    this.#held = 0;
  }
}
