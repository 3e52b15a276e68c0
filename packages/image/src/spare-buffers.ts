/**
 * Spare buffers, kept a while for the next use instead of allocated anew.
 *
 * Fresh memory costs a page fault per 4 KiB on first touch and, once
 * dropped, work for the garbage collector. The agent's slot writer keeps its
 * ring of shared batch memory between installs, and slot verification keeps
 * the buffers it reads a slot into between verifications: measured on a
 * 256 KiB read from the fleet's in-memory disk, 45-54 µs into fresh memory
 * against ~13 µs into a reused buffer (see each user for its own figures).
 *
 * Held memory stays bounded: at most `capBytes` are kept (when a give-back
 * goes past it, the smallest kept buffers not just given back make room
 * first: the newest use's sizes are the likeliest next ones), and all of it
 * is let go after `idleMs` without a give-back, so an idle process holds
 * nothing. A buffer is given back only when nothing reads or will read it;
 * one that is not given back is simply collected.
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

export interface SpareBuffersOptions<B> {
  /** Makes a new buffer of `size` bytes (its contents are the caller's to overwrite). */
  allocate(size: number): B;
  capBytes: number;
  idleMs: number;
  /** 'exact': a kept buffer serves only its own size; 'at-least': the smallest kept one that is large enough. */
  fit: 'exact' | 'at-least';
  /** Largest size `take` accepts (a RangeError above). */
  maxSize?: number;
  timers?: IdleTimers;
}

export class SpareBuffers<B extends { readonly byteLength: number }> {
  #spare: B[] = [];
  #held = 0;
  #timer: unknown = undefined;
  readonly #timers: IdleTimers;

  constructor(private readonly o: SpareBuffersOptions<B>) {
    this.#timers = o.timers ?? nodeTimers;
  }

  /** Bytes kept. */
  get heldBytes(): number {
    return this.#held;
  }

  /** Buffers kept. */
  get held(): number {
    return this.#spare.length;
  }

  /** A kept buffer that fits `size`, or a new one of exactly `size` bytes. */
  take(size: number): B {
    if (this.o.maxSize !== undefined && !(size <= this.o.maxSize)) throw new RangeError(`buffer of ${size} bytes (at most ${this.o.maxSize})`);
    let best = -1;
    for (let i = 0; i < this.#spare.length; i++) {
      const n = (this.#spare[i] as B).byteLength;
      if (this.o.fit === 'exact' ? n === size : n >= size && (best < 0 || n < (this.#spare[best] as B).byteLength)) {
        best = i;
        if (this.o.fit === 'exact') break;
      }
    }
    if (best < 0) return this.o.allocate(size);
    const [buffer] = this.#spare.splice(best, 1) as [B];
    this.#held -= buffer.byteLength;
    return buffer;
  }

  /** Keeps `buffers` (as far as the cap allows); the caller must be done with them. */
  giveBack(buffers: readonly B[]): void {
    const fresh = new Set<B>();
    for (const b of buffers) {
      if (b.byteLength > this.o.capBytes || fresh.has(b) || this.#spare.includes(b)) continue;
      // Make room from the smallest kept buffers this give-back did not bring; else keep `b` out.
      while (this.#held + b.byteLength > this.o.capBytes) {
        let smallest = -1;
        for (let i = 0; i < this.#spare.length; i++) {
          const s = this.#spare[i] as B;
          if (!fresh.has(s) && (smallest < 0 || s.byteLength < (this.#spare[smallest] as B).byteLength)) smallest = i;
        }
        if (smallest < 0) break;
        const [dropped] = this.#spare.splice(smallest, 1) as [B];
        this.#held -= dropped.byteLength;
      }
      if (this.#held + b.byteLength > this.o.capBytes) continue;
      this.#spare.push(b);
      this.#held += b.byteLength;
      fresh.add(b);
    }
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = this.#held === 0 ? undefined : this.#timers.setTimeout(() => this.release(), this.o.idleMs);
  }

  /** Lets every kept buffer go. */
  release(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#spare = [];
    this.#held = 0;
  }
}
