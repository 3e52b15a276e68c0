/**
 * Image chunks over MQTT: a ChunkReceiver per download, fed by the frames the
 * agent service routes to it, requesting a window of chunks at a time and
 * acknowledging end to end. Every chunk is checked against the signed
 * manifest before it is accepted; the agent checks it again before writing.
 *
 * The signed manifest, not the offer, decides how many chunks there are: the
 * offer's transfer fields are only signed by the online server key, so an
 * offer announcing more (or fewer) chunks than the manifest is refused, and
 * no byte past the signed length is ever requested or accepted. A sender that
 * trickles valid chunks just fast enough to beat the re-request timeout is
 * cut off by a minimum-throughput rule (slow retrieval, TUF); the job keeps
 * the verified chunks and resumes from them on the next offer.
 */
import { ChunkReceiver, ProtocolErrorCode, realTimers } from '@uniota/protocol';
import type { ChunkFrame, ChunkRequest, TransferMode, TransferTimers } from '@uniota/protocol';
import { UniotaError } from '@uniota/errors';
import { ImageError, checkChunkShape, parseBundleHeader, verifyChunk } from '@uniota/image';
import type { ChunkHasher, Manifest } from '@uniota/image';
import { validateManifest } from '@uniota/image';
import { AgentError } from '../errors.ts';
import type { ChunkSink, ImageSource } from '../image-source.ts';

/** What the offer said about how to fetch an action's image. */
export interface TransferPlan {
  imageId: string;
  mode: TransferMode;
  chunkCount: number;
  /** What the offer says about the payload; must match the signed manifest. */
  payloadSize?: number;
  chunkSize?: number;
  header: Uint8Array;
}

/**
 * Slow-retrieval defaults: at least 512 bytes per second, averaged over a
 * minute. A constrained cellular link (NB-IoT / 2G, a few kB/s in poor
 * coverage) passes with room to spare; a sender trickling one byte per second
 * is cut off after one window. Only verified bytes count, so junk does not
 * keep a download alive.
 */
export const DEFAULT_MIN_BYTES_PER_SECOND = 512;
export const DEFAULT_THROUGHPUT_WINDOW_MS = 60_000;

export interface MqttImageSourceOptions {
  sendRequest(request: ChunkRequest): Promise<void>;
  /**
   * Called when a fan-out download starts / ends, to (un)subscribe the
   * image's shared stream. The start waits for it at most subscribeTimeoutMs;
   * the end does not wait at all (see fetch).
   */
  onFanout?(imageId: string, active: boolean): Promise<void>;
  /**
   * How long a fan-out download waits for its subscription before it starts
   * requesting anyway: chunks published before the subscription took effect
   * are asked for again after the request timeout. Default 10 s.
   */
  subscribeTimeoutMs?: number;
  window?: number;
  requestTimeoutMs?: number;
  maxRetries?: number;
  /** Minimum verified throughput before a download is aborted (0: no minimum); default DEFAULT_MIN_BYTES_PER_SECOND. */
  minBytesPerSecond?: number;
  /** Period the throughput is averaged over; default DEFAULT_THROUGHPUT_WINDOW_MS. */
  throughputWindowMs?: number;
  timers?: TransferTimers;
  /** Hashes each received chunk for its check (default: SHA-256 inline, chunk by chunk). */
  hasher?: ChunkHasher;
}

/** Where a running download is (for diagnostics: a download that does not move says where it waits). */
export interface DownloadStatus {
  imageId: string;
  mode: TransferMode;
  /** subscribing: waiting (bounded) for the broker's SUBACK of the image's fan-out stream. */
  phase: 'subscribing' | 'receiving';
  next: number;
  chunkCount: number;
  stats: ChunkReceiver['stats'];
}

export class MqttImageSource implements ImageSource {
  readonly #plans = new Map<string, TransferPlan>();
  /** The running download: frames and aborts go to its receiver; `download` reports it. */
  #active: { imageId: string; mode: TransferMode; phase: DownloadStatus['phase']; receiver: ChunkReceiver } | null = null;

  constructor(private readonly o: MqttImageSourceOptions) {}

  /** Records how to fetch `actionId` (from its offer). */
  plan(actionId: string, plan: TransferPlan): void {
    this.#plans.set(actionId, plan);
  }

  /** The running download, if any. */
  get download(): DownloadStatus | null {
    const st = this.#active;
    if (st === null) return null;
    return { imageId: st.imageId, mode: st.mode, phase: st.phase, next: st.receiver.next, chunkCount: st.receiver.chunkCount, stats: { ...st.receiver.stats } };
  }

