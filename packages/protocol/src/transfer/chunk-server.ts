import { encodeChunkFrame, imageTag } from '../chunk-frame.ts';
import { MAX_WINDOW, type ChunkRequest } from '../schemas.ts';
import { deviceTopic, imageChunksTopic } from '../topics.ts';
import type { TransferTimers } from './timers.ts';

/** Options of ChunkServer. */
export interface ChunkServerOptions {
  /** Publishes one chunk frame (QoS 0: the end-to-end request/ack protocol does the reliability). */
  publish(topic: string, payload: Buffer): void | Promise<void>;
  /** Reads chunk `index` of an image (from the server's artifact store). */
  readChunk(imageId: string, index: number): Uint8Array | Promise<Uint8Array>;
  timers: TransferTimers;
  /**
   * Fan-out: how long a requested chunk may wait for the other devices of the
   * wave to ask for it too, so one publish serves them all.
   */
  lingerMs?: number;
  /** Fan-out: a device silent for this long is no longer waited for. */
  deviceIdleMs?: number;
  /**
   * A chunk published less than this long ago is not published again for a
   * device that will still receive it (fan-out: whose window covered it at
   * the time; unicast: the device it was sent to). Must stay well below the receivers' request timeout,
   * so a copy that really was lost is sent again on their retry.
   */
  inFlightGuardMs?: number;
  /**
   * Fan-out: the shortest time between two publishes of the same chunk.
   * Devices of a wave subscribe one after another as their offers arrive; a
   * publish per linger for each newcomer re-sent the wave's first chunks to
   * every subscriber (measured: 6,615 publishes for a 64-chunk image in a
   * 500-device wave, each copied to ~500 devices). Newcomers wait at most
   * this long and are served together; far below the request timeout.
   */
  repeatIntervalMs?: number;
  /**
   * Fan-out repair: a chunk already published on the image's stream and asked
   * for again by at most this fraction of the wave's devices goes to each of
   * them on its own topic instead of to the whole wave again. Every publish
   * on the stream is copied by the broker to every subscriber, so re-serving
   * a few stragglers that way cost the broker a wave's worth of copies each
   * time: measured in a 5,000-device fan-out bench (waves of 2,000), late
   * requests made the server publish each chunk ~50 times, the broker's
   * per-device queues overflowed with chunks nobody needed, and the wave
   * stalled a minute short of its last two chunks.
   */
  repairFraction?: number;
}

/** ChunkServer.snapshot: one fan-out image's state. */
export interface FanoutSnapshot {
  devices: number;
  asked: number;
  /** The most common `next` values among the devices (their first missing chunk). */
  next: Array<{ at: number; devices: number }>;
  pending: Array<{ index: number; waitingMs: number; requesters: number }>;
  /** The highest chunks published, and how long ago. */
  lastPublishedMsAgo: Record<number, number>;
  timerInMs: number | null;
}

/** Why a chunk request was refused (the caller counts these like decode rejections). */
export type ChunkRequestReject = 'unknown-image' | 'bad-range';

/** Server egress counters. */
export interface ChunkServerStats {
  publishes: number;
  /** Fan-out chunks re-sent to single devices (see repairFraction); also counted in unicastPublishes. */
  repairPublishes: number;
  /** Payload bytes handed to the broker. */
  bytes: number;
  unicastPublishes: number;
  fanoutPublishes: number;
  readErrors: number;
}

interface FanoutDevice {
  next: number;
  window: number;
  lastSeen: number;
  /**
   * Whether the device has asked for anything yet. A device subscribes to
   * the image's stream before its first request, so only then can a
   * publish reach it; an expected device that has not asked is waited for
   * (up to the linger), but a chunk published before it asked is not on its way to it.
   */
  asked: boolean;
}

