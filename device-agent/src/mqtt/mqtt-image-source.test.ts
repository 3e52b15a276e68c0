import { describe, expect, it } from 'vitest';
import { createBundle, generateKeyPair, parseBundleHeader, signerFromPem } from '@uniota/image';
import { ProtocolErrorCode, imageTag } from '@uniota/protocol';
import type { ChunkRequest, TransferTimers } from '@uniota/protocol';
import { UniotaError } from '@uniota/errors';
import { DEFAULT_MIN_BYTES_PER_SECOND, DEFAULT_THROUGHPUT_WINDOW_MS, MqttImageSource } from './mqtt-image-source.ts';
import type { MqttImageSourceOptions } from './mqtt-image-source.ts';

/** Hand-driven clock: time moves only in advance(), due timers run in order. */
class HandTimers implements TransferTimers {
  t = 1_000_000;
  #seq = 0;
  readonly #due = new Map<number, { at: number; fn: () => void }>();
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    this.#due.set(++this.#seq, { at: this.t + ms, fn });
    return this.#seq;
  };
  clearTimeout = (h: unknown) => void this.#due.delete(h as number);
  /** Runs timers due up to now + ms, letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const next = [...this.#due.entries()].filter(([, d]) => d.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (next === undefined) break;
      this.#due.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
}

const CHUNK = 1024;
const signer = signerFromPem(generateKeyPair().privateKeyPem);

/** A signed bundle of `chunks` chunks of 1 KiB (signatures are not this unit's concern; hashes are). */
function bundle(chunks: number): { header: Uint8Array; payload: Uint8Array } {
  const payload = new Uint8Array(chunks * CHUNK).map((_, i) => (i * 31) & 0xff);
  const b = createBundle(
    { product: 'p', version: '2.0.0', securityCounter: 2, compatibleHardware: ['hw'], createdAt: new Date('2026-01-01T00:00:00Z'), expiresAt: new Date('2036-01-01T00:00:00Z'), chunkSize: CHUNK },
    payload,
    [signer],
  );
  const h = parseBundleHeader(b);
  return { header: b.subarray(0, h.headerLength), payload };
}

/** A source whose requests are recorded; the test plays the (hostile) chunk sender. */
function rig(chunks: number, options: Partial<MqttImageSourceOptions> = {}, planned: { chunkCount?: number; payloadSize?: number; mode?: 'unicast' | 'fanout' } = {}) {
  const timers = new HandTimers();
  const requests: ChunkRequest[] = [];
  const src = new MqttImageSource({ sendRequest: async (r) => void requests.push(r), timers, window: 4, requestTimeoutMs: 2000, maxRetries: 50, ...options });
  const { header, payload } = bundle(chunks);
  src.plan('act', { imageId: 'img', mode: planned.mode ?? 'unicast', chunkCount: planned.chunkCount ?? chunks, payloadSize: planned.payloadSize ?? payload.length, chunkSize: CHUNK, header });
  const stored: Array<{ index: number; length: number }> = [];
  let outcome: unknown = 'running';
  void src.fetch('act', 0, async (index, bytes) => void stored.push({ index, length: bytes.length })).then(
    () => (outcome = 'done'),
    (e: unknown) => (outcome = e),
  );
  const send = (index: number, data: Uint8Array = payload.subarray(index * CHUNK, (index + 1) * CHUNK)) => src.handleFrame({ imageTag: imageTag('img'), index, data });
  return { src, timers, requests, stored, send, payload, outcome: () => outcome };
}

const codeOf = (e: unknown) => (e instanceof UniotaError ? e.code : String(e));