  /** Routes a received frame to the running download, if it is for that image. */
  handleFrame(frame: ChunkFrame): void {
    this.#active?.receiver.handleFrame(frame);
  }

  /** Aborts the running download (cancel, shutdown). */
  abort(reason: string): void {
    this.#active?.receiver.abort(reason);
  }

  async fetch(actionId: string, from: number, sink: ChunkSink): Promise<void> {
    const plan = this.#plans.get(actionId);
    if (plan === undefined) throw new AgentError('DOWNLOAD_FAILED', `no transfer plan for action ${actionId} (offer lost after a restart)`, { transient: true });
    // The header was verified by the agent before it accepted the offer;
    // here it only supplies the chunk hashes for the receiver's check.
    const manifest: Manifest = validateManifest(JSON.parse(new TextDecoder().decode(parseBundleHeader(plan.header).manifestBytes)));
    const signed = { chunkCount: manifest.payload.chunks.length, payloadSize: manifest.payload.size, chunkSize: manifest.payload.chunkSize };
    const offered = { chunkCount: plan.chunkCount, payloadSize: plan.payloadSize ?? signed.payloadSize, chunkSize: plan.chunkSize ?? signed.chunkSize };
    if (offered.chunkCount !== signed.chunkCount || offered.payloadSize !== signed.payloadSize || offered.chunkSize !== signed.chunkSize) {
      throw new AgentError(
        'OFFER_MISMATCH',
        `offer announces ${offered.chunkCount} chunks / ${offered.payloadSize} bytes / chunk size ${offered.chunkSize}; the signed manifest has ${signed.chunkCount} / ${signed.payloadSize} / ${signed.chunkSize}`,
      );
    }
    const receiver = new ChunkReceiver({
      imageId: plan.imageId,
      chunkCount: signed.chunkCount,
      mode: plan.mode,
      window: this.o.window ?? 16,
      firstMissingChunk: from,
      verifyChunk: (index, bytes) => {
        try {
          const hasher = this.o.hasher;
          if (hasher === undefined) {
            verifyChunk(manifest, index, bytes);
            return true;
          }
          checkChunkShape(manifest, index, bytes);
          return hasher.hashChunks(bytes, bytes.byteLength).then((d) => d[0] === manifest.payload.chunks[index]);
        } catch (err) {
          if (err instanceof ImageError) return false;
          throw err;
        }
      },
      sink: (index, bytes) => sink(index, bytes),
      sendRequest: (r) => this.o.sendRequest(r),
      timers: this.o.timers ?? realTimers,
      ...(this.o.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: this.o.requestTimeoutMs }),
      ...(this.o.maxRetries === undefined ? {} : { maxRetries: this.o.maxRetries }),
      minBytesPerSecond: this.o.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND,
      throughputWindowMs: this.o.throughputWindowMs ?? DEFAULT_THROUGHPUT_WINDOW_MS,
    });
    const active = { imageId: plan.imageId, mode: plan.mode, phase: 'subscribing' as DownloadStatus['phase'], receiver };
    this.#active = active;
    if (plan.mode === 'fanout' && this.o.onFanout !== undefined) {
      // Bounded: a download must not hang on a broker that does not answer.
      const subscribed = this.o.onFanout(plan.imageId, true).catch(() => undefined);
      const timers = this.o.timers ?? realTimers;
      let timer: unknown;
      await Promise.race([subscribed, new Promise((r) => (timer = timers.setTimeout(() => r(undefined), this.o.subscribeTimeoutMs ?? 10_000)))]);
      timers.clearTimeout(timer);
    }
    active.phase = 'receiving';
    try {
      await receiver.start();
    } catch (err) {
      // Retries ran out on chunks that kept failing their signed hash: say
      // so, rather than blame the network with a plain timeout.
      if (err instanceof UniotaError && err.code === ProtocolErrorCode.TRANSFER_TIMEOUT && receiver.stats.badChunks > 0) {
        throw new AgentError('CHUNK_VERIFY_FAILED', `${receiver.stats.badChunks} chunk(s) failed verification against the signed manifest; ${err.message}`, { cause: err, transient: true });
      }
      throw err;
    } finally {
      if (this.#active === active) this.#active = null;
      // Not awaited: the download is over either way, and frames of an image
      // no download wants are dropped. Awaiting the UNSUBACK wedged devices
      // in 'downloading' until the campaign timed them out (5,000-device
      // fan-out bench on mosquitto 2.0.11: a few dozen UNSUBACKs never came).
      if (plan.mode === 'fanout') void this.o.onFanout?.(plan.imageId, false).catch(() => undefined);
    }
  }
}
