/**
 * Fuzzing of the device agent's MQTT handlers, in process: the real
 * AgentService (its MqttLink decodes, validates and dispatches) on a
 * simulated device whose disk records every write, fed by a fake MQTT client
 * instead of a broker. Two targets of 100,000 inputs each:
 *
 *  - command: everything that can arrive on the command topic (raw junk,
 *    mutants of signed envelopes, other topics), and offers and cancels that
 *    ARE signed by the server-role key but carry a mutated bundle header: the
 *    online key alone must not get anything installed;
 *  - chunks: frames on the unicast and fan-out chunk topics while a download
 *    is running (raw, mutated valid frames, wrong tags and indices).
 *
 * After every input: no exception escaped a handler or a queued step, no
 * write or flush reached the disk (a signed command may only journal its
 * sequence number, in the data partition), and the journal state is
 * unchanged. After each target the slots and both env copies are
 * byte-identical to before.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { deviceTopic, encodeChunkFrame, imageChunksTopic, imageTag, signCommand } from '@uniota/protocol';
import type { CommandBody, CommandEnvelope } from '@uniota/protocol';
import { ImageErrorCode, encodeBundleHeader, parseBundleHeader, signManifestBytes, verifyManifest } from '@uniota/image';
import { AgentErrorCode } from '@uniota/device-agent';
import { TEST_HARDWARE, TEST_NOW, makeBundle, makeTrust } from '../../helpers/fixtures.ts';
import { base64Mutant, byteMutant, deeplyNested, jsonMutant, rawBytes, rawText, split, valueMutant } from './arbitraries.ts';
import { fuzzAsync } from './harness.ts';
import type { Verdict } from './harness.ts';
import { prototypePollution } from './checks.ts';
import { startFuzzDevice } from './device.ts';
import type { FuzzDevice } from './device.ts';

vi.mock('mqtt', async () => (await import('./fake-mqtt.ts')).fakeMqttModule);

/** Inputs per target; UNIOTA_FUZZ_INPUTS lowers it for a quick local run, CI uses the default. */
const INPUTS = Number(process.env.UNIOTA_FUZZ_INPUTS ?? 100_000);
/** Generous: the machine running CI is shared; an idle 2-core machine needs a fraction of this. */
const TIMEOUT_MS = 900_000;
const trust = makeTrust();
const NOW = TEST_NOW.getTime();
const update = makeBundle(trust, { version: '2.0.0', behaviour: 'ok', securityCounter: 2, size: 8 * 1024, chunkSize: 1024 });
const updateHeader = parseBundleHeader(update);
const headerBytes = Buffer.from(update.subarray(0, updateHeader.headerLength));
const manifestValue = JSON.parse(Buffer.from(updateHeader.manifestBytes).toString('utf8')) as unknown;
const IMAGE_ID = createHash('sha256').update(update).digest('hex');

let seq = 1_000;
function envelope(deviceId: string, actionId: string, body: CommandBody, expiresAt = NOW + 60_000): CommandEnvelope {
  seq += 1;
  return signCommand({ deviceId, actionId, seq, nonce: `fuzz-nonce-${seq}`.padEnd(16, 'x'), expiresAt, body }, trust.serverSigner);
}

function offerBody(header: string, extra: Partial<Extract<CommandBody, { type: 'offer' }>> = {}): CommandBody {
  return { type: 'offer', campaignId: 'c-fuzz', imageId: IMAGE_ID, header, payloadSize: 8 * 1024, chunkSize: 1024, chunkCount: 8, transfer: 'fanout', downloadOnly: false, maintenanceWindow: null, ...extra };
}

/** True when these header bytes would pass the device's own checks (then the offer is legitimate, not a fuzz input). */
function installable(bytes: Uint8Array): boolean {
  try {
    verifyManifest(parseBundleHeader(bytes), trust.root, { hardware: TEST_HARDWARE, minSecurityCounter: 1, now: TEST_NOW });
    return true;
  } catch {
    return false;
  }
}

/** Bundle headers that must never be installed: mutated bytes, or a changed manifest signed by the server key. */
const badHeader: fc.Arbitrary<string> = fc.oneof(
  byteMutant(headerBytes, { extend: false }).filter((b) => !installable(b)).map((b) => b.toString('base64')),
  base64Mutant(headerBytes.toString('base64')).filter((s) => !installable(Buffer.from(s, 'base64'))),
  jsonMutant(manifestValue).filter((m) => m.length > 0).map((m) => Buffer.from(encodeBundleHeader({ manifestBytes: m, signatures: signManifestBytes(m, [trust.serverSigner]) })).toString('base64')),
  rawBytes(256).map((b) => b.toString('base64')),
);

