/**
 * MQTT attacks that need the agent and the server, run through the five
 * checks here. The broker-level cases (anonymous connect, revoked
 * certificates, ACL escapes, malformed packets) run on both production
 * brokers in ../mqtt-attacks.test.ts and report into the same table.
 */
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { REFUSAL_CODES, RejectCode, deviceTopic, signCommand } from '@uniota/protocol';
import { expect } from 'vitest';
import { until } from '../../helpers/until.ts';
import type { Harness, SuiteDevice } from './harness.ts';
import { refusalEvent } from './moves.ts';
import type { AttackRow } from './runner.ts';

const FLOOD = 2000;
/** The second, much larger flood the memory check runs after the first (the warm-up). */
const BIG_FLOOD = 20_000;
/**
 * Most the heap plus Buffers may grow over BIG_FLOOD refused offers (after a
 * forced GC either side). Measured: see the README (a few hundred KiB, noise of the
 * server, broker and relay sharing this process). 8 MiB is 400 bytes per
 * offer: a refused offer kept anywhere (an envelope is ~2.5 KB) fails it.
 */
const MAX_GROWTH = 8 * 1024 * 1024;

/** A forged offer: signed by a key of the attacker's, claiming the server key's id. */
function forgedOffer(h: Harness, dev: SuiteDevice, header: string, i: number): Buffer {
  const e = signCommand(
    {
      deviceId: dev.id,
      actionId: `${9000 + i}.1`,
      seq: Date.now() * 1000 + i,
      nonce: randomBytes(12).toString('base64url'),
      expiresAt: Date.now() + 60_000,
      body: { type: 'offer', campaignId: '1', imageId: 'f'.repeat(64), header, payloadSize: 16384, chunkSize: 2048, chunkCount: 8, transfer: 'unicast', downloadOnly: false, maintenanceWindow: null },
    },
    h.trust.strangerSigner,
  );
  return Buffer.from(JSON.stringify({ ...e, keyId: h.trust.serverSigner.keyid }));
}

/** Bytes held: the JS heap plus Buffers (a kept MQTT payload is a Buffer, outside the heap). */
function held(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Forces a full garbage collection (twice: weak references and finalizers free more on the second pass). */
function collect(): void {
  setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

/** Waits until the device's bad-signature count stops moving (the flood absorbed); returns it. */
async function absorbed(dev: SuiteDevice, what: string, ms: number): Promise<number> {
  let last = -1;
  return until(
    what,
    () => {
      const n = dev.net.service?.refusedCommands.get('bad-signature') ?? 0;
      const settled = n === last && n > 0;
      last = n;
      return settled ? n : false;
    },
    ms,
    250,
  );
}

export const mqttRows: AttackRow[] = [
  {
    cls: 'MQTT',
    attack: `a flood of ${FLOOD} forged offers on the device's command topic (a publisher with write access but no key), then ${BIG_FLOOD} more with the heap measured`,
    expected: 'bad-signature',
    // About 25 s per broker on the shared 2-core machine under load; room for a slower CI.
    timeoutMs: 180_000,
    mount: async (h, dev) => {
      const topic = deviceTopic('command', dev.id);
      const header = Buffer.from(h.freshUpdate().header).toString('base64');
      const floodAt = Date.now();
      for (let i = 0; i < FLOOD; i++) h.relay.toDevices({ topic, payload: forgedOffer(h, dev, header, i), retain: false });
      // The broker may shed part of a flood (max_queued_messages); every offer that arrives must be refused.
      const refused = await absorbed(dev, 'flood absorbed', 20_000);
      expect(refused).toBeGreaterThanOrEqual(FLOOD / 2);
      // Refused before the lifecycle queue: nothing is waiting behind the flood.
      const idle = await Promise.race([dev.net.service?.idle().then(() => true), new Promise((r) => setTimeout(() => r(false), 200))]);
      expect(idle, 'agent idle right after the flood').toBe(true);
      // The server hears of it, but the flood is not forwarded: one report per code per interval (10 s).
      const ev = await refusalEvent(h, dev, 'bad-signature');
      const reports = h.relay.up.filter((m) => m.topic === deviceTopic('status', dev.id) && m.payload.includes('"refused"'));
      expect(reports.length, 'refusal reports the flood caused').toBeLessThanOrEqual(1 + Math.ceil((Date.now() - floodAt) / 10_000));
      // None of the forged action ids is an action of this device: nothing was failed on their say-so.
      expect(ev.campaignId).toBeNull();

      // No memory growth: the flood above was the warm-up (code compiled, buffers and maps at their
      // working size); a ten times larger one must leave the heap where it was.
      const service = dev.net.service;
      collect();
      const heapBefore = held();
      // Paced by the broker's PUBACKs in batches, so the broker queues (and sheds) little and the
      // device really handles the flood; the payloads are built per batch and dropped after it.
      for (let sent = 0; sent < BIG_FLOOD; ) {
        const batch: Promise<void>[] = [];
        for (let j = 0; j < 500 && sent < BIG_FLOOD; j++, sent++) batch.push(h.relay.toDevicesAcked({ topic, payload: forgedOffer(h, dev, header, FLOOD + sent), retain: false }));
        await Promise.all(batch);
      }
      const refusedBig = (await absorbed(dev, 'big flood absorbed', 150_000)) - refused;
      expect(refusedBig, `refused offers of the ${BIG_FLOOD} flood`).toBeGreaterThanOrEqual(BIG_FLOOD / 2);
      collect();
      const growth = held() - heapBefore;
      expect(growth, `heap + Buffer growth over ${refusedBig} refused offers (bytes)`).toBeLessThan(MAX_GROWTH);
      // The agent's structures a refusal touches and a test can reach stay at their size: one counter per
      // reason (the guard keeps only the last accepted sequence number, no set of seen commands).
      expect(service?.refusedCommands.size ?? 0).toBeLessThanOrEqual(REFUSAL_CODES.length);
      expect(Object.keys(service?.rejections.snapshot() ?? {}).length).toBeLessThanOrEqual(Object.keys(RejectCode).length);
      const idleAgain = await Promise.race([service?.idle().then(() => true), new Promise((r) => setTimeout(() => r(false), 200))]);
      expect(idleAgain, 'agent idle right after the big flood').toBe(true);
      const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
      return {
        code: 'bad-signature',
        how: `${refused} of ${FLOOD} delivered and refused by the command guard before the lifecycle queue (nothing kept per refused command); agent idle at once; ${reports.length} throttled refusal report(s) to the server; then ${refusedBig} of ${BIG_FLOOD} more refused with heap + Buffer growth ${kib(growth)} after GC (bound ${kib(MAX_GROWTH)})`,
        recorded: [{ in: 'device', code: 'bad-signature' }, { in: 'events', code: 'bad-signature' }],
      };
    },
  },
];
