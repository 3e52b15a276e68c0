/**
 * Fuzzing of the update server's MQTT handlers, in process: the real
 * MqttGateway (its MqttLink decodes, validates and dispatches) feeding the
 * real CampaignEngine over an in-memory SQLite database, with a running
 * campaign whose first wave was offered, and a fake MQTT client instead of a
 * broker. One target of 100,000 inputs per device->server handler: hello,
 * online, status, chunk-request, and the refusal report (a second message
 * kind on the status topic, recorded as `device.refused` events).
 *
 * The judgement, per input: no exception escaped a handler; an input the
 * protocol decoder refuses is counted as a rejection and changes no row
 * (SQLite's change counter stays put). Mutants of valid messages are often
 * still valid (another timestamp, another step) and may legitimately change
 * the fleet, so after the run a twin server that got ONLY the valid inputs,
 * in the same order, must hold exactly the same rows in every table: the
 * invalid ones added nothing but the rejection counter.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { REFUSAL_CODES, STEP_NAMES, allDevicesFilter, decodeMessage, deviceTopic, imageChunksTopic, type DecodedMessage } from '@uniota/protocol';
import type { Hello, RefusalReport, StatusReport } from '@uniota/protocol';
import { parseBundleHeader } from '@uniota/image';
import { openDb } from '../../../update-server/src/db/open.ts';
import type { Db } from '../../../update-server/src/db/open.ts';
import { CampaignEngine } from '../../../update-server/src/campaign/engine.ts';
import { MqttGateway } from '../../../update-server/src/gateway/mqtt-gateway.ts';
import { sha256Hex } from '../../../update-server/src/images/blob-store.ts';
import type { BlobStore } from '../../../update-server/src/images/blob-store.ts';
import { TEST_HARDWARE, TEST_NOW, makeBundle, makeTrust } from '../../helpers/fixtures.ts';
import { deeplyNested, jsonMutant, rawBytes, rawText, split } from './arbitraries.ts';
import { fuzzAsync } from './harness.ts';
import type { Verdict } from './harness.ts';
import { prototypePollution } from './checks.ts';
import { clients } from './fake-mqtt.ts';
import type { FakeMqttClient } from './fake-mqtt.ts';

vi.mock('mqtt', async () => (await import('./fake-mqtt.ts')).fakeMqttModule);

/** Inputs per target; UNIOTA_FUZZ_INPUTS lowers it for a quick local run, CI uses the default. */
const INPUTS = Number(process.env.UNIOTA_FUZZ_INPUTS ?? 100_000);
/** Generous: the machine running CI is shared; an idle 2-core machine needs a fraction of this. */
const TIMEOUT_MS = 900_000;
const trust = makeTrust();
const NOW = TEST_NOW.getTime();
const bundle = makeBundle(trust, { version: '2.0.0', behaviour: 'ok', securityCounter: 2, size: 8 * 1024, chunkSize: 1024 });
const manifest = JSON.parse(Buffer.from(parseBundleHeader(bundle).manifestBytes).toString('utf8')) as { payload: { size: number } };
const IMAGE_ID = sha256Hex(bundle);
const DEVICES = ['dev-000', 'dev-001', 'dev-002', 'dev-003'];

interface FuzzServer {
  /** The server's clock (gateway and engine); only the refusal target moves it. */
  clock: { ms: number };
  db: Db;
  gateway: MqttGateway;
  client: FakeMqttClient;
  failures: string[];
  /** Rows changed since the connection opened (SQLite total_changes()). */
  changes(): number;
  dump(): Record<string, unknown[]>;
}

function hello(deviceId: string): Hello {
  return { v: 1, deviceId, hardware: TEST_HARDWARE, agentVersion: '0.1.0', runningSlot: 'a', slots: { a: { version: '1.0.0', bootable: true }, b: { version: null, bootable: false } }, lastCommandSeq: 0, trial: false };
}

