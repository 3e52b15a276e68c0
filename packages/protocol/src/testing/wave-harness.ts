import { createHash } from 'node:crypto';
import { MqttLink } from '../mqtt-link.ts';
import { RejectionCounter } from '../rejection-counter.ts';
import type { TransferMode } from '../schemas.ts';
import { allDevicesFilter, deviceTopic, imageChunksTopic } from '../topics.ts';
import { ChunkReceiver } from '../transfer/chunk-receiver.ts';
import { ChunkServer } from '../transfer/chunk-server.ts';
import { realTimers } from '../transfer/timers.ts';

/**
 * A server and N devices over a REAL broker, wired exactly as the update
 * server and agent are meant to wire the protocol. Used by the integration
 * tests (test/protocol) and the transfer benchmark; not part of the public API.
 */
export interface WaveOptions {
  url: string;
  protocolVersion: 4 | 5;
  imageId: string;
  image: Uint8Array;
  chunkSize: number;
  /** Prefix for MQTT client ids, unique per run. */
  runId: string;
}

/** One simulated device. */
export interface WaveDevice {
  id: string;
  link: MqttLink;
  receiver: ChunkReceiver;
  rejections: RejectionCounter;
  /** The device's "slot": chunks are written at their offset. */
  slot: Buffer;
  /** Chunk indices handed to the sink, in order. */
  sunk: number[];
  /** Frame bytes this device received from the broker (broker egress to it). */
  bytesIn(): number;
}

/** Per-chunk SHA-256 list: stands in for the signed manifest's chunk hashes. */
export function chunkHashes(image: Uint8Array, chunkSize: number): string[] {
  const out: string[] = [];
  for (let off = 0; off < image.length; off += chunkSize) {
    out.push(createHash('sha256').update(image.subarray(off, off + chunkSize)).digest('hex'));
  }
  return out;
}

/** Deterministic pseudo-random image bytes (xorshift), so runs are reproducible. */
export function testImage(size: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Server side of the harness plus a factory for devices. */
export class Wave {
  readonly server: ChunkServer;
  readonly serverRejections: RejectionCounter;
  readonly chunkCount: number;
  readonly hashes: string[];
  /** Requests the server refused (unknown image, bad range). */
  refused = 0;
  readonly #o: WaveOptions;
  readonly #link: MqttLink;
  readonly #devices: WaveDevice[] = [];

  private constructor(o: WaveOptions, link: MqttLink, server: ChunkServer, rejections: RejectionCounter) {
    this.#o = o;
    this.serverRejections = rejections;
    this.#link = link;
    this.server = server;
    this.hashes = chunkHashes(o.image, o.chunkSize);
    this.chunkCount = this.hashes.length;
    server.addImage(o.imageId, this.chunkCount);
  }

  /** Connects the server link and starts serving the image. */
  static async start(o: WaveOptions): Promise<Wave> {
    let wave: Wave | undefined;
    const serverRejections = new RejectionCounter();
    const link = await MqttLink.connect({
      url: o.url,
      clientId: `${o.runId}-server`,
      protocolVersion: o.protocolVersion,
      subscriptions: [allDevicesFilter('chunk-request'), allDevicesFilter('status'), allDevicesFilter('hello')],
      counter: serverRejections,
      handlers: {
        'chunk-request': (m) => {
          if (wave && wave.server.handleRequest(m.deviceId, m.message) !== null) wave.refused++;
        },
        // Valid status/hello are accepted and ignored here: the harness only
        // checks that invalid ones are rejected.
        status: () => undefined,
        hello: () => undefined,
      },
    });
    const server = new ChunkServer({
      publish: (topic, payload) => link.publish(topic, payload, { qos: 0 }),
      readChunk: (_id, i) => o.image.subarray(i * o.chunkSize, (i + 1) * o.chunkSize),
      timers: realTimers,
    });
    wave = new Wave(o, link, server, serverRejections);
    return wave;
  }

  /** Connects a device, subscribes it, and returns it ready to `receiver.start()`. */
  async addDevice(
    id: string,
    mode: TransferMode,
    extra: { firstMissingChunk?: number; window?: number; slot?: Buffer; onSunk?: (index: number) => void } = {},
  ): Promise<WaveDevice> {
    const o = this.#o;
    const rejections = new RejectionCounter();
    const slot = extra.slot ?? Buffer.alloc(o.image.length);
    const sunk: number[] = [];
    let bytesIn = 0;
    let receiver: ChunkReceiver | undefined;
    const onChunk = (frame: { index: number; data: Uint8Array; imageTag: string }) => {
      bytesIn += frame.data.length;
      receiver?.handleFrame(frame);
    };
    const link = await MqttLink.connect({
      url: o.url,
      clientId: `${o.runId}-${id}`,
      protocolVersion: o.protocolVersion,
      subscriptions: [
        mode === 'fanout' ? imageChunksTopic(o.imageId) : deviceTopic('chunk-data', id),
        deviceTopic('command', id),
      ],
      counter: rejections,
      handlers: {
        'chunk-data': (m) => onChunk(m.message),
        'chunk-fanout': (m) => onChunk(m.message),
        command: () => undefined,
      },
      onDisconnect: () => receiver?.pause(),
      onConnect: () => receiver?.resume(),
    });
    receiver = new ChunkReceiver({
      imageId: o.imageId,
      chunkCount: this.chunkCount,
      mode,
      window: extra.window ?? 16,
      firstMissingChunk: extra.firstMissingChunk ?? 0,
      verifyChunk: (i, bytes) => createHash('sha256').update(bytes).digest('hex') === this.hashes[i],
      sink: (i, bytes) => {
        slot.set(bytes, i * o.chunkSize);
        sunk.push(i);
        extra.onSunk?.(i);
      },
      sendRequest: (r) => link.publishJson(deviceTopic('chunk-request', id), r, { qos: 1 }),
      timers: realTimers,
      requestTimeoutMs: 1500,
      maxRetries: 8,
    });
    const device: WaveDevice = { id, link, receiver, rejections, slot, sunk, bytesIn: () => bytesIn };
    this.#devices.push(device);
    return device;
  }

  /** Disconnects every device and the server. */
  async close(): Promise<void> {
    await Promise.all(this.#devices.map((d) => d.link.close().catch(() => undefined)));
    this.server.close();
    await this.#link.close();
  }
}