interface Input {
  topic: string;
  payload: Buffer;
  /** Signed by the server key for this device: may journal its sequence number, and must be answered with a failure report. */
  signed: { actionId: string; type: 'offer' | 'cancel' } | null;
}

/** Codes a device may report for a refused offer: the image package's and the agent's own. */
const documentedCodes = new Set<string>([...Object.values(ImageErrorCode), ...Object.values(AgentErrorCode)]);

const unsigned = (topic: string) => (payload: Buffer): Input => ({ topic, payload, signed: null });

/** One verdict per input: no failure logged, no write outside what the input may touch, state unchanged. */
async function deliver(dev: FuzzDevice, input: Input, settle: () => Promise<void>): Promise<Verdict> {
  const writesBefore = dev.disk.writes.length;
  const flushesBefore = dev.disk.flushes;
  const stateBefore = dev.stateWithoutSeq();
  const seqBefore = dev.service.agent.lastCommandSeq;
  const rejectedBefore = dev.service.rejections.total();
  const refusedBefore = [...dev.service.refusedCommands.values()].reduce((a, b) => a + b, 0);
  const publishedBefore = dev.client.published.length;
  try {
    dev.client.deliver(input.topic, input.payload);
  } catch (err) {
    return { ok: false, kind: 'crash', detail: `delivery threw: ${String(err)}` };
  }
  await settle();
  if (dev.failures.length > 0) return { ok: false, kind: 'crash', detail: dev.failures.join('\n') };
  const polluted = prototypePollution();
  if (polluted !== null) return { ok: false, kind: 'state-change', detail: polluted };
  if (dev.stateWithoutSeq() !== stateBefore) return { ok: false, kind: 'state-change', detail: `journal state changed: ${dev.stateWithoutSeq()}` };
  if (dev.reboots > 0) return { ok: false, kind: 'state-change', detail: 'the device rebooted' };
  const writes = dev.disk.writes.slice(writesBefore);
  const data = dev.layout.data;
  const outsideJournal = writes.filter((w) => w.offset < data.offset || w.offset + w.length > data.offset + data.length);
  if (input.signed === null && (writes.length > 0 || dev.disk.flushes !== flushesBefore || dev.service.agent.lastCommandSeq !== seqBefore)) {
    return { ok: false, kind: 'state-change', detail: `${writes.length} writes, ${dev.disk.flushes - flushesBefore} flushes for an unsigned input` };
  }
  if (outsideJournal.length > 0) return { ok: false, kind: 'state-change', detail: `wrote outside the journal at ${outsideJournal.map((w) => w.offset).join(', ')}` };
  if (dev.service.rejections.total() > rejectedBefore) return { ok: true, outcome: 'dropped by the link' };
  const refused = [...dev.service.refusedCommands.values()].reduce((a, b) => a + b, 0);
  if (refused > refusedBefore) return { ok: true, outcome: 'refused by the command guard' };
  if (input.signed?.type === 'offer') {
    // The operator must learn why: a failed report for exactly this action.
    const reports = dev.client.published.slice(publishedBefore).filter((p) => p.topic === deviceTopic('status', dev.deviceId)).map((p) => JSON.parse(p.payload.toString()) as { actionId: string; step: { name: string; code?: string } });
    const failed = reports.find((r) => r.actionId === input.signed?.actionId && r.step.name === 'failed');
    if (failed === undefined) return { ok: false, kind: 'state-change', detail: `a signed bad offer got no failed report (${JSON.stringify(reports)})` };
    // The code is a documented one; OFFER_INVALID would mean a plain exception escaped verification.
    if (!documentedCodes.has(failed.step.code ?? '')) return { ok: false, kind: 'crash', detail: `offer refused with undocumented code ${failed.step.code ?? '(none)'}` };
    return { ok: true, outcome: `signed offer rejected: ${failed.step.code ?? '?'}` };
  }
  if (input.signed?.type === 'cancel') return { ok: true, outcome: 'signed cancel of nothing' };
  return { ok: true, outcome: 'ignored' };
}

const devices: FuzzDevice[] = [];
afterAll(async () => {
  for (const d of devices) await d.service.stop();
});

