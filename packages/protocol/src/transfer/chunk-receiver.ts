import { imageTag, type ChunkFrame } from '../chunk-frame.ts';
import { ProtocolError, ProtocolErrorCode } from '../errors.ts';
import { MAX_WINDOW, type ChunkRequest, type TransferMode } from '../schemas.ts';
import type { TransferTimers } from './timers.ts';

/** Options of ChunkReceiver. */
export interface ChunkReceiverOptions {
  imageId: string;
  chunkCount: number;
  mode: TransferMode;
  /** Chunks requested but not yet stored, at most (flow control; <= MAX_WINDOW). */
  window: number;
  /** Resume point: every chunk below it is already verified and stored. */
  firstMissingChunk: number;
  /** Checks a chunk against the signed manifest (hash of chunk `index`). */
  verifyChunk(index: number, bytes: Uint8Array): boolean | Promise<boolean>;
  /** Receives verified chunks strictly in order (the agent writes them to the slot). */
  sink(index: number, bytes: Uint8Array): void | Promise<void>;
  /** Publishes a request/ack to the server (QoS 1 on the device's chunks/req topic). */
  sendRequest(request: ChunkRequest): void | Promise<void>;
  timers: TransferTimers;
  /** A requested chunk not received after this long is requested again. */
  requestTimeoutMs?: number;
  /** Re-requests of one chunk before giving up with a transient error. */
  maxRetries?: number;
  /** Slow-retrieval defense: abort when fewer bytes per second arrive (0 = off). */
  minBytesPerSecond?: number;
  /** Period over which throughput is measured. */
  throughputWindowMs?: number;
  /** Called after each chunk reaches the sink. */
  onProgress?(next: number, chunkCount: number): void;
}

/** Counters a receiver exposes (for status reports and tests). */
export interface ChunkReceiverStats {
  /** Chunks verified and handed to the sink. */
  stored: number;
  /** Frames dropped as duplicates, out of window, or for another image. */
  ignored: number;
  /** Frames that failed verification. */
  badChunks: number;
  /** Request messages sent. */
  requests: number;
  /** Chunk indices re-requested after a timeout or a bad chunk. */
  retries: number;
  /** Frame data bytes received (including ignored ones). */
  bytesIn: number;
}

/**
 * Device side of the chunk transfer: a sliding window of W outstanding chunks.
 *
 * The device asks for chunks and acknowledges with `next` (first chunk not
 * yet stored). The server sends only what was asked, so the number of
 * chunks queued for a device at the broker is bounded by its window: the
 * broker's own queue limit (mosquitto drops beyond max_queued_messages) is
 * never reached, and a PUBACK is never mistaken for delivery. Anything lost
 * is simply asked for again after `requestTimeoutMs`.
 */
export class ChunkReceiver {
  readonly #o: Required<Omit<ChunkReceiverOptions, 'onProgress'>> & Pick<ChunkReceiverOptions, 'onProgress'>;
  readonly #tag: string;
  /**
   * How far past `next` a frame is kept. Fan-out: two windows, because the
   * shared stream runs at the pace of the fastest devices of the wave, and a
   * chunk dropped for being a little early would have to be sent again for
   * this device alone. Memory stays bounded at 2W chunks.
   */
  readonly #acceptSpan: number;
  #next: number;
  readonly #buffered = new Map<number, Uint8Array>();
  readonly #verifying = new Set<number>();
  readonly #outstanding = new Map<number, { sentAt: number; tries: number }>();
  #flushing = false;
  #paused = false;
  #finished = false;
  #timer: unknown;
  #rateWindowStart = 0;
  #rateWindowBytes = 0;
  #resolve!: () => void;
  #reject!: (err: ProtocolError) => void;
  readonly #done: Promise<void>;
  readonly stats: ChunkReceiverStats = { stored: 0, ignored: 0, badChunks: 0, requests: 0, retries: 0, bytesIn: 0 };