interface ImageState {
  chunkCount: number;
  tag: string;
  devices: Map<string, FanoutDevice>;
  /** Fan-out chunks asked for and not yet sent: index -> first request time and who asked. */
  pending: Map<number, { firstAt: number; requesters: Set<string> }>;
  /** Fan-out chunks published recently: index -> when, and devices whose window covered it. */
  recent: Map<number, { at: number; covered: Set<string> }>;
  /** Unicast chunks sent recently per device: deviceId -> index -> when. */
  recentUnicast: Map<string, Map<number, number>>;
  /** Fan-out: when each chunk was last published (bounded by the chunk count). */
  lastPublished: Map<number, number>;
}

/**
 * Server side of the chunk transfer. Sends only chunks that devices asked
 * for (their windows are the flow control).
 *
 * UNICAST: each requested chunk goes to the asking device's own topic.
 * FAN-OUT: chunks go to one per-image topic that every device of the wave
 * subscribes to; requests for the same chunk from several devices within
 * `lingerMs` are merged into one publish, and the broker does the copying.
 * A chunk is sent early when every active device whose window covers it has
 * asked, so devices moving in step never wait for the linger.
 */
export class ChunkServer {
  readonly #o: Required<ChunkServerOptions>;
  readonly #images = new Map<string, ImageState>();
  #timer: unknown = undefined;
  #timerAt = Infinity;
  readonly stats: ChunkServerStats = { publishes: 0, repairPublishes: 0, bytes: 0, unicastPublishes: 0, fanoutPublishes: 0, readErrors: 0 };

  constructor(options: ChunkServerOptions) {
    this.#o = { lingerMs: 10, deviceIdleMs: 5000, inFlightGuardMs: 250, repeatIntervalMs: 250, repairFraction: 1 / 8, ...options };
  }

