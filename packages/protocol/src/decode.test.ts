import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeChunkFrame, imageTag } from './chunk-frame.ts';
import { decodeMessage, MAX_PAYLOAD, RejectCode } from './decode.ts';
import { RejectionCounter } from './rejection-counter.ts';
import { deviceTopic, imageChunksTopic } from './topics.ts';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const hello = {
  v: 1,
  deviceId: 'dev-1',
  hardware: 'rpi4',
  agentVersion: '0.1.0',
  runningSlot: 'a',
  slots: { a: { version: '1.0.0', bootable: true }, b: { version: null, bootable: false } },
  lastCommandSeq: 0,
};
const status = {
  v: 1,
  deviceId: 'dev-1',
  campaignId: 'c1',
  actionId: 'a1',
  at: 1_700_000_000_000,
  step: { name: 'downloading', progress: { chunksDone: 3, chunkCount: 10 } },
};

describe('decodeMessage', () => {
  it('accepts a valid hello and returns it typed', () => {
    const r = decodeMessage(deviceTopic('hello', 'dev-1'), json(hello));
    expect(r).toEqual({ ok: true, kind: 'hello', deviceId: 'dev-1', message: hello });
  });

  it.each([
    { name: 'offered' },
    { name: 'committed' },
    { name: 'failed', code: 'BOOT_FAILED', reason: 'health check', transient: false },
  ])('accepts status step %o', (step) => {
    expect(decodeMessage(deviceTopic('status', 'dev-1'), json({ ...status, step })).ok).toBe(true);
  });

  it.each([
    ['unknown topic', 'uniota/v1/devices/dev-1/nope', json(hello), RejectCode.UNKNOWN_TOPIC],
    ['not JSON', deviceTopic('hello', 'dev-1'), Buffer.from('{'), RejectCode.MALFORMED],
    ['extra field', deviceTopic('hello', 'dev-1'), json({ ...hello, extra: 1 }), RejectCode.SCHEMA],
    ['wrong version', deviceTopic('hello', 'dev-1'), json({ ...hello, v: 2 }), RejectCode.SCHEMA],
    ['id mismatch', deviceTopic('hello', 'dev-2'), json(hello), RejectCode.ID_MISMATCH],
    ['unknown step', deviceTopic('status', 'dev-1'), json({ ...status, step: { name: 'hacked' } }), RejectCode.SCHEMA],
    ['progress on plain step', deviceTopic('status', 'dev-1'), json({ ...status, step: { name: 'installed', progress: 1 } }), RejectCode.SCHEMA],
    ['oversized', deviceTopic('status', 'dev-1'), Buffer.alloc(MAX_PAYLOAD.status + 1, 0x20), RejectCode.OVERSIZED],
    ['JSON on chunk topic', imageChunksTopic('img'), json({ a: 1 }), RejectCode.BAD_FRAME],
    ['request window too big', deviceTopic('chunk-request', 'dev-1'), json({ v: 1, imageId: 'i', mode: 'fanout', next: 0, want: Array.from({ length: 300 }, (_, i) => i) }), RejectCode.SCHEMA],
    ['JSON null', deviceTopic('online', 'dev-1'), Buffer.from('null'), RejectCode.SCHEMA],
  ])('rejects %s', (_name, topic, payload, reason) => {
    const r = decodeMessage(topic, payload);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe(reason);
  });

  it('decodes a chunk frame on the fan-out topic', () => {
    const frame = encodeChunkFrame(imageTag('img'), 7, Buffer.from('hello'));
    const r = decodeMessage(imageChunksTopic('img'), frame);
    expect(r.ok && r.kind === 'chunk-fanout' && r.message.index).toBe(7);
    expect(r.ok && r.kind === 'chunk-fanout' && Buffer.from(r.message.data).toString()).toBe('hello');
  });

  it.each([
    ['truncated', (f: Buffer) => f.subarray(0, f.length - 1)],
    ['extra byte', (f: Buffer) => Buffer.concat([f, Buffer.from([0])])],
    ['bad magic', (f: Buffer) => Buffer.concat([Buffer.from('XX'), f.subarray(2)])],
    ['unknown version', (f: Buffer) => Buffer.concat([f.subarray(0, 2), Buffer.from([9]), f.subarray(3)])],
    ['flags set', (f: Buffer) => Buffer.concat([f.subarray(0, 3), Buffer.from([1]), f.subarray(4)])],
  ])('rejects a chunk frame that is %s', (_n, mutate) => {
    const frame = encodeChunkFrame(imageTag('img'), 1, Buffer.from('abcdef'));
    const r = decodeMessage(deviceTopic('chunk-data', 'dev-1'), mutate(frame));
    expect(r.ok ? 'accepted' : r.reason).toBe(RejectCode.BAD_FRAME);
  });

  it('never throws on arbitrary topics and payloads', () => {
    const topics = fc.oneof(
      fc.string(),
      fc.constantFrom(
        deviceTopic('hello', 'd'),
        deviceTopic('online', 'd'),
        deviceTopic('command', 'd'),
        deviceTopic('status', 'd'),
        deviceTopic('chunk-request', 'd'),
        deviceTopic('chunk-data', 'd'),
        imageChunksTopic('i'),
      ),
    );
    const payloads = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      fc.json().map((s) => Buffer.from(s)),
    );
    fc.assert(
      fc.property(topics, payloads, (t, p) => {
        const r = decodeMessage(t, p);
        return typeof r.ok === 'boolean';
      }),
      { numRuns: 2000, seed: 42 },
    );
  });
});

