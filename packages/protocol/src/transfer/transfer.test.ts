import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hasCode } from '@uniota/errors';
import { ProtocolErrorCode } from '../errors.ts';
import type { ChunkRequest, TransferMode } from '../schemas.ts';
import { deviceTopic, imageChunksTopic } from '../topics.ts';
import { imageTag } from '../chunk-frame.ts';
import { LoopbackBroker } from '../testing/loopback-broker.ts';
import { ManualTimers } from '../testing/manual-timers.ts';
import { ChunkReceiver, type ChunkReceiverOptions } from './chunk-receiver.ts';
import { ChunkServer } from './chunk-server.ts';

const IMAGE = 'img-1';
const CHUNK = 1024;

function makeImage(chunks: number): Uint8Array[] {
  // Deterministic content: chunk i is filled from sha256(i) so every chunk differs.
  return Array.from({ length: chunks }, (_, i) => {
    const seed = createHash('sha256').update(String(i)).digest();
    const c = new Uint8Array(CHUNK);
    for (let j = 0; j < CHUNK; j++) c[j] = seed[j % 32]! ^ (j & 0xff);
    return c;
  });
}
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Faults of one simulated device's link. */
interface DeviceFaults {
  /** True drops the frame of chunk `index` arriving on `topic` before the receiver sees it. */
  dropFrame?: (index: number, topic: string) => boolean;
}

interface Rig {
  broker: LoopbackBroker;
  timers: ManualTimers;
  server: ChunkServer;
  image: Uint8Array[];
  requests: Map<string, ChunkRequest[]>;
  addDevice(id: string, mode: TransferMode, extra?: Partial<ChunkReceiverOptions> & DeviceFaults): { receiver: ChunkReceiver; stored: Uint8Array[] };
}

function rig(chunks: number, opts: { readChunk?: (i: number) => Uint8Array | Promise<Uint8Array> } = {}): Rig {
  const broker = new LoopbackBroker();
  const timers = new ManualTimers();
  const image = makeImage(chunks);
  const hashes = image.map(sha);
  const requests = new Map<string, ChunkRequest[]>();
  const server = new ChunkServer({
    publish: (topic, payload) => broker.publish(topic, payload),
    readChunk: (_id, i) => (opts.readChunk ? opts.readChunk(i) : image[i]!),
    timers,
  });
  server.addImage(IMAGE, chunks);
  return {
    broker,
    timers,
    server,
    image,
    requests,
    addDevice(id, mode, extra = {}) {
      const stored: Uint8Array[] = [];
      broker.subscribe(deviceTopic('chunk-request', id), (m) => {
        if (m.kind !== 'chunk-request') return;
        requests.set(id, [...(requests.get(id) ?? []), m.message]);
        expect(server.handleRequest(id, m.message)).toBeNull();
      });
      const receiver = new ChunkReceiver({
        imageId: IMAGE,
        chunkCount: chunks,
        mode,
        window: 8,
        firstMissingChunk: 0,
        verifyChunk: (i, b) => sha(b) === hashes[i],
        sink: (i, b) => {
          expect(i).toBe(stored.length + (extra.firstMissingChunk ?? 0));
          stored.push(new Uint8Array(b));
        },
        sendRequest: (r) => broker.publish(deviceTopic('chunk-request', id), Buffer.from(JSON.stringify(r))),
        timers,
        requestTimeoutMs: 200,
        maxRetries: 4,
        ...extra,
      });
      // As the agent does: its own chunk topic always (unicast, and fan-out
      // repairs), the image's stream too in fan-out mode.
      const topics = mode === 'fanout' ? [imageChunksTopic(IMAGE), deviceTopic('chunk-data', id)] : [deviceTopic('chunk-data', id)];
      for (const topic of topics) {
        broker.subscribe(topic, (m) => {
          if (extra.dropFrame?.(m.kind === 'chunk-data' || m.kind === 'chunk-fanout' ? m.message.index : -1, topic) === true) return;
          if (m.kind === 'chunk-data' || m.kind === 'chunk-fanout') receiver.handleFrame(m.message);
        });
      }
      return { receiver, stored };
    },
  };
}