let serverCount = 0;
/** A server with four registered devices and a campaign whose canary (dev-000, dev-001) has been offered the image. */
async function startServer(): Promise<FuzzServer> {
  const db = openDb({ path: ':memory:' });
  const blobs = new Map<string, Uint8Array>();
  const store: BlobStore = { put: (b) => (blobs.set(sha256Hex(b), b), sha256Hex(b)), get: (h) => blobs.get(h) };
  store.put(bundle);
  const failures: string[] = [];
  const clock = { ms: NOW };
  const clientId = `fuzz-server-${(serverCount += 1)}`;
  const gateway = new MqttGateway({
    brokerUrl: 'mqtt://in-process',
    clientId,
    signer: trust.serverSigner,
    blobs: store,
    now: () => clock.ms,
    ingestEveryMs: 0,
    logger: { warn: (obj, msg) => void (msg === 'gateway handler failed' || msg === 'offer resend failed' ? failures.push(`${msg}: ${JSON.stringify(obj)}`) : undefined) },
  });
  const engine = new CampaignEngine({ db, gateway, clock: () => clock.ms });
  engine.images.insert({ id: IMAGE_ID, version: '2.0.0', compatible: [TEST_HARDWARE], size: manifest.payload.size, manifest, devSigned: false, uploadedAt: NOW });
  await gateway.start(engine);
  const client = clients.get(clientId) as FakeMqttClient;
  for (const id of DEVICES) client.deliver(deviceTopic('hello', id), Buffer.from(JSON.stringify(hello(id))));
  // Hellos are ingested in batches (fe483b0): the campaign needs them registered first.
  while (DEVICES.some((id) => engine.devices.get(id) === undefined)) await new Promise((r) => setTimeout(r, 5));
  engine.createCampaign(
    { name: 'fuzz', imageId: IMAGE_ID, target: { hardware: [TEST_HARDWARE] }, waves: { canary: 2, percents: [100] }, concurrency: 10, timeoutMs: 600_000, retry: { maxAttempts: 3, baseDelayMs: 1000, factor: 2, maxDelayMs: 10_000 } },
    'fuzz',
  );
  await engine.tick();
  const totalChanges = db.prepare('SELECT total_changes() AS n');
  // Every table but the migration log (it records when each server was created).
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'schema_migrations' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
  return {
    clock,
    db,
    gateway,
    client,
    failures,
    changes: () => (totalChanges.get() as { n: number }).n,
    dump: () => Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all()])),
  };
}

interface Input {
  topic: string;
  payload: Buffer;
  /** The server's clock when it gets the message (the twin gets it at the same time); default: unchanged. */
  atMs?: number;
}

/** Delivers one message, lets the batched ingest run (its timer is faked) and the handlers' async tails settle. */
async function deliverAndFlush(s: FuzzServer, input: Input): Promise<void> {
  if (input.atMs !== undefined) s.clock.ms = input.atMs;
  s.client.deliver(input.topic, input.payload);
  vi.runOnlyPendingTimers();
  await new Promise((r) => setImmediate(r));
}

/**
 * Delivers one input and applies the checks every target shares: no crash,
 * no prototype pollution, and a refused input changes no row and is counted
 * as exactly one rejection. Returns the verdict when that settles it, else
 * the decoded valid message for the target's own checks.
 */
async function deliverAndCheck(s: FuzzServer, input: Input, onRefused: () => void): Promise<Verdict | { valid: DecodedMessage }> {
  const changesBefore = s.changes();
  const rejectedBefore = s.gateway.rejections.total();
  try {
    await deliverAndFlush(s, input);
  } catch (err) {
    return { ok: false, kind: 'crash', detail: `delivery threw: ${String(err)}` };
  }
  if (s.failures.length > 0) return { ok: false, kind: 'crash', detail: s.failures.join('\n') };
  const polluted = prototypePollution();
  if (polluted !== null) return { ok: false, kind: 'state-change', detail: polluted };
  if (s.client.published.length > 10_000) s.client.published.length = 0;
  const decoded = decodeMessage(input.topic, input.payload);
  if (!decoded.ok) {
    onRefused();
    if (s.changes() !== changesBefore) return { ok: false, kind: 'state-change', detail: `a refused ${decoded.reason} input changed ${s.changes() - changesBefore} rows` };
    if (s.gateway.rejections.total() !== rejectedBefore + 1) return { ok: false, kind: 'state-change', detail: 'a refused input was not counted as a rejection' };
    return { ok: true, outcome: `refused: ${decoded.reason}` };
  }
  return { valid: decoded };
}