describe('RejectionCounter', () => {
  it('counts by reason and logs each rejection', () => {
    const logged: object[] = [];
    const counter = new RejectionCounter({ logger: { warn: (o) => void logged.push(o) } });
    for (const [t, p] of [
      ['x/y', Buffer.from('1')],
      [deviceTopic('hello', 'd'), Buffer.from('nope')],
      [deviceTopic('hello', 'd'), Buffer.from('[]')],
      ['a', Buffer.from('')],
    ] as const) {
      const r = decodeMessage(t, p);
      if (!r.ok) counter.record(r, t);
    }
    expect(counter.snapshot()).toEqual({ 'unknown-topic': 2, malformed: 1, schema: 1 });
    expect(counter.total()).toBe(4);
    expect(logged).toHaveLength(4);
  });
});

describe('offers for large images', () => {
  it('carry a signed header of a 64 MiB image (1,024 chunk hashes) and refuse one past the trailer bound', async () => {
    const { createBundle, generateKeyPair, signerFromPem } = await import('@uniota/image');
    const { signCommand } = await import('./command-envelope.ts');
    const key = generateKeyPair();
    // Only the manifest matters: build it for a 64 MiB payload of zeros.
    const bundle = createBundle(
      { product: 'p', version: '1.0.0', securityCounter: 1, compatibleHardware: ['hw'], expiresAt: new Date(Date.now() + 86400_000), chunkSize: 64 * 1024 },
      new Uint8Array(64 * 1024 * 1024),
      [signerFromPem(key.privateKeyPem)],
    );
    const { parseBundleHeader } = await import('@uniota/image');
    const header = Buffer.from(bundle.subarray(0, parseBundleHeader(bundle).headerLength)).toString('base64');
    const offer = (h: string) =>
      signCommand(
        { deviceId: 'dev-1', actionId: 'a', seq: 1, nonce: 'n'.repeat(16), expiresAt: Date.now() + 1000, body: { type: 'offer', campaignId: 'c', imageId: 'i', header: h, payloadSize: 64 * 1024 * 1024, chunkSize: 65536, chunkCount: 1024, transfer: 'fanout', downloadOnly: false, maintenanceWindow: null } },
        signerFromPem(key.privateKeyPem),
      );
    expect(decodeMessage(deviceTopic('command', 'dev-1'), Buffer.from(JSON.stringify(offer(header)))).ok).toBe(true);
    const tooBig = decodeMessage(deviceTopic('command', 'dev-1'), Buffer.from(JSON.stringify(offer('A'.repeat(360_000)))));
    expect(tooBig.ok).toBe(false);
  });
});