  /** Makes an image downloadable. */
  addImage(imageId: string, chunkCount: number): void {
    imageChunksTopic(imageId); // validates the id once, here, not per chunk
    if (this.#images.has(imageId)) return;
    this.#images.set(imageId, { chunkCount, tag: imageTag(imageId), devices: new Map(), pending: new Map(), recent: new Map(), recentUnicast: new Map(), lastPublished: new Map() });
  }

  /** Stops serving an image (campaign over). */
  removeImage(imageId: string): void {
    this.#images.delete(imageId);
  }

  /**
   * Fan-out: names the devices a wave has offered `imageId` to, so the first
   * chunks wait (up to lingerMs) for all of them instead of going out as soon
   * as the fastest device asks. A device that never asks is forgotten after
   * deviceIdleMs.
   */
  expectDevices(imageId: string, deviceIds: readonly string[]): void {
    const image = this.#images.get(imageId);
    if (image === undefined) return;
    const now = this.#o.timers.now();
    for (const id of deviceIds) {
      if (!image.devices.has(id)) image.devices.set(id, { next: 0, window: MAX_WINDOW, lastSeen: now, asked: false });
    }
  }

  /** Devices currently downloading `imageId` in fan-out mode. */
  activeDevices(imageId: string): string[] {
    return [...(this.#images.get(imageId)?.devices.keys() ?? [])];
  }

  /** Handles a decoded chunk request from `deviceId`; null when accepted. */
  handleRequest(deviceId: string, request: ChunkRequest): ChunkRequestReject | null {
    const image = this.#images.get(request.imageId);
    if (image === undefined) return 'unknown-image';
    if (request.next > image.chunkCount) return 'bad-range';
    for (const i of request.want) {
      if (i >= image.chunkCount || i < request.next || i >= request.next + MAX_WINDOW) return 'bad-range';
    }
    const want = [...new Set(request.want)].sort((a, b) => a - b);
    const now = this.#o.timers.now();
    if (request.mode === 'unicast') {
      image.devices.delete(deviceId);
      // A (buggy or hostile) device repeating a 4 KiB request must not make
      // the server send the same 256 chunks again and again: a chunk sent to
      // this device within the guard is still on its way.
      let sent = image.recentUnicast.get(deviceId);
      if (sent === undefined) image.recentUnicast.set(deviceId, (sent = new Map()));
      for (const [i, at] of sent) if (now - at >= this.#o.inFlightGuardMs || i < request.next) sent.delete(i);
      const fresh = want.filter((i) => !sent.has(i));
      for (const i of fresh) sent.set(i, now);
      if (request.next >= image.chunkCount) image.recentUnicast.delete(deviceId);
      void this.#sendUnicast(deviceId, request.imageId, image, fresh);
      return null;
    }
    if (request.next >= image.chunkCount) {
      image.devices.delete(deviceId);
      image.recentUnicast.delete(deviceId);
    } else {
      const prev = image.devices.get(deviceId);
      const span = want.length > 0 ? (want[want.length - 1] ?? 0) - request.next + 1 : 0;
      image.devices.set(deviceId, { next: request.next, window: prev === undefined || !prev.asked ? Math.max(1, span) : Math.max(prev.window, span), lastSeen: now, asked: true });
    }
    for (const i of want) {
      const sent = image.recent.get(i);
      // Requests race with chunks already on their way: without this, every
      // device that asked a moment after the publish would trigger a copy.
      if (sent !== undefined && now - sent.at < this.#o.inFlightGuardMs && sent.covered.has(deviceId)) continue;
      // Likewise a repair copy sent to this device alone.
      const repairedAt = image.recentUnicast.get(deviceId)?.get(i);
      if (repairedAt !== undefined && now - repairedAt < this.#o.inFlightGuardMs) continue;
      let p = image.pending.get(i);
      if (p === undefined) {
        p = { firstAt: now, requesters: new Set() };
        image.pending.set(i, p);
      }
      p.requesters.add(deviceId);
    }
    this.#pump();
    return null;
  }

  /**
   * Where a fan-out transfer stands (diagnostics: a wave that stops moving
   * shows here whether the server holds a chunk back or never heard the ask).
   */
  snapshot(imageId: string): FanoutSnapshot | null {
    const image = this.#images.get(imageId);
    if (image === undefined) return null;
    const now = this.#o.timers.now();
    const next = new Map<number, number>();
    let asked = 0;
    for (const d of image.devices.values()) {
      if (d.asked) asked += 1;
      next.set(d.next, (next.get(d.next) ?? 0) + 1);
    }
    return {
      devices: image.devices.size,
      asked,
      next: [...next.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([at, devices]) => ({ at, devices })),
      pending: [...image.pending.entries()].map(([index, p]) => ({ index, waitingMs: now - p.firstAt, requesters: p.requesters.size })),
      lastPublishedMsAgo: Object.fromEntries([...image.lastPublished.entries()].sort((a, b) => b[0] - a[0]).slice(0, 4).map(([i, at]) => [i, now - at])),
      timerInMs: this.#timerAt === Infinity ? null : this.#timerAt - now,
    };
  }

  /** Cancels timers (server shutdown). */
  close(): void {
    if (this.#timer !== undefined) this.#o.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  async #sendUnicast(deviceId: string, imageId: string, image: ImageState, want: number[]): Promise<void> {
    const topic = deviceTopic('chunk-data', deviceId);
    for (const i of want) {
      const frame = await this.#frame(imageId, image, i);
      if (frame === null) continue;
      this.stats.unicastPublishes++;
      this.#count(frame);
      await this.#o.publish(topic, frame);
    }
  }

  async #frame(imageId: string, image: ImageState, index: number): Promise<Buffer | null> {
    try {
      return encodeChunkFrame(image.tag, index, await this.#o.readChunk(imageId, index));
    } catch {
      // The device re-requests after its timeout; a persistent read error
      // shows up as its transfer failing, and here as a counter.
      this.stats.readErrors++;
      return null;
    }
  }

  #count(frame: Buffer): void {
    this.stats.publishes++;
    this.stats.bytes += frame.length;
  }

  /** Sends every fan-out chunk that is ready; re-arms the timer for the rest. */
  #pump(): void {
    const now = this.#o.timers.now();
    let earliest = Infinity;
    for (const [imageId, image] of this.#images) {
      const ready: number[] = [];
      for (const [i, p] of image.pending) {
        const last = image.lastPublished.get(i);
        if (last !== undefined && now - last < this.#o.repeatIntervalMs) {
          earliest = Math.min(earliest, last + this.#o.repeatIntervalMs);
        } else if (now - p.firstAt >= this.#o.lingerMs || this.#everyoneAsked(image, i, p.requesters, now)) {
          ready.push(i);
        } else {
          earliest = Math.min(earliest, p.firstAt + this.#o.lingerMs);
        }
      }
      ready.sort((a, b) => a - b);
      for (const [i, r] of image.recent) if (now - r.at >= this.#o.inFlightGuardMs) image.recent.delete(i);
      const fanout: number[] = [];
      const repairs = new Map<string, number[]>();
      for (const i of ready) {
        const p = image.pending.get(i)!;
        image.pending.delete(i);
        // Counting only the askers, not also the devices whose window covers
        // the chunk (who may ask soon): measured in the 5,000-device bench,
        // counting those put most re-sends back on the stream, and with every
        // subscriber receiving (and dropping) every copy, a 2,000-device wave
        // stalled ~40 s; counting only the askers, it finished in 40 s.
        if (image.lastPublished.has(i) && p.requesters.size <= image.devices.size * this.#o.repairFraction) {
          for (const id of p.requesters) {
            let sent = image.recentUnicast.get(id);
            if (sent === undefined) image.recentUnicast.set(id, (sent = new Map()));
            sent.set(i, now);
            const list = repairs.get(id);
            if (list === undefined) repairs.set(id, [i]);
            else list.push(i);
          }
          continue;
        }
        fanout.push(i);
        image.recent.set(i, { at: now, covered: this.#covering(image, i) });
        image.lastPublished.set(i, now);
      }
      if (fanout.length > 0) void this.#sendFanout(imageId, image, fanout);
      for (const [id, indices] of repairs) {
        this.stats.repairPublishes += indices.length;
        void this.#sendUnicast(id, imageId, image, indices);
      }
    }
    if (earliest < this.#timerAt) {
      if (this.#timer !== undefined) this.#o.timers.clearTimeout(this.#timer);
      this.#timerAt = earliest;
      this.#timer = this.#o.timers.setTimeout(() => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        this.#pump();
      }, Math.max(0, earliest - now));
    }
  }

  #everyoneAsked(image: ImageState, index: number, requesters: Set<string>, now: number): boolean {
    for (const [id, d] of image.devices) {
      if (now - d.lastSeen > this.#o.deviceIdleMs) {
        image.devices.delete(id);
        continue;
      }
      // `next` is only as fresh as the device's last request: by its next one
      // it may have moved up to a whole window, so it may ask for anything
      // below next + 2 * window. Devices far behind (resumed late) do not
      // hold the stream back; they get their chunks after the linger.
      if (index >= d.next && index < d.next + 2 * d.window && !requesters.has(id)) return false;
    }
    return true;
  }

  /**
   * Devices that will accept chunk `index` when it arrives: subscribed (they
   * asked for something already), and a fan-out
   * receiver keeps frames up to two windows past its `next`, and `next` only
   * grows, so `next <= index < next + 2 * window` stays true for a device
   * that does not have the chunk yet.
   */
  #covering(image: ImageState, index: number): Set<string> {
    const out = new Set<string>();
    for (const [id, d] of image.devices) if (d.asked && index >= d.next && index < d.next + 2 * d.window) out.add(id);
    return out;
  }

  async #sendFanout(imageId: string, image: ImageState, indices: number[]): Promise<void> {
    const topic = imageChunksTopic(imageId);
    for (const i of indices) {
      const frame = await this.#frame(imageId, image, i);
      if (frame === null) continue;
      this.stats.fanoutPublishes++;
      this.#count(frame);
      await this.#o.publish(topic, frame);
    }
  }
}