describe('fuzz: device agent MQTT handlers', () => {
  it('command topic: 100,000 inputs change nothing; signed offers with bad headers are refused and reported', async () => {
    const dev = await startFuzzDevice(trust, 'fuzz-dev-cmd');
    devices.push(dev);
    const cmd = deviceTopic('command', dev.deviceId);
    const before = await dev.digest();
    // Bases the device must refuse however they are mutated: expired, or addressed to another device.
    const expired = envelope(dev.deviceId, 'act-expired', offerBody(headerBytes.toString('base64')), NOW - 1);
    const foreign = envelope('fuzz-dev-other', 'act-foreign', offerBody(headerBytes.toString('base64')));
    const expiredCancel = envelope(dev.deviceId, 'act-cancel', { type: 'cancel', campaignId: 'c-fuzz', reason: 'fuzz' }, NOW - 1);
    const otherTopics = fc.oneof(
      fc.constantFrom(deviceTopic('hello', dev.deviceId), deviceTopic('status', dev.deviceId), deviceTopic('online', dev.deviceId), deviceTopic('chunk-request', dev.deviceId), deviceTopic('command', 'fuzz-dev-other'), 'uniota/v1/devices/fuzz-dev-cmd/nope', 'uniota/v1/devices/+/cmd', '#', ''),
      fc.string({ maxLength: 80 }),
    );
    const [raw, text, nested, mutants, foreignMutants, cancels, signedOffers, signedBodies, signedCancels, topics] = split(INPUTS, 10) as number[] as [number, number, number, number, number, number, number, number, number, number];
    let n = 0;
    const totals = await fuzzAsync<Input>(
      'agent-command',
      0xa6e47,
      [
        { name: 'raw bytes', runs: raw, arb: rawBytes(2048).map(unsigned(cmd)) },
        { name: 'raw text', runs: text, arb: rawText(2048).map(unsigned(cmd)) },
        { name: 'deep nesting and oversized', runs: nested, arb: fc.oneof(fc.integer({ min: 100, max: 50_000 }).map((d) => Buffer.from(deeplyNested(d))), fc.integer({ min: 368_000, max: 600_000 }).map((len) => Buffer.from(JSON.stringify({ ...expired, pad: 'x'.repeat(len) })))).map(unsigned(cmd)) },
        { name: 'mutated expired offer', runs: mutants, arb: jsonMutant(expired).map(unsigned(cmd)) },
        { name: 'mutated foreign offer', runs: foreignMutants, arb: jsonMutant(foreign).map(unsigned(cmd)) },
        { name: 'mutated expired cancel', runs: cancels, arb: jsonMutant(expiredCancel).map(unsigned(cmd)) },
        {
          name: 'server-signed offer, bad header',
          runs: signedOffers,
          arb: badHeader.map((h) => {
            const actionId = `act-s${(n += 1)}`;
            return { topic: cmd, payload: Buffer.from(JSON.stringify(envelope(dev.deviceId, actionId, offerBody(h)))), signed: { actionId, type: 'offer' as const } };
          }),
        },
        {
          // Every other body field fuzzed too; signed after mutation, so only the decoder and the agent stand in the way.
          name: 'server-signed mutated offer body, bad header',
          runs: signedBodies,
          arb: fc.tuple(badHeader, valueMutant(offerBody('AAAA'))).map(([h, body]) => {
            const actionId = `act-b${(n += 1)}`;
            const b = (typeof body === 'object' && body !== null && !Array.isArray(body) ? { ...body, header: h } : body) as CommandBody;
            let env: unknown;
            try {
              env = envelope(dev.deviceId, actionId, b);
            } catch {
              // Not signable (not JSON-canonicalizable): send it unsigned.
              env = { ...expired, body: b };
            }
            return { topic: cmd, payload: Buffer.from(JSON.stringify(env) ?? 'null'), signed: { actionId, type: 'offer' as const } };
          }),
        },
        {
          name: 'server-signed cancel of an unknown action',
          runs: signedCancels,
          arb: fc.tuple(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ maxLength: 600 })).map(([actionId, reason]) => ({
            topic: cmd,
            payload: Buffer.from(JSON.stringify(envelope(dev.deviceId, actionId, { type: 'cancel', campaignId: 'c-fuzz', reason }))),
            signed: { actionId, type: 'cancel' as const },
          })),
        },
        { name: 'other and malformed topics', runs: topics, arb: fc.tuple(otherTopics, fc.oneof(rawBytes(256), jsonMutant(expired))).map(([topic, payload]) => ({ topic, payload, signed: null })) },
      ],
      async (input) => {
        const v = await deliver(dev, input, () => dev.service.idle());
        // A mutated body that the decoder refused is an unsigned-like drop; its verdict already says so.
        if (dev.client.published.length > 10_000) dev.client.published.length = 0;
        return v;
      },
    );
    expect(totals.inputs).toBe(INPUTS);
    const after = await dev.digest();
    expect({ slotA: after.slotA, slotB: after.slotB, env: after.env }).toEqual({ slotA: before.slotA, slotB: before.slotB, env: before.env });
    expect(dev.service.agent.state.state).toBe('idle');
  }, TIMEOUT_MS);

  it('chunk topics during a download: 100,000 frames write nothing', async () => {
    const dev = await startFuzzDevice(trust, 'fuzz-dev-chunks');
    devices.push(dev);
    // Start a real fan-out download and leave it waiting for chunks.
    dev.client.deliver(deviceTopic('command', dev.deviceId), Buffer.from(JSON.stringify(envelope(dev.deviceId, 'act-download', offerBody(headerBytes.toString('base64'))))));
    for (let i = 0; i < 200 && !dev.client.published.some((p) => p.topic === deviceTopic('chunk-request', dev.deviceId)); i++) await new Promise((r) => setImmediate(r));
    expect(dev.service.agent.state.state).toBe('downloading');
    const before = await dev.digest();
    const writesAtStart = dev.disk.writes.length;
    const tag = imageTag(IMAGE_ID);
    const chunk = (i: number) => update.subarray(updateHeader.headerLength + i * 1024, updateHeader.headerLength + (i + 1) * 1024);
    const validFrames = Array.from({ length: 8 }, (_, i) => encodeChunkFrame(tag, i, chunk(i)));
    const topic = fc.constantFrom(deviceTopic('chunk-data', dev.deviceId), imageChunksTopic(IMAGE_ID));
    const frame = (t: string, index: number, data: Uint8Array) => {
      const f = Buffer.alloc(20 + data.length);
      f.write('UC', 0, 'latin1');
      f[2] = 1;
      f.write(t, 4, 'hex');
      f.writeUInt32BE(index >>> 0, 12);
      f.writeUInt32BE(data.length, 16);
      Buffer.from(data).copy(f, 20);
      return f;
    };
    const structured = fc
      .tuple(
        fc.oneof(fc.constant(tag), fc.constant(imageTag('another-image')), fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 16, maxLength: 16 })),
        fc.oneof(fc.nat({ max: 9 }), fc.constantFrom(0xffffffff, 0x7fffffff, 8, 1 << 24)),
        fc.oneof(
          // A real chunk with damage, a real chunk under another index, random data, sizes at the limits.
          fc.tuple(fc.nat({ max: 7 }), fc.nat({ max: 1023 }), fc.integer({ min: 1, max: 255 })).map(([i, at, mask]) => {
            const c = Buffer.from(chunk(i));
            c[at] = (c[at] as number) ^ mask;
            return c;
          }),
          fc.nat({ max: 7 }).map((i) => Buffer.from(chunk(i))),
          fc.uint8Array({ minLength: 1, maxLength: 1100 }),
          fc.constantFrom(new Uint8Array(1), new Uint8Array(1023), new Uint8Array(1025), new Uint8Array(262_144)),
        ),
      )
      // An undamaged chunk under its own index is a legitimate frame, not a fuzz input.
      .filter(([t, index, data]) => !(t === tag && index < 8 && Buffer.from(data).equals(Buffer.from(chunk(index)))))
      .map(([t, index, data]) => frame(t, index, data));
    const [raw, mutants, built, json] = split(INPUTS, 4) as [number, number, number, number];
    const settle = async () => {
      // Chunk verification runs after an await: let it finish before judging.
      await new Promise((r) => setImmediate(r));
    };
    const totals = await fuzzAsync<Input>(
      'agent-chunks',
      0xc4c5,
      [
        { name: 'raw bytes', runs: raw, arb: fc.tuple(topic, fc.oneof(rawBytes(2048), rawBytes(30).map((b) => Buffer.concat([Buffer.from('UC'), b])))).map(([t, p]) => ({ topic: t, payload: p, signed: null })) },
        { name: 'mutated valid frames', runs: mutants, arb: fc.tuple(topic, fc.nat({ max: 7 }).chain((i) => byteMutant(validFrames[i] as Buffer))).map(([t, p]) => ({ topic: t, payload: p, signed: null })) },
        { name: 'built frames: wrong tag, index, data, size', runs: built, arb: fc.tuple(topic, structured).map(([t, p]) => ({ topic: t, payload: p, signed: null })) },
        { name: 'JSON and text on chunk topics', runs: json, arb: fc.tuple(topic, fc.oneof(jsonMutant({ v: 1, imageId: IMAGE_ID, index: 0, data: 'AAAA' }), rawText(200))).map(([t, p]) => ({ topic: t, payload: p, signed: null })) },
      ],
      async (input) => {
        const v = await deliver(dev, input, settle);
        if (dev.client.published.length > 10_000) dev.client.published.length = 0;
        return v;
      },
    );
    expect(totals.inputs).toBe(INPUTS);
    expect(dev.disk.writes.length).toBe(writesAtStart);
    expect(await dev.digest()).toEqual(before);
    expect(dev.service.agent.state.state).toBe('downloading');
  }, TIMEOUT_MS);
});