/** Device ids the schema allows: known, unknown, odd but legal. */
const deviceId = fc.oneof(
  fc.constantFrom(...DEVICES, 'dev-new', 'DEV-000', 'dev-000 ', '\u{1F600}', 'a'.repeat(128), '__proto__', 'constructor', '.', '-'),
  fc.string({ minLength: 1, maxLength: 16 }).filter((id) => /^[^+#/\u0000$][^+#/\u0000]*$/.test(id)),
);
const count = fc.oneof(fc.constantFrom(0, 1, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER), fc.nat());
const epochMs = fc.oneof(fc.constantFrom(0, NOW, NOW + 1, NOW - 1, 8_640_000_000_000_000), fc.integer({ min: 0, max: 2 ** 48 }));
const text = (max: number) => fc.oneof(fc.string({ maxLength: max }), fc.string({ unit: 'grapheme', maxLength: Math.floor(max / 4) }), fc.constantFrom('', '1.0.0', '2.0.0', '<script>alert(1)</script>', "'; DROP TABLE devices; --"));
const slotInfo = fc.record({ version: fc.option(text(64), { nil: null }), bootable: fc.boolean() });

/**
 * Messages the schema accepts but that make no sense: unknown actions and
 * campaigns, steps out of order, epochs at the limits, SQL and HTML in
 * strings, windows far beyond the image. They reach the engine, so they are
 * where a handler (not the decoder) must hold.
 */
function oddButValid(kind: 'hello' | 'online' | 'status' | 'chunk-request', actionId: string): fc.Arbitrary<Input> {
  const msg = (id: string, m: unknown): Input => ({ topic: deviceTopic(kind, id), payload: Buffer.from(JSON.stringify(m)) });
  switch (kind) {
    case 'hello':
      return fc
        .tuple(deviceId, text(64), text(64), fc.constantFrom('a' as const, 'b' as const), slotInfo, slotInfo, count, fc.option(fc.boolean(), { nil: undefined }))
        .map(([id, hardware, agentVersion, runningSlot, a, b, lastCommandSeq, trial]) => msg(id, { v: 1, deviceId: id, hardware, agentVersion, runningSlot, slots: { a, b }, lastCommandSeq, ...(trial === undefined ? {} : { trial }) }));
    case 'online':
      return fc.tuple(deviceId, fc.boolean(), fc.option(epochMs, { nil: undefined })).map(([id, online, at]) => msg(id, { v: 1, online, ...(at === undefined ? {} : { at }) }));
    case 'status': {
      const step = fc.oneof(
        fc.constantFrom(...STEP_NAMES.filter((n) => n !== 'downloading' && n !== 'failed')).map((name) => ({ name })),
        fc.record({ name: fc.constant('downloading'), progress: fc.record({ chunksDone: count, chunkCount: count }) }),
        fc.record({ name: fc.constant('failed'), code: fc.oneof(fc.constantFrom('SIGNATURE_INVALID', 'HARDWARE_INCOMPATIBLE', 'PROTOCOL_TRANSFER_TIMEOUT', 'CANCELLED', 'BUSY', ''), text(64)), reason: text(512), transient: fc.boolean() }),
      );
      const action = fc.oneof(fc.constantFrom(actionId, '1.1', '2.1', '1.2', '3.1', '0.0', '1.0', '999999999999999.999999999', '01.1', '1.1.1', '-1.1'), fc.string({ minLength: 1, maxLength: 20 }).filter((id) => /^[^+#/\u0000$][^+#/\u0000]*$/.test(id)));
      return fc
        .tuple(fc.constantFrom(...DEVICES, 'dev-999'), fc.constantFrom('1', '2', 'x'), action, epochMs, step)
        .map(([id, campaignId, a, at, st]) => msg(id, { v: 1, deviceId: id, campaignId, actionId: a, at, step: st }));
    }
    case 'chunk-request': {
      const index = fc.oneof(fc.nat({ max: 9 }), fc.constantFrom(16_777_216, 16_777_215, 1 << 20));
      return fc
        .tuple(fc.constantFrom(...DEVICES, 'dev-999'), fc.oneof(fc.constant(IMAGE_ID), deviceId), fc.constantFrom('fanout' as const, 'unicast' as const), index, fc.array(index, { maxLength: 256 }))
        .map(([id, imageId, mode, next, want]) => msg(id, { v: 1, imageId, mode, next, want }));
    }
  }
}

const started: FuzzServer[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const s of started.splice(0)) {
    await s.gateway.stop();
    s.db.close();
  }
});

/** A valid message of each kind, from a device of the offered canary. */
function validMessages(offeredActionId: string): Record<'hello' | 'online' | 'status' | 'chunk-request', { topic: string; message: unknown }> {
  const status: StatusReport = { v: 1, deviceId: 'dev-000', campaignId: '1', actionId: offeredActionId, at: NOW + 1, step: { name: 'downloading', progress: { chunksDone: 3, chunkCount: 8 } } };
  return {
    hello: { topic: deviceTopic('hello', 'dev-000'), message: { ...hello('dev-000'), slots: { a: { version: '1.0.0', bootable: true }, b: { version: '2.0.0', bootable: true } } } },
    online: { topic: deviceTopic('online', 'dev-001'), message: { v: 1, online: false, at: NOW } },
    status: { topic: deviceTopic('status', 'dev-000'), message: status },
    'chunk-request': { topic: deviceTopic('chunk-request', 'dev-001'), message: { v: 1, imageId: IMAGE_ID, mode: 'fanout', next: 0, want: [0, 1, 2, 3] } },
  };
}

const oddTopic = (kind: 'hello' | 'online' | 'status' | 'chunk-request'): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom(deviceTopic(kind, 'dev-001'), deviceTopic(kind, 'dev-999'), deviceTopic('command', 'dev-000'), deviceTopic('chunk-data', 'dev-000'), imageChunksTopic(IMAGE_ID), allDevicesFilter(kind), `uniota/v1/devices/dev-000/${kind}/x`, `uniota/v2/devices/dev-000/${kind}`, ''),
    fc.string({ maxLength: 20 }).map((id) => `uniota/v1/devices/${id}/${kind === 'chunk-request' ? 'chunks/req' : kind}`),
    fc.string({ unit: 'binary', maxLength: 80 }),
  );

describe('fuzz: update server MQTT handlers', () => {
  it.each(['hello', 'online', 'status', 'chunk-request'] as const)('%s: 100,000 inputs; invalid ones change no row, valid ones exactly what a clean server does', async (kind) => {
    const fuzzed = await startServer();
    const twin = await startServer();
    started.push(fuzzed, twin);
    const offered = fuzzed.client.published.find((p) => p.topic === deviceTopic('command', 'dev-000'));
    expect(offered).toBeDefined();
    const actionId = (JSON.parse((offered as { payload: Buffer }).payload.toString()) as { actionId: string }).actionId;
    const base = validMessages(actionId)[kind];
    expect(decodeMessage(base.topic, Buffer.from(JSON.stringify(base.message))).ok).toBe(true);
    expect(twin.dump()).toEqual(fuzzed.dump());
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });

    const valid: Input[] = [];
    let refused = 0;
    const at = (topic: string) => (payload: Buffer): Input => ({ topic, payload });
    const [raw, rawTexts, nested, mutants, mutantsElsewhere, topics, odd] = split(INPUTS, 7) as [number, number, number, number, number, number, number];
    const totals = await fuzzAsync<Input>(
      `server-${kind}`,
      0x5e7 + kind.length * 1000,
      [
        { name: 'raw bytes', runs: raw, arb: rawBytes(1024).map(at(base.topic)) },
        { name: 'raw text', runs: rawTexts, arb: rawText(1024).map(at(base.topic)) },
        {
          name: 'deep nesting and oversized',
          runs: nested,
          arb: fc.oneof(fc.integer({ min: 100, max: 20_000 }).map((d) => Buffer.from(deeplyNested(d))), fc.integer({ min: 2_000, max: 10_000 }).map((n) => Buffer.from(JSON.stringify({ ...(base.message as object), pad: 'x'.repeat(n) })))).map(at(base.topic)),
        },
        { name: `mutated valid ${kind}`, runs: mutants, arb: jsonMutant(base.message).map(at(base.topic)) },
        // The same mutants from another device's topic: an id mismatch must not slip through.
        { name: `mutated ${kind} on another device's topic`, runs: mutantsElsewhere, arb: fc.tuple(fc.constantFrom('dev-001', 'dev-003', 'dev-999'), jsonMutant(base.message)).map(([id, p]) => ({ topic: deviceTopic(kind, id), payload: p })) },
        { name: `schema-valid but senseless ${kind}`, runs: odd, arb: oddButValid(kind, actionId) },
        { name: 'odd topics', runs: topics, arb: fc.tuple(oddTopic(kind), fc.oneof(jsonMutant(base.message), fc.constant(Buffer.from(JSON.stringify(base.message))))).map(([topic, payload]) => ({ topic, payload })) },
      ],
      async (input): Promise<Verdict> => {
        const checked = await deliverAndCheck(fuzzed, input, () => (refused += 1));
        if (!('valid' in checked)) return checked;
        valid.push(input);
        return { ok: true, outcome: `valid ${checked.valid.kind}` };
      },
    );
    expect(totals.inputs).toBe(INPUTS);
    for (const input of valid) await deliverAndFlush(twin, input);
    expect(twin.failures).toEqual([]);
    // Nothing the refused inputs did is visible anywhere in the database.
    expect(fuzzed.dump()).toEqual(twin.dump());
    expect(fuzzed.gateway.rejections.total() - twin.gateway.rejections.total()).toBe(refused);
    expect(fuzzed.gateway.stats).toEqual(twin.gateway.stats);
  }, TIMEOUT_MS);

  it('refusal (status topic): 100,000 inputs; invalid ones change no row, a valid one is recorded, throttled or refused exactly as on a clean server', async () => {
    const fuzzed = await startServer();
    const twin = await startServer();
    started.push(fuzzed, twin);
    const offered = fuzzed.client.published.find((p) => p.topic === deviceTopic('command', 'dev-000'));
    expect(offered).toBeDefined();
    const actionId = (JSON.parse((offered as { payload: Buffer }).payload.toString()) as { actionId: string }).actionId;
    // An expired copy of our own offer, which the device refused without answering: the one code that may fail an action.
    const base: RefusalReport = { v: 1, deviceId: 'dev-000', at: NOW + 1, refused: { code: 'expired', count: 3, since: NOW - 5000, actionId } };
    const topic = deviceTopic('status', 'dev-000');
    const decodedBase = decodeMessage(topic, Buffer.from(JSON.stringify(base)));
    expect(decodedBase.ok && decodedBase.kind).toBe('refusal');
    expect(twin.dump()).toEqual(fuzzed.dump());
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });

    const valid: Input[] = [];
    let refused = 0;
    let delivered = 0;
    const refusalEvents = fuzzed.db.prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'device.refused'");
    const at = (t: string) => (payload: Buffer): Input => ({ topic: t, payload });
    const msg = (id: string, m: unknown): Input => ({ topic: deviceTopic('status', id), payload: Buffer.from(JSON.stringify(m)) });
    // Schema-valid refusals that make no sense: every code, our offer's action id and others, counts and epochs at the limits.
    const senseless = fc
      .tuple(
        fc.constantFrom(...DEVICES, 'dev-999'),
        fc.constantFrom(...REFUSAL_CODES),
        fc.option(fc.oneof(fc.constantFrom(actionId, actionId.replace(/\.\d+$/, '.2'), '1.1', '999999999999999.1', '0.0', '-1.1', '1.1.1', '__proto__'), fc.string({ minLength: 1, maxLength: 20 }).filter((id) => /^[^+#/\u0000$][^+#/\u0000]*$/.test(id))), { nil: undefined }),
        fc.oneof(fc.constantFrom(1, 2, Number.MAX_SAFE_INTEGER), fc.integer({ min: 1, max: 100_000 })),
        epochMs,
        epochMs,
      )
      .map(([id, code, a, n, since, when]) => msg(id, { v: 1, deviceId: id, at: when, refused: { code, count: n, since, ...(a === undefined ? {} : { actionId: a }) } }));
    // Refusal and status report mixed: the decoder picks the schema by the `refused` key, so each half must fail the other's schema.
    const status: StatusReport = { v: 1, deviceId: 'dev-000', campaignId: '1', actionId, at: NOW + 1, step: { name: 'failed', code: 'SIGNATURE_INVALID', reason: 'x', transient: false } };
    const hybrid = fc
      .tuple(fc.constantFrom<object>({ ...status, refused: base.refused }, { ...base, step: status.step }, { ...base, campaignId: '1' }, { ...status, refused: null }, { ...base, refused: { ...base.refused, step: 'failed' } }), fc.boolean())
      .chain(([m, mutate]) => (mutate ? jsonMutant(m) : fc.constant(Buffer.from(JSON.stringify(m)))))
      .map(at(topic));
    const [raw, nested, mutants, mutantsElsewhere, odd, mixed, topics] = split(INPUTS, 7) as [number, number, number, number, number, number, number];
    const totals = await fuzzAsync<Input>(
      'server-refusal',
      0x5e7 + 9000,
      [
        { name: 'raw bytes and text', runs: raw, arb: fc.oneof(rawBytes(1024), rawText(1024)).map(at(topic)) },
        {
          name: 'deep nesting and oversized',
          runs: nested,
          arb: fc
            .oneof(
              fc.integer({ min: 100, max: 20_000 }).map((d) => Buffer.from(`${JSON.stringify({ ...base, refused: 0 }).slice(0, -2)}${deeplyNested(d)}}`)),
              fc.integer({ min: 2_000, max: 10_000 }).map((n) => Buffer.from(JSON.stringify({ ...base, refused: { ...base.refused, actionId: 'x'.repeat(n) } }))),
            )
            .map(at(topic)),
        },
        { name: 'mutated valid refusal', runs: mutants, arb: jsonMutant(base).map(at(topic)) },
        // From another device's topic: a device must not report (and fail actions) for another.
        { name: "mutated refusal on another device's topic", runs: mutantsElsewhere, arb: fc.tuple(fc.constantFrom('dev-001', 'dev-003', 'dev-999'), fc.oneof(jsonMutant(base), fc.constant(Buffer.from(JSON.stringify(base))))).map(([id, p]) => ({ topic: deviceTopic('status', id), payload: p })) },
        { name: 'schema-valid but senseless refusal', runs: odd, arb: senseless },
        { name: 'refusal and status report mixed', runs: mixed, arb: hybrid },
        { name: 'odd topics', runs: topics, arb: fc.tuple(oddTopic('status'), fc.oneof(jsonMutant(base), fc.constant(Buffer.from(JSON.stringify(base))))).map(([t, payload]) => ({ topic: t, payload })) },
      ],
      async (input): Promise<Verdict> => {
        // Time moves on by 300 ms per input, so the server's throttle (one recorded refusal per device and code per second) both records and throttles.
        const timed = { ...input, atMs: NOW + (delivered += 1) * 300 };
        const changesBefore = fuzzed.changes();
        const rejectedBefore = fuzzed.gateway.rejections.total();
        const recordedBefore = fuzzed.gateway.stats.refusalsRecorded;
        const failedBefore = fuzzed.gateway.stats.refusalsFailedAction;
        const eventsBefore = (refusalEvents.get() as { n: number }).n;
        const checked = await deliverAndCheck(fuzzed, timed, () => (refused += 1));
        if (!('valid' in checked)) return checked;
        const decoded = checked.valid;
        valid.push(timed);
        if (decoded.kind !== 'refusal') return { ok: true, outcome: `valid ${decoded.kind}` };
        // A valid refusal report is recorded as exactly one device.refused event, or (throttled, unknown device) dropped and counted.
        const recorded = fuzzed.gateway.stats.refusalsRecorded - recordedBefore;
        const events = (refusalEvents.get() as { n: number }).n - eventsBefore;
        if (recorded !== events) return { ok: false, kind: 'state-change', detail: `${recorded} refusals recorded but ${events} device.refused events written` };
        if (recorded === 0 && fuzzed.gateway.rejections.total() !== rejectedBefore + 1) return { ok: false, kind: 'state-change', detail: 'a refusal report neither recorded nor counted as dropped' };
        if (recorded === 0 && fuzzed.changes() !== changesBefore) return { ok: false, kind: 'state-change', detail: 'a dropped refusal report changed rows' };
        if (fuzzed.gateway.stats.refusalsFailedAction > failedBefore && decoded.message.refused.code !== 'expired') return { ok: false, kind: 'state-change', detail: `a ${decoded.message.refused.code} refusal failed an action` };
        return { ok: true, outcome: recorded === 0 ? 'valid refusal, dropped' : fuzzed.gateway.stats.refusalsFailedAction > failedBefore ? 'valid refusal, recorded, action failed' : 'valid refusal, recorded' };
      },
    );
    expect(totals.inputs).toBe(INPUTS);
    // The generators reach the handler, not just the decoder: refusals were recorded and throttled, and our offer was failed once.
    expect(fuzzed.gateway.stats.refusalsRecorded).toBeGreaterThan(0);
    expect(totals.outcomes.get('valid refusal, dropped') ?? 0).toBeGreaterThan(0);
    expect(fuzzed.gateway.stats.refusalsFailedAction).toBe(1);
    for (const input of valid) await deliverAndFlush(twin, input);
    expect(twin.failures).toEqual([]);
    expect(fuzzed.dump()).toEqual(twin.dump());
    expect(fuzzed.gateway.rejections.total() - twin.gateway.rejections.total()).toBe(refused);
    expect(fuzzed.gateway.stats).toEqual(twin.gateway.stats);
  }, TIMEOUT_MS);
});
