import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inlineChunkHasher, parseBundleHeader } from '@uniota/image';
import { simTrust } from '../testing/sim-trust.ts';
import { BundleImageSource } from '../image-source.ts';
import { RecordingTransport } from '../transport.ts';
import { FleetChunkHasher } from './fleet-chunk-hasher.ts';
import { SharedPageDisk } from './shared-page-disk.ts';
import { SimDevice, provisionSimDisk, smallDeviceSpec } from './sim-device.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('FleetChunkHasher', () => {
  it('gives the SHA-256 of every chunk, a short last one included', async () => {
    const bytes = randomBytes(10 * 1024 + 123);
    const h = new FleetChunkHasher();
    expect(await h.hashChunks(bytes, 1024)).toEqual(await inlineChunkHasher.hashChunks(bytes, 1024));
    expect(h.stats).toEqual({ hashed: 11, reused: 0 });
  });

  it('answers identical bytes (another buffer) from the first hash', async () => {
    const bytes = randomBytes(8 * 4096);
    const h = new FleetChunkHasher();
    const first = await h.hashChunks(bytes, 4096);
    const again = await h.hashChunks(Buffer.from(bytes), 4096);
    expect(again).toEqual(first);
    expect(h.stats).toEqual({ hashed: 8, reused: 8 });
  });

  it('hashes a chunk that differs in one bit for real', async () => {
    const bytes = randomBytes(4096);
    const h = new FleetChunkHasher();
    const good = h.digest(bytes);
    const bad = Buffer.from(bytes);
    bad[2000] = (bad[2000] ?? 0) ^ 0x10;
    expect(h.digest(bad)).toBe(sha(bad));
    expect(h.digest(bad)).not.toBe(good);
    expect(h.stats).toEqual({ hashed: 2, reused: 1 });
  });

  it('keeps its own copy: changing the hashed buffer later does not change an answer', () => {
    const bytes = randomBytes(4096);
    const original = Buffer.from(bytes);
    const h = new FleetChunkHasher();
    h.digest(bytes);
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    expect(h.digest(bytes)).toBe(sha(bytes));
    expect(h.digest(original)).toBe(sha(original));
  });

  it('stays correct past its memory bound', () => {
    const h = new FleetChunkHasher(3 * 1024);
    const chunks = Array.from({ length: 10 }, () => randomBytes(1024));
    for (const c of chunks) expect(h.digest(c)).toBe(sha(c));
    for (const c of chunks) expect(h.digest(c)).toBe(sha(c));
    expect(h.stats.hashed).toBeGreaterThan(10);
  });
});

describe('devices sharing a FleetChunkHasher', () => {
  it('update through the real agent, and the second device hashes nothing the first already did', async () => {
    const now = new Date('2026-11-26T12:00:00Z');
    const { root, bundle: signed } = simTrust(now);
    const bundle = (version: string, counter: number) => signed(version, counter, 64 * 1024);
    const spec = smallDeviceSpec(root);
    const template = await provisionSimDisk(spec, bundle('1.0.0', 1), (size) => new SharedPageDisk(size));
    const update = bundle('2.0.0', 2);
    const headerLength = parseBundleHeader(update).headerLength;
    const source = new BundleImageSource(new Map([['a1', { payloadOffset: headerLength, payloadSize: update.length - headerLength, chunkSize: 4096, bytes: update }]]));
    const hasher = new FleetChunkHasher();
    const run = async () => {
      const device = new SimDevice(template.disk.clone(), spec, template.layout, hasher);
      let offered = false;
      const offer = { actionId: 'a1', campaignId: 'c1', header: update.subarray(0, headerLength), downloadOnly: false };
      const transport = new RecordingTransport();
      const result = await device.powerOn({ transport, source, clock: () => now, nextOffer: () => (offered ? null : ((offered = true), offer)) });
      return { result, steps: transport.reports.map((r) => r.step) };
    };
    const first = await run();
    expect(first.result).toMatchObject({ kind: 'settled', slot: 'B', version: '2.0.0' });
    expect(first.steps).toContain('committed');
    const afterFirst = { ...hasher.stats };
    // 16 distinct chunks of the new image (+ the factory image at boot): each hashed once.
    expect(afterFirst.hashed).toBeGreaterThanOrEqual(16);
    expect(afterFirst.reused).toBeGreaterThan(0);
    const second = await run();
    expect(second.result).toMatchObject({ kind: 'settled', slot: 'B', version: '2.0.0' });
    expect(second.steps).toEqual(first.steps);
    expect(hasher.stats.hashed).toBe(afterFirst.hashed);
    expect(hasher.stats.reused).toBeGreaterThan(afterFirst.reused);
  });

  it('the bootloader of such a device verifies its slot through the same hasher', async () => {
    const now = new Date('2026-11-26T12:00:00Z');
    const { root, bundle: signed } = simTrust(now);
    const factory = signed('1.0.0', 1, 64 * 1024);
    const spec = smallDeviceSpec(root);
    const template = await provisionSimDisk(spec, factory, (size) => new SharedPageDisk(size));
    const hasher = new FleetChunkHasher();
    const device = new SimDevice(template.disk.clone(), spec, template.layout, hasher);
    const booted = await device.bootOnce(template.disk.clone(), () => now);
    expect(booted.kind).toBe('running');
    // The factory image's chunks (64 KiB in simTrust's 4 KiB chunks), checked at boot: one pass.
    expect(hasher.stats.hashed + hasher.stats.reused).toBe(16);
  });
});
