/**
 * Endless and slow data: the attacker is the chunk publisher. An endless
 * stream must never put a byte past the signed length into the slot; a
 * sender trickling valid chunks just fast enough to beat the re-request
 * timeout must be cut off by the minimum-throughput rule, and the retry must
 * resume from the chunks already verified.
 */
import { deviceTopic, encodeChunkFrame } from '@uniota/protocol';
import type { ChunkFrame, ChunkRequest, CommandEnvelope } from '@uniota/protocol';
import { expect } from 'vitest';
import { campaignUnderAttack, reportsOf } from './moves.ts';
import type { AttackRow } from './runner.ts';

const TRAILER = 16 * 1024;

export const dataRows: AttackRow[] = [
  {
    cls: 'endless/slow data',
    attack: 'a chunk stream that never ends: the last chunk keeps growing past the signed length, frames past the last chunk, non-stop',
    expected: 'CHUNK_VERIFY_FAILED',
    mount: async (h, dev) => {
      const legit = h.freshUpdate();
      const chunkCount = legit.payload.length / 2048;
      const last = legit.payload.subarray((chunkCount - 1) * 2048);
      const slotBefore = await dev.slotB();
      const topic = deviceTopic('chunk-data', dev.id);
      let sent = 0;
      let tag = '';
      // Every real chunk but the last goes through; in place of the last the
      // attacker streams without end: the real last chunk with ever more bytes
      // appended, and chunks the manifest does not have.
      const flood = setInterval(() => {
        if (tag === '') return;
        for (let k = 0; k < 4; k++, sent++) {
          const beyond = sent % 2 === 1;
          const data = beyond ? new Uint8Array(2048).fill(0x5a) : Uint8Array.from(Buffer.concat([last, Buffer.alloc(64 * (1 + (sent % 900)), 0x5a)]));
          h.relay.toDevices({ topic, payload: encodeChunkFrame(tag, beyond ? chunkCount + (sent % 1000) : chunkCount - 1, data), retain: false });
        }
      }, 2);
      try {
        const r = await campaignUnderAttack(h, dev, {
          legit,
          chunk: (f: ChunkFrame) => {
            tag = f.imageTag;
            return f.index < chunkCount - 1 ? [f] : [];
          },
        });
        const slotAfter = await dev.slotB();
        const signedPrefix = (chunkCount - 1) * 2048;
        // The verified chunks are in the slot (kept for a resume)...
        expect(Buffer.from(slotAfter.subarray(0, signedPrefix)).equals(Buffer.from(legit.payload.subarray(0, signedPrefix))), 'verified chunks stored').toBe(true);
        // ...and not one byte from the last chunk's offset on: nothing past the signed length, nothing unverified.
        const changed = slotAfter.subarray(signedPrefix, slotAfter.length - TRAILER).findIndex((b, i) => b !== slotBefore[signedPrefix + i]);
        expect(changed, 'first slot byte past the verified chunks that the stream changed').toBe(-1);
        return {
          code: r.code,
          how: `${sent} hostile frames (up to ${2048 + 64 * 900} B each) after ${chunkCount - 1} good chunks; slot holds exactly the ${signedPrefix} verified bytes, nothing past them; action ${r.state}`,
          recorded: [{ in: 'events', code: r.code }],
        };
      } finally {
        clearInterval(flood);
      }
    },
  },
  {
    cls: 'endless/slow data',
    attack: 'a sender that trickles valid chunks (4 KiB/s against a floor of 8 KiB/s) just fast enough to never time out',
    expected: 'PROTOCOL_TRANSFER_TOO_SLOW',
    // Scaled down for a test (a 1.2 s window); production defaults are 512 B/s over 60 s.
    transfer: { window: 4, requestTimeoutMs: 1500, maxRetries: 50, minBytesPerSecond: 8192, throughputWindowMs: 1200 },
    mount: async (h, dev) => {
      const legit = h.freshUpdate({ size: 64 * 1024, chunkSize: 1024 });
      const queue: ChunkFrame[] = [];
      const topic = deviceTopic('chunk-data', dev.id);
      const trickle = setInterval(() => {
        const f = queue.shift();
        if (f !== undefined) h.relay.toDevices({ topic, payload: encodeChunkFrame(f.imageTag, f.index, f.data), retain: false });
      }, 250);
      try {
        const r = await campaignUnderAttack(h, dev, {
          legit,
          retry: { maxAttempts: 2, baseDelayMs: 100 },
          chunk: (f) => {
            if (!queue.some((q) => q.index === f.index)) queue.push(f);
            return [];
          },
        });
        // Per attempt (wire action id), not per message: reports are at-least-once, and a
        // device answers a re-sent offer of an action it already closed by repeating its outcome.
        const outcomes = new Map<string, Set<string>>();
        for (const x of reportsOf(h, dev)) {
          if (x.step.name !== 'failed') continue;
          outcomes.set(x.actionId, (outcomes.get(x.actionId) ?? new Set()).add(x.step.code));
        }
        expect(
          [...outcomes.values()].map((c) => [...c]),
          'both attempts (and only two) aborted by the throughput rule',
        ).toEqual([['PROTOCOL_TRANSFER_TOO_SLOW'], ['PROTOCOL_TRANSFER_TOO_SLOW']]);
        // The retry resumes from the chunks the first attempt verified, not from chunk 0.
        const second = h.relay.down.find((m) => m.topic === deviceTopic('command', dev.id) && (JSON.parse(m.payload.toString()) as CommandEnvelope).actionId.endsWith('.2'));
        const requests = h.relay.up.filter((m) => m.topic === deviceTopic('chunk-request', dev.id));
        const firstRun = requests.filter((m) => (m.at ?? 0) < (second?.at ?? 0)).map((m) => (JSON.parse(m.payload.toString()) as ChunkRequest).next);
        const resumedAt = requests.filter((m) => (m.at ?? 0) > (second?.at ?? Infinity)).map((m) => (JSON.parse(m.payload.toString()) as ChunkRequest).next)[0];
        const stored = Math.max(0, ...firstRun);
        expect(stored, 'chunks the first attempt verified').toBeGreaterThan(0);
        expect(resumedAt, 'first chunk the retry asked for').toBeGreaterThanOrEqual(stored);
        return {
          code: r.code,
          how: `aborted after one 1.2 s window with ${stored}+ of 64 chunks verified; the retry (attempt 2) resumed at chunk ${resumedAt ?? '?'}, not 0, and was aborted again; action ${r.state}`,
          recorded: [{ in: 'events', code: r.code }],
        };
      } finally {
        clearInterval(trickle);
      }
    },
  },
];