  constructor(options: ChunkReceiverOptions) {
    if (!Number.isInteger(options.window) || options.window < 1 || options.window > MAX_WINDOW) {
      throw new RangeError(`window must be 1..${MAX_WINDOW}`);
    }
    if (options.firstMissingChunk < 0 || options.firstMissingChunk > options.chunkCount) {
      throw new RangeError('firstMissingChunk outside the image');
    }
    this.#o = {
      requestTimeoutMs: 2000,
      maxRetries: 5,
      minBytesPerSecond: 0,
      throughputWindowMs: 30_000,
      ...options,
    };
    this.#tag = imageTag(options.imageId);
    this.#acceptSpan = options.mode === 'fanout' ? 2 * options.window : options.window;
    this.#next = options.firstMissingChunk;
    this.#done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Callers may never await done() (e.g. on abort); keep that from being an
    // unhandled rejection while still delivering it to those who do.
    this.#done.catch(() => undefined);
  }

  /** First chunk not yet stored: what the agent journals to resume after a power cut. */
  get next(): number {
    return this.#next;
  }

  /** Chunks in the image. */
  get chunkCount(): number {
    return this.#o.chunkCount;
  }

  /** Starts requesting; the promise settles when every chunk is stored or the transfer fails. */
  start(): Promise<void> {
    this.#rateWindowStart = this.#o.timers.now();
    if (this.#next >= this.#o.chunkCount) {
      this.#complete();
    } else {
      this.#refill(true);
      this.#arm();
    }
    return this.#done;
  }

  /** Settles like start(). */
  done(): Promise<void> {
    return this.#done;
  }

  /** Link went down: stop counting timeouts against the sender. */
  pause(): void {
    this.#paused = true;
  }

  /** Link is back: re-request everything outstanding at once (no waiting for a timeout). */
  resume(): void {
    if (this.#finished) return;
    this.#paused = false;
    const now = this.#o.timers.now();
    this.#rateWindowStart = now;
    this.#rateWindowBytes = 0;
    const again = [...this.#outstanding.keys()];
    for (const i of again) this.#outstanding.set(i, { sentAt: now, tries: this.#outstanding.get(i)?.tries ?? 0 });
    this.#send(again);
    this.#refill(false);
  }

  /** Stops the transfer with a non-transient error (e.g. the offer was cancelled). */
  abort(reason: string): void {
    this.#fail(new ProtocolError(ProtocolErrorCode.TRANSFER_ABORTED, `transfer aborted: ${reason}`));
  }

  /** Feeds one received chunk frame (already decoded by decodeMessage). */
  handleFrame(frame: ChunkFrame): void {
    if (this.#finished) return;
    this.stats.bytesIn += frame.data.length;
    const i = frame.index;
    if (
      frame.imageTag !== this.#tag ||
      i < this.#next ||
      i >= this.#next + this.#acceptSpan ||
      i >= this.#o.chunkCount ||
      this.#buffered.has(i) ||
      this.#verifying.has(i)
    ) {
      // In fan-out mode most of these are chunks other devices asked for.
      this.stats.ignored++;
      return;
    }
    this.#verifying.add(i);
    void this.#verifyAndStore(i, frame.data);
  }

  async #verifyAndStore(i: number, data: Uint8Array): Promise<void> {
    let good = false;
    try {
      good = await this.#o.verifyChunk(i, data);
    } catch {
      good = false;
    }
    this.#verifying.delete(i);
    if (this.#finished) return;
    if (!good) {
      this.stats.badChunks++;
      this.#retry([i]);
      return;
    }
    this.#outstanding.delete(i);
    this.#buffered.set(i, data);
    await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      for (;;) {
        const data = this.#buffered.get(this.#next);
        if (data === undefined || this.#finished) break;
        try {
          await this.#o.sink(this.#next, data);
        } catch (err) {
          this.#fail(new ProtocolError(ProtocolErrorCode.SINK_FAILED, `storing chunk ${this.#next} failed`, { cause: err }));
          return;
        }
        this.#buffered.delete(this.#next);
        this.#next++;
        this.stats.stored++;
        this.#rateWindowBytes += data.length;
        this.#o.onProgress?.(this.#next, this.#o.chunkCount);
      }
    } finally {
      this.#flushing = false;
    }
    if (this.#finished) return;
    if (this.#next >= this.#o.chunkCount) this.#complete();
    else this.#refill(false);
  }

  /** Requests window slots not yet asked for; batches to half a window to save messages. */
  #refill(force: boolean): void {
    if (this.#paused) return;
    const end = Math.min(this.#o.chunkCount, this.#next + this.#o.window);
    const fresh: number[] = [];
    for (let i = this.#next; i < end; i++) {
      if (!this.#outstanding.has(i) && !this.#buffered.has(i) && !this.#verifying.has(i)) fresh.push(i);
    }
    if (fresh.length === 0) return;
    const half = Math.ceil(this.#o.window / 2);
    const inFlight = this.#outstanding.size + this.#verifying.size;
    if (!force && fresh.length < half && inFlight >= half) return;
    const now = this.#o.timers.now();
    for (const i of fresh) this.#outstanding.set(i, { sentAt: now, tries: 0 });
    this.#send(fresh);
  }

  #retry(indices: number[]): void {
    const now = this.#o.timers.now();
    for (const i of indices) {
      const tries = (this.#outstanding.get(i)?.tries ?? 0) + 1;
      if (tries > this.#o.maxRetries) {
        this.#fail(
          new ProtocolError(ProtocolErrorCode.TRANSFER_TIMEOUT, `chunk ${i} not received after ${this.#o.maxRetries} retries`, {
            transient: true,
          }),
        );
        return;
      }
      this.#outstanding.set(i, { sentAt: now, tries });
    }
    this.stats.retries += indices.length;
    if (!this.#paused) this.#send(indices);
  }

  #send(want: number[]): void {
    if (this.#finished && want.length > 0) return;
    this.stats.requests++;
    const request: ChunkRequest = { v: 1, imageId: this.#o.imageId, mode: this.#o.mode, next: this.#next, want };
    try {
      // A failed publish is like a lost message: the timeout asks again.
      void Promise.resolve(this.#o.sendRequest(request)).catch(() => undefined);
    } catch {
      /* same as above, for synchronous throws */
    }
  }

  #arm(): void {
    const period = Math.max(1, Math.floor(this.#o.requestTimeoutMs / 4));
    this.#timer = this.#o.timers.setTimeout(() => this.#tick(), period);
  }

  #tick(): void {
    if (this.#finished) return;
    const now = this.#o.timers.now();
    if (!this.#paused) {
      const expired: number[] = [];
      for (const [i, o] of this.#outstanding) {
        if (now - o.sentAt >= this.#o.requestTimeoutMs) expired.push(i);
      }
      if (expired.length > 0) this.#retry(expired);
      if (this.#finished) return;
      const elapsed = now - this.#rateWindowStart;
      if (this.#o.minBytesPerSecond > 0 && elapsed >= this.#o.throughputWindowMs) {
        const rate = (this.#rateWindowBytes * 1000) / elapsed;
        if (rate < this.#o.minBytesPerSecond) {
          this.#fail(
            new ProtocolError(
              ProtocolErrorCode.TRANSFER_TOO_SLOW,
              `sender too slow: ${Math.round(rate)} B/s < ${this.#o.minBytesPerSecond} B/s`,
              { transient: true },
            ),
          );
          return;
        }
        this.#rateWindowStart = now;
        this.#rateWindowBytes = 0;
      }
    }
    this.#arm();
  }

  #complete(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#o.timers.clearTimeout(this.#timer);
    // Final acknowledgement: lets the server forget this device's window.
    this.stats.requests++;
    void Promise.resolve()
      .then(() => this.#o.sendRequest({ v: 1, imageId: this.#o.imageId, mode: this.#o.mode, next: this.#next, want: [] }))
      .catch(() => undefined);
    this.#resolve();
  }

  #fail(err: ProtocolError): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#o.timers.clearTimeout(this.#timer);
    this.#reject(err);
  }
}