describe('MqttImageSource against a hostile chunk sender', () => {
  it('aborts a sender that trickles valid chunks too slowly to time out, keeping what it verified', async () => {
    // 1 KiB every 1.5 s (~680 B/s) against a floor of 1 KiB/s over 6 s: each
    // chunk arrives before its re-request timeout, so only the throughput rule can stop it.
    const r = rig(64, { minBytesPerSecond: 1024, throughputWindowMs: 6000 });
    for (let i = 0; i < 10 && r.outcome() === 'running'; i++) {
      await r.timers.advance(1500);
      r.send(i);
    }
    await r.timers.advance(1000);
    expect(codeOf(r.outcome())).toBe(ProtocolErrorCode.TRANSFER_TOO_SLOW);
    expect((r.outcome() as UniotaError).transient).toBe(true);
    // Chunks verified before the abort reached the sink in order: the resume point.
    expect(r.stored.length).toBeGreaterThanOrEqual(3);
    expect(r.stored.map((s) => s.index)).toEqual([...Array(r.stored.length).keys()]);
  });

  it('applies the default floor when none is configured: a one-byte-per-second trickle ends within one window', async () => {
    expect(DEFAULT_MIN_BYTES_PER_SECOND).toBeGreaterThan(1);
    const r = rig(8, { requestTimeoutMs: 5000, maxRetries: 1000 });
    const start = r.timers.now();
    // Nothing valid arrives; the attacker keeps one byte a second flowing (a
    // truncated chunk that never verifies), which must not count as progress.
    for (let s = 0; s < DEFAULT_THROUGHPUT_WINDOW_MS / 1000 + 5 && r.outcome() === 'running'; s++) {
      r.send(0, r.payload.subarray(0, 1));
      await r.timers.advance(1000);
    }
    expect(codeOf(r.outcome())).toBe(ProtocolErrorCode.TRANSFER_TOO_SLOW);
    expect(r.timers.now() - start).toBeLessThanOrEqual(DEFAULT_THROUGHPUT_WINDOW_MS + 3000);
    expect(r.stored).toEqual([]);
  });

  it('a healthy sender on a slow but legitimate link is not cut off by the default', async () => {
    // 1 KiB every second: twice the default floor.
    const r = rig(80, { requestTimeoutMs: 5000 });
    for (let i = 0; i < 80; i++) {
      await r.timers.advance(1000);
      r.send(i);
    }
    await r.timers.advance(10);
    expect(r.outcome()).toBe('done');
    expect(r.stored).toHaveLength(80);
  });

  it('never accepts more than the signed length: frames past the last chunk and oversized chunks are dropped', async () => {
    const r = rig(4);
    for (let round = 0; round < 3; round++) {
      for (let i = 4; i < 40; i++) r.send(i, new Uint8Array(CHUNK).fill(0x41));
      r.send(3, new Uint8Array(CHUNK + 512).fill(0x42));
      await r.timers.advance(10);
    }
    for (let i = 0; i < 4; i++) r.send(i);
    await r.timers.advance(10);
    expect(r.outcome()).toBe('done');
    expect(r.stored.map((s) => s.index)).toEqual([0, 1, 2, 3]);
    expect(r.stored.reduce((n, s) => n + s.length, 0)).toBe(r.payload.length);
    expect(Math.max(...r.requests.flatMap((q) => q.want))).toBe(3);
  });

  it('refuses an offer announcing more chunks or bytes than the signed manifest, before requesting anything', async () => {
    for (const planned of [{ chunkCount: 5 }, { payloadSize: 4 * CHUNK + 100 }]) {
      const r = rig(4, {}, planned);
      await r.timers.advance(10);
      expect(codeOf(r.outcome())).toBe('OFFER_MISMATCH');
      expect((r.outcome() as UniotaError).transient).toBe(false);
      expect(r.requests).toEqual([]);
    }
  });

  it('names chunks that keep failing their signed hash, rather than a plain timeout', async () => {
    const r = rig(4, { maxRetries: 2, requestTimeoutMs: 1000 });
    r.send(0);
    for (let i = 0; i < 10 && r.outcome() === 'running'; i++) {
      const flipped = Uint8Array.from(r.payload.subarray(CHUNK, 2 * CHUNK));
      flipped[7] = (flipped[7] ?? 0) ^ 1;
      r.send(1, flipped);
      await r.timers.advance(1000);
    }
    expect(codeOf(r.outcome())).toBe('CHUNK_VERIFY_FAILED');
    expect(r.stored.map((s) => s.index)).toEqual([0]);
  });
});

describe('MqttImageSource on a broker that stops answering (fan-out subscriptions)', () => {
  const never = () => new Promise<void>(() => undefined);

  it('a download whose UNSUBACK never comes still completes (the lifecycle is not held by the broker)', async () => {
    const calls: Array<[string, boolean]> = [];
    const r = rig(4, { onFanout: (id, active) => (calls.push([id, active]), active ? Promise.resolve() : never()) }, { mode: 'fanout' });
    await r.timers.advance(10);
    for (let i = 0; i < 4; i++) r.send(i);
    await r.timers.advance(10);
    expect(r.outcome()).toBe('done');
    expect(calls).toEqual([['img', true], ['img', false]]);
    expect(r.src.download).toBeNull();
  });

  it('a download whose SUBACK never comes starts requesting after subscribeTimeoutMs, not before', async () => {
    const r = rig(4, { onFanout: never, subscribeTimeoutMs: 3000 }, { mode: 'fanout' });
    await r.timers.advance(2900);
    expect(r.requests).toEqual([]);
    expect(r.src.download?.phase).toBe('subscribing');
    await r.timers.advance(200);
    expect(r.requests.length).toBeGreaterThan(0);
    expect(r.src.download?.phase).toBe('receiving');
    for (let i = 0; i < 4; i++) r.send(i);
    await r.timers.advance(10);
    expect(r.outcome()).toBe('done');
  });
});