async function runUntilSettled(timers: ManualTimers, promises: Promise<unknown>[], maxMs = 60_000): Promise<void> {
  let settled = false;
  void Promise.allSettled(promises).then(() => (settled = true));
  for (let t = 0; t < maxMs && !settled; t += 50) await timers.advance(50);
  expect(settled).toBe(true);
}

describe('chunk transfer (loopback broker)', () => {
  it('unicast: one device stores every chunk, in order, byte-exact', async () => {
    const r = rig(40);
    const d = r.addDevice('dev-1', 'unicast');
    await runUntilSettled(r.timers, [d.receiver.start()]);
    await expect(d.receiver.done()).resolves.toBeUndefined();
    expect(d.stored.map(sha)).toEqual(r.image.map(sha));
    expect(r.server.stats.unicastPublishes).toBe(40);
  });

  it('fan-out: a wave of 6 devices shares one chunk stream', async () => {
    const r = rig(40);
    const devices = Array.from({ length: 6 }, (_, k) => r.addDevice(`dev-${k}`, 'fanout'));
    r.server.expectDevices(IMAGE, devices.map((_, k) => `dev-${k}`));
    await runUntilSettled(r.timers, devices.map((d) => d.receiver.start()));
    for (const d of devices) expect(d.stored.map(sha)).toEqual(r.image.map(sha));
    // Each chunk once, not once per device (unicast would need 240).
    expect(r.server.stats.fanoutPublishes).toBe(40);
    expect(r.server.activeDevices(IMAGE)).toEqual([]);
  });

  it('the device never has more than its window requested-but-unstored (flow control)', async () => {
    const r = rig(50);
    const d = r.addDevice('dev-1', 'unicast', { window: 5 });
    await runUntilSettled(r.timers, [d.receiver.start()]);
    const reqs = r.requests.get('dev-1') ?? [];
    expect(reqs.length).toBeGreaterThan(1);
    for (const q of reqs) for (const i of q.want) expect(i).toBeLessThan(q.next + 5);
    // The last message acknowledges the whole image.
    expect(reqs.at(-1)).toMatchObject({ next: 50, want: [] });
  });

  it('lost chunks are re-requested after the timeout and the transfer completes', async () => {
    const r = rig(30);
    let n = 0;
    // Drop every 4th chunk frame the broker would deliver.
    r.broker.drop = (topic) => topic.endsWith('/chunks/data') && ++n % 4 === 0;
    const d = r.addDevice('dev-1', 'unicast');
    await runUntilSettled(r.timers, [d.receiver.start()]);
    expect(d.stored.map(sha)).toEqual(r.image.map(sha));
    expect(d.receiver.stats.retries).toBeGreaterThan(0);
  });

  it('a chunk failing verification is dropped, requested again, and never reaches the sink', async () => {
    const served = new Map<number, number>();
    let image: Uint8Array[] = [];
    const r = rig(12, {
      readChunk: (i) => {
        served.set(i, (served.get(i) ?? 0) + 1);
        // First copy of chunk 3 is corrupted.
        if (i === 3 && served.get(i) === 1) return new Uint8Array(image[i]!.length).fill(0xee);
        return image[i]!;
      },
    });
    image = r.image;
    const d = r.addDevice('dev-1', 'unicast');
    await runUntilSettled(r.timers, [d.receiver.start()]);
    expect(d.receiver.stats.badChunks).toBe(1);
    expect(served.get(3)).toBe(2);
    expect(d.stored.map(sha)).toEqual(r.image.map(sha));
  });

  it('resumes from firstMissingChunk and never asks for earlier chunks', async () => {
    const r = rig(30);
    const d = r.addDevice('dev-1', 'unicast', { firstMissingChunk: 17 });
    await runUntilSettled(r.timers, [d.receiver.start()]);
    expect(d.stored.map(sha)).toEqual(r.image.slice(17).map(sha));
    const asked = (r.requests.get('dev-1') ?? []).flatMap((q) => q.want);
    expect(Math.min(...asked)).toBe(17);
  });

  it('pause/resume across a link outage: asks again at once and completes', async () => {
    const r = rig(30);
    let offline = false;
    r.broker.drop = () => offline;
    const d = r.addDevice('dev-1', 'unicast', { maxRetries: 2 });
    const done = d.receiver.start();
    await r.timers.advance(0);
    offline = true;
    d.receiver.pause();
    // Far longer than maxRetries * timeout: a paused receiver must not give up.
    await r.timers.advance(5_000);
    offline = false;
    d.receiver.resume();
    await runUntilSettled(r.timers, [done]);
    expect(d.stored.map(sha)).toEqual(r.image.map(sha));
  });

  it('gives up with a TRANSIENT timeout error when the server never answers', async () => {
    const r = rig(10);
    r.broker.drop = (topic) => topic.endsWith('/chunks/data');
    const d = r.addDevice('dev-1', 'unicast');
    const done = d.receiver.start();
    await runUntilSettled(r.timers, [done]);
    const err = await done.catch((e: unknown) => e);
    expect(hasCode(err, ProtocolErrorCode.TRANSFER_TIMEOUT)).toBe(true);
    expect((err as { transient: boolean }).transient).toBe(true);
    expect(d.stored).toEqual([]);
  });

  it('aborts a sender that trickles below the minimum throughput (slow retrieval)', async () => {
    const r = rig(30);
    // Deliver each chunk only after 400 ms: ~2.5 KiB/s, far under 10 KiB/s.
    const timers = r.timers;
    const server = new ChunkServer({
      publish: (topic, payload) => void timers.setTimeout(() => r.broker.publish(topic, payload), 400),
      readChunk: (_id, i) => r.image[i]!,
      timers,
    });
    server.addImage(IMAGE, 30);
    const stored: number[] = [];
    r.broker.subscribe(deviceTopic('chunk-request', 'slow'), (m) => {
      if (m.kind === 'chunk-request') server.handleRequest('slow', m.message);
    });
    const receiver = new ChunkReceiver({
      imageId: IMAGE,
      chunkCount: 30,
      mode: 'unicast',
      window: 1,
      firstMissingChunk: 0,
      verifyChunk: () => true,
      sink: (i) => void stored.push(i),
      sendRequest: (q) => r.broker.publish(deviceTopic('chunk-request', 'slow'), Buffer.from(JSON.stringify(q))),
      timers,
      requestTimeoutMs: 1000,
      minBytesPerSecond: 10 * 1024,
      throughputWindowMs: 3000,
    });
    r.broker.subscribe(deviceTopic('chunk-data', 'slow'), (m) => {
      if (m.kind === 'chunk-data') receiver.handleFrame(m.message);
    });
    const done = receiver.start();
    await runUntilSettled(timers, [done]);
    const err = await done.catch((e: unknown) => e);
    expect(hasCode(err, ProtocolErrorCode.TRANSFER_TOO_SLOW)).toBe(true);
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.length).toBeLessThan(30);
  });

  it('a sink failure stops the transfer with SINK_FAILED', async () => {
    const r = rig(10);
    const d = r.addDevice('dev-1', 'unicast', {
      sink: (i) => {
        if (i === 4) throw new Error('disk full');
      },
    });
    const done = d.receiver.start();
    await runUntilSettled(r.timers, [done]);
    expect(hasCode(await done.catch((e: unknown) => e), ProtocolErrorCode.SINK_FAILED)).toBe(true);
  });

  it.each([
    ['fanout', 5, 'kept'],
    ['fanout', 8, 'ignored'],
    ['unicast', 5, 'ignored'],
    ['unicast', 3, 'kept'],
  ] as const)('%s receiver with window 4 and next 0: frame %i is %s', async (mode, index, fate) => {
    const r = rig(20);
    const stored: number[] = [];
    const receiver = new ChunkReceiver({
      imageId: IMAGE,
      chunkCount: 20,
      mode,
      window: 4,
      firstMissingChunk: 0,
      verifyChunk: () => true,
      sink: (i) => void stored.push(i),
      sendRequest: () => undefined,
      timers: r.timers,
    });
    void receiver.start();
    receiver.handleFrame({ imageTag: imageTag(IMAGE), index, data: r.image[index]! });
    await r.timers.advance(0);
    expect(receiver.stats.ignored).toBe(fate === 'ignored' ? 1 : 0);
    receiver.abort('test over');
  });

  it('fan-out: a repeated request within the in-flight guard does not publish the chunk again', async () => {
    const r = rig(10);
    const published: number[] = [];
    const server = new ChunkServer({
      publish: (_t, p) => void published.push(p.readUInt32BE(12)),
      readChunk: (_id, i) => r.image[i]!,
      timers: r.timers,
      inFlightGuardMs: 250,
    });
    server.addImage(IMAGE, 10);
    const ask = () => server.handleRequest('d1', { v: 1, imageId: IMAGE, mode: 'fanout', next: 0, want: [0, 1] });
    ask();
    await r.timers.advance(10);
    ask(); // the copies are still on their way
    await r.timers.advance(10);
    expect(published).toEqual([0, 1]);
    await r.timers.advance(300);
    ask(); // a real retry, after the guard: they were lost
    await r.timers.advance(10);
    expect(published).toEqual([0, 1, 0, 1]);
  });

  it('fan-out: a chunk published before an expected device first asked is published again when it asks', async () => {
    const r = rig(10);
    const published: number[] = [];
    const server = new ChunkServer({
      publish: (_t, p) => void published.push(p.readUInt32BE(12)),
      readChunk: (_id, i) => r.image[i]!,
      timers: r.timers,
      inFlightGuardMs: 250,
      lingerMs: 10,
    });
    server.addImage(IMAGE, 10);
    server.expectDevices(IMAGE, ['fast', 'late']);
    server.handleRequest('fast', { v: 1, imageId: IMAGE, mode: 'fanout', next: 0, want: [0, 1] });
    await r.timers.advance(10); // the linger ran out waiting for 'late'
    expect(published).toEqual([0, 1]);
    // 'late' subscribed only now, within the guard: those copies never reached it.
    server.handleRequest('late', { v: 1, imageId: IMAGE, mode: 'fanout', next: 0, want: [0, 1] });
    await r.timers.advance(250); // no chunk is published twice within repeatIntervalMs
    expect(published).toEqual([0, 1, 0, 1]);
    // Once both have asked, a repeat within the guard is still suppressed.
    server.handleRequest('late', { v: 1, imageId: IMAGE, mode: 'fanout', next: 0, want: [0, 1] });
    await r.timers.advance(10);
    expect(published).toEqual([0, 1, 0, 1]);
  });

  it('fan-out: devices joining a wave one after another share one re-publish per interval, not one per linger', async () => {
    const r = rig(10);
    const published: number[] = [];
    const server = new ChunkServer({
      publish: (_t, p) => void published.push(p.readUInt32BE(12)),
      readChunk: (_id, i) => r.image[i]!,
      timers: r.timers,
      lingerMs: 10,
      repeatIntervalMs: 200,
    });
    server.addImage(IMAGE, 10);
    // 20 devices subscribe and ask for chunk 0, one every 20 ms (400 ms in all).
    for (let k = 0; k < 20; k++) {
      server.handleRequest(`d${k}`, { v: 1, imageId: IMAGE, mode: 'fanout', next: 0, want: [0] });
      await r.timers.advance(20);
    }
    await r.timers.advance(400);
    // First publish after the linger, then at most one per 200 ms for the newcomers: 3, not 20.
    expect(published).toEqual([0, 0, 0]);
  });

  it('fan-out: a chunk asked for again by a few stragglers goes to each of them alone, by many to the whole wave', async () => {
    const r = rig(10);
    const published: Array<[string, number]> = [];
    const server = new ChunkServer({
      publish: (t, p) => void published.push([t, p.readUInt32BE(12)]),
      readChunk: (_id, i) => r.image[i]!,
      timers: r.timers,
      inFlightGuardMs: 250,
      repeatIntervalMs: 250,
    });
    server.addImage(IMAGE, 10);
    const ids = Array.from({ length: 16 }, (_, k) => `d${k}`);
    server.expectDevices(IMAGE, ids);
    const ask = (id: string, next: number, want: number[]) => server.handleRequest(id, { v: 1, imageId: IMAGE, mode: 'fanout', next, want });
    for (const id of ids) ask(id, 0, [0, 1]);
    await r.timers.advance(10);
    expect(published).toEqual([[imageChunksTopic(IMAGE), 0], [imageChunksTopic(IMAGE), 1]]);
    published.length = 0;
    await r.timers.advance(300);
    // 14 devices stored 0 and 1 and move on; two of 16 (1/8) lost chunk 0: each gets its own copy.
    for (const id of ids.filter((id) => id !== 'd3' && id !== 'd9')) ask(id, 2, [2, 3]);
    ask('d3', 0, [0]);
    ask('d9', 0, [0]);
    await r.timers.advance(10);
    expect(published.sort()).toEqual(
      [[deviceTopic('chunk-data', 'd3'), 0], [deviceTopic('chunk-data', 'd9'), 0], [imageChunksTopic(IMAGE), 2], [imageChunksTopic(IMAGE), 3]].sort(),
    );
    expect(server.stats.repairPublishes).toBe(2);
    // A repeat within the guard is not sent again.
    ask('d3', 0, [0]);
    await r.timers.advance(10);
    expect(published).toHaveLength(4);
    published.length = 0;
    await r.timers.advance(300);
    // Half the wave lost chunk 2, and every device's window covers it: one publish on the stream serves them all.
    for (const id of ids.slice(0, 8)) ask(id, 2, [2]);
    await r.timers.advance(10);
    expect(published).toEqual([[imageChunksTopic(IMAGE), 2]]);
    expect(server.stats.fanoutPublishes).toBe(5);
  });

  it('fan-out: a straggler that lost a frame completes from a repair copy; a chunk the whole wave lost goes on the stream again', async () => {
    const r = rig(20);
    // dev-5 alone loses the stream's first copy of chunk 7; every other device loses the first copy of chunk 12.
    const lost = new Set<string>();
    const loseFirst = (id: string, chunk: number) => (i: number, topic: string) => {
      if (i !== chunk || topic !== imageChunksTopic(IMAGE) || lost.has(id)) return false;
      lost.add(id);
      return true;
    };
    const ids = Array.from({ length: 16 }, (_, k) => `dev-${k}`);
    const devices = ids.map((id, k) => r.addDevice(id, 'fanout', { dropFrame: loseFirst(id, k === 5 ? 7 : 12) }));
    r.server.expectDevices(IMAGE, ids);
    await runUntilSettled(r.timers, devices.map((d) => d.receiver.start()));
    for (const d of devices) expect(d.stored.map(sha)).toEqual(r.image.map(sha));
    expect(lost.size).toBe(16);
    // Chunk 7 once more, to dev-5 alone; chunk 12 once more, on the stream for the other 15.
    expect(r.server.stats.repairPublishes).toBe(1);
    expect(r.server.stats.fanoutPublishes).toBe(21);
  });

  it('unicast: a device repeating its request does not multiply server egress', async () => {
    const r = rig(10);
    const published: number[] = [];
    const server = new ChunkServer({
      publish: (_t, p) => void published.push(p.readUInt32BE(12)),
      readChunk: (_id, i) => r.image[i]!,
      timers: r.timers,
      inFlightGuardMs: 250,
    });
    server.addImage(IMAGE, 10);
    for (let k = 0; k < 50; k++) server.handleRequest('d1', { v: 1, imageId: IMAGE, mode: 'unicast', next: 0, want: [0, 1, 2] });
    await r.timers.advance(10);
    expect(published).toEqual([0, 1, 2]);
    await r.timers.advance(300);
    server.handleRequest('d1', { v: 1, imageId: IMAGE, mode: 'unicast', next: 0, want: [0, 1, 2] });
    await r.timers.advance(10);
    expect(published).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('server refuses requests for unknown images or outside the image', () => {
    const r = rig(10);
    const base = { v: 1 as const, mode: 'unicast' as const };
    expect(r.server.handleRequest('d', { ...base, imageId: 'nope', next: 0, want: [0] })).toBe('unknown-image');
    expect(r.server.handleRequest('d', { ...base, imageId: IMAGE, next: 0, want: [10] })).toBe('bad-range');
    expect(r.server.handleRequest('d', { ...base, imageId: IMAGE, next: 5, want: [4] })).toBe('bad-range');
    expect(r.server.handleRequest('d', { ...base, imageId: IMAGE, next: 11, want: [] })).toBe('bad-range');
    expect(r.server.stats.publishes).toBe(0);
  });
});
