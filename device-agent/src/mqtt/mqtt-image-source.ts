/**
 * Image chunks over MQTT: a ChunkReceiver per download, fed by the frames the
 * agent service routes to it, requesting a window of chunks at a time and
 * acknowledging end to end. Every chunk is checked against the signed
 * manifest before it is accepted; the agent checks it again before writing.
 */
import { ChunkReceiver, realTimers } from '@uniota/protocol';
import type { ChunkFrame, ChunkRequest, TransferMode, TransferTimers } from '@uniota/protocol';
import { ImageError, parseBundleHeader, verifyChunk } from '@uniota/image';
import type { Manifest } from '@uniota/image';
import { validateManifest } from '@uniota/image';
import { AgentError } from '../errors.ts';
import type { ChunkSink, ImageSource } from '../image-source.ts';

/** What the offer said about how to fetch an action's image. */
export interface TransferPlan {
  imageId: string;
  mode: TransferMode;
  chunkCount: number;
  header: Uint8Array;
}

export interface MqttImageSourceOptions {
  sendRequest(request: ChunkRequest): Promise<void>;
  /** Called when a fan-out download starts / ends, to (un)subscribe the image's shared stream. */
  onFanout?(imageId: string, active: boolean): Promise<void>;
  window?: number;
  requestTimeoutMs?: number;
  maxRetries?: number;
  minBytesPerSecond?: number;
  timers?: TransferTimers;
}

export class MqttImageSource implements ImageSource {
  readonly #plans = new Map<string, TransferPlan>();
  #active: { imageId: string; receiver: ChunkReceiver } | null = null;

  constructor(private readonly o: MqttImageSourceOptions) {}

  /** Records how to fetch `actionId` (from its offer). */
  plan(actionId: string, plan: TransferPlan): void {
    this.#plans.set(actionId, plan);
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
    const receiver = new ChunkReceiver({
      imageId: plan.imageId,
      chunkCount: plan.chunkCount,
      mode: plan.mode,
      window: this.o.window ?? 16,
      firstMissingChunk: from,
      verifyChunk: (index, bytes) => {
        try {
          verifyChunk(manifest, index, bytes);
          return true;
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
      ...(this.o.minBytesPerSecond === undefined ? {} : { minBytesPerSecond: this.o.minBytesPerSecond }),
    });
    this.#active = { imageId: plan.imageId, receiver };
    if (plan.mode === 'fanout') await this.o.onFanout?.(plan.imageId, true);
    try {
      await receiver.start();
    } finally {
      this.#active = null;
      if (plan.mode === 'fanout') await this.o.onFanout?.(plan.imageId, false).catch(() => undefined);
    }
  }
}
