import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasCode } from '@uniota/errors';
import { encodeChunkFrame, imageTag } from '../chunk-frame.ts';
import { ProtocolErrorCode } from '../errors.ts';
import type { ChunkRequest, TransferMode } from '../schemas.ts';
import { ManualTimers } from '../testing/manual-timers.ts';
import { ChunkReceiver } from './chunk-receiver.ts';
import { ChunkServer } from './chunk-server.ts';

/**
 * Whatever a hostile network does to chunk frames (drop, duplicate, corrupt,
 * delay and so reorder), the receiver either stores the exact image in order
 * or fails with a transient error; it never stores a wrong or out-of-order
 * chunk. The network's behaviour is data: one fate per delivered frame.
 */
const IMAGE = 'img-prop';
const CHUNKS = 24;
const SIZE = 512;
const image = Array.from({ length: CHUNKS }, (_, i) => createHash('sha512').update(`c${i}`).digest().subarray(0, SIZE));
const hashes = image.map((c) => createHash('sha256').update(c).digest('hex'));

type Fate = { kind: 'deliver'; delayMs: number } | { kind: 'drop' } | { kind: 'duplicate' } | { kind: 'corrupt' };
const fate: fc.Arbitrary<Fate> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 300 }).map((delayMs) => ({ kind: 'deliver' as const, delayMs })) },
  { weight: 2, arbitrary: fc.constant({ kind: 'drop' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'duplicate' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'corrupt' as const }) },
);

async function run(mode: TransferMode, fates: Fate[], window: number, resumeAt: number) {
  const timers = new ManualTimers();
  let n = 0;
  const stored: number[] = [];
  const slot: Buffer[] = [];
  let receiver: ChunkReceiver | undefined;
  const deliver = (frame: Buffer) => {
    const decoded = { imageTag: frame.subarray(4, 12).toString('hex'), index: frame.readUInt32BE(12), data: frame.subarray(20) };
    receiver?.handleFrame(decoded);
  };
  const server = new ChunkServer({
    timers,
    readChunk: (_id, i) => image[i]!,
    publish: (_topic, frame) => {
      const f = fates[n++ % fates.length]!;
      if (f.kind === 'drop') return;
      if (f.kind === 'corrupt') {
        const bad = Buffer.from(frame);
        bad[bad.length - 1]! ^= 0xff;
        timers.setTimeout(() => deliver(bad), 1);
        return;
      }
      const delay = f.kind === 'deliver' ? f.delayMs : 1;
      timers.setTimeout(() => deliver(frame), delay);
      if (f.kind === 'duplicate') timers.setTimeout(() => deliver(frame), delay + 5);
    },
  });
  server.addImage(IMAGE, CHUNKS);
  receiver = new ChunkReceiver({
    imageId: IMAGE,
    chunkCount: CHUNKS,
    mode,
    window,
    firstMissingChunk: resumeAt,
    verifyChunk: (i, b) => createHash('sha256').update(b).digest('hex') === hashes[i],
    sink: (i, b) => {
      stored.push(i);
      slot[i] = Buffer.from(b);
    },
    sendRequest: (r: ChunkRequest) => void timers.setTimeout(() => server.handleRequest('dev', r), 1),
    timers,
    requestTimeoutMs: 400,
    maxRetries: 6,
  });
  const done = receiver.start().then(
    () => null,
    (e: unknown) => e,
  );
  let result: unknown = 'pending';
  void done.then((r) => (result = r));
  for (let t = 0; t < 120_000 && result === 'pending'; t += 100) await timers.advance(100);
  return { result, stored, slot };
}

describe('chunk transfer under arbitrary loss, duplication, corruption and reordering', () => {
  it('stores the exact image in order, or fails transiently; never stores a bad chunk', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<TransferMode>('unicast', 'fanout'),
        fc.array(fate, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: CHUNKS }),
        async (mode, fates, window, resumeAt) => {
          const { result, stored, slot } = await run(mode, fates, window, resumeAt);
          expect(result).not.toBe('pending');
          // In order, from the resume point, no gaps, no repeats.
          expect(stored).toEqual(Array.from({ length: stored.length }, (_, k) => resumeAt + k));
          for (const i of stored) expect(slot[i]!.equals(image[i]!)).toBe(true);
          if (result === null) {
            expect(stored.length).toBe(CHUNKS - resumeAt);
          } else {
            expect(hasCode(result, ProtocolErrorCode.TRANSFER_TIMEOUT)).toBe(true);
            expect((result as { transient: boolean }).transient).toBe(true);
          }
        },
      ),
      { numRuns: 40, seed: 20261126 },
    );
  });

  it('the frame tag of another image is ignored even with a matching index', async () => {
    const timers = new ManualTimers();
    const stored: number[] = [];
    const r = new ChunkReceiver({
      imageId: IMAGE,
      chunkCount: CHUNKS,
      mode: 'fanout',
      window: 4,
      firstMissingChunk: 0,
      verifyChunk: () => true, // even a lax verifier never sees it
      sink: (i) => void stored.push(i),
      sendRequest: () => undefined,
      timers,
    });
    void r.start();
    const frame = encodeChunkFrame(imageTag('other'), 0, image[0]!);
    r.handleFrame({ imageTag: frame.subarray(4, 12).toString('hex'), index: 0, data: frame.subarray(20) });
    await timers.advance(0);
    expect(stored).toEqual([]);
    expect(r.stats.ignored).toBe(1);
    r.abort('done');
  });
});
