/**
 * Where image chunks come from: the MQTT chunk transfer on a fleet, a local
 * bundle file in the demo and in CI fault tests. The agent verifies every
 * chunk itself; a source is never trusted.
 */
import { AgentError } from './errors.ts';

export interface ChunkSink {
  /** Called with chunks in order, starting at the requested index. */
  (index: number, bytes: Uint8Array): Promise<void>;
}

export interface ImageSource {
  /** Delivers chunks `from`..end of the action's image to `sink`, in order. */
  fetch(actionId: string, from: number, sink: ChunkSink): Promise<void>;
}

/** Serves chunks straight from an in-memory bundle (header + payload). */
export class BundleImageSource implements ImageSource {
  constructor(
    private readonly bundles: ReadonlyMap<string, { payloadOffset: number; payloadSize: number; chunkSize: number; bytes: Uint8Array }>,
  ) {}

  async fetch(actionId: string, from: number, sink: ChunkSink): Promise<void> {
    const b = this.bundles.get(actionId);
    if (b === undefined) throw new AgentError('DOWNLOAD_FAILED', `no image for action ${actionId}`, { transient: true });
    const count = Math.ceil(b.payloadSize / b.chunkSize);
    for (let i = from; i < count; i++) {
      const start = b.payloadOffset + i * b.chunkSize;
      const end = b.payloadOffset + Math.min(b.payloadSize, (i + 1) * b.chunkSize);
      await sink(i, b.bytes.subarray(start, end));
    }
  }
}
