/**
 * The agent as a device integrator sees it: offers that must be refused
 * before anything is written, downloads that stall and resume, download-only
 * updates, cancellation.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PartitionView } from '@uniota/block-device';
import { UBootEnvStore } from '@uniota/boot-control';
import { parseBundleHeader, encodeBundleHeader } from '@uniota/image';
import { BundleImageSource, RecordingTransport, SimDevice, provisionSimDisk, smallDeviceSpec } from '@uniota/device-agent';
import type { ImageSource, UpdateOffer } from '@uniota/device-agent';
import { TEST_NOW, makeBundle, makeTrust, offerFor } from '../helpers/fixtures.ts';
import type { TrustFixture } from '../helpers/fixtures.ts';

let trust: TrustFixture;
beforeAll(() => {
  trust = makeTrust();
});

async function device(factoryCounter = 5) {
  const spec = smallDeviceSpec(trust.root);
  const { disk, layout } = await provisionSimDisk(spec, makeBundle(trust, { version: '1.0.0', behaviour: 'ok', securityCounter: factoryCounter }));
  return new SimDevice(disk, spec, layout);
}

async function slotBytes(d: SimDevice, slot: 'A' | 'B'): Promise<Uint8Array> {
  const p = slot === 'A' ? d.layout.slotA : d.layout.slotB;
  return new PartitionView(d.storage, p.offset, p.length).read(0, p.length);
}

async function offerOnce(d: SimDevice, offer: UpdateOffer, source: ImageSource, clock = () => TEST_NOW) {
  const transport = new RecordingTransport();
  let sent = false;
  const result = await d.powerOn({ transport, source, nextOffer: () => (sent ? null : ((sent = true), offer)), clock, progressEvery: 2 });
  return { result, transport };
}

describe('offers the agent must refuse before writing anything', () => {
  const cases: Array<[string, (t: TrustFixture) => UpdateOffer, string, (() => Date)?]> = [
    ['wrong hardware', (t) => offerFor('a', makeBundle(t, { version: '2.0.0', behaviour: 'ok', securityCounter: 6, hardware: 'other-board' })).offer, 'HARDWARE_INCOMPATIBLE'],
    ['downgrade below the stored security counter', (t) => offerFor('a', makeBundle(t, { version: '2.0.0', behaviour: 'ok', securityCounter: 4 })).offer, 'SECURITY_COUNTER_ROLLBACK'],
    ['expired manifest', (t) => offerFor('a', makeBundle(t, { version: '2.0.0', behaviour: 'ok', securityCounter: 6 })).offer, 'MANIFEST_EXPIRED', () => new Date(TEST_NOW.getTime() + 365 * 86400_000)],
    [
      'signature by a key outside the images role (the online server key)',
      (t) => {
        const b = makeBundle(t, { version: '2.0.0', behaviour: 'ok', securityCounter: 6 });
        const h = parseBundleHeader(b);
        const sig = t.serverSigner.sign(new Uint8Array([...new TextEncoder().encode('uniota-manifest-v1\0'), ...h.manifestBytes]));
        return { actionId: 'a', campaignId: null, header: encodeBundleHeader({ manifestBytes: h.manifestBytes, signatures: [{ keyid: t.serverSigner.keyid, sig }] }), downloadOnly: false };
      },
      'KEY_NOT_AUTHORIZED',
    ],
    [
      'one flipped manifest byte',
      (t) => {
        const o = offerFor('a', makeBundle(t, { version: '2.0.0', behaviour: 'ok', securityCounter: 6 })).offer;
        const header = new Uint8Array(o.header);
        header[20] = (header[20] ?? 0) ^ 1;
        return { ...o, header };
      },
      'SIGNATURE_INVALID',
    ],
    ['garbage header', () => ({ actionId: 'a', campaignId: null, header: new TextEncoder().encode('not a bundle'), downloadOnly: false }), 'BUNDLE_MALFORMED'],
  ];

  it.each(cases)('%s', async (_name, make, code, clock) => {
    const d = await device();
    const before = await slotBytes(d, 'B');
    const { result, transport } = await offerOnce(d, make(trust), new BundleImageSource(new Map()), clock);
    expect(result).toMatchObject({ kind: 'settled', slot: 'A', version: '1.0.0' });
    const rejection = transport.reports.find((r) => r.step === 'rejected');
    expect(rejection?.code).toBe(code);
    expect(transport.reports.filter((r) => r.step !== 'rejected')).toEqual([]);
    expect(Buffer.compare(await slotBytes(d, 'B'), before)).toBe(0);
  });
});

describe('download', () => {
  it('refuses a corrupted chunk, keeps what is written, and resumes from the first missing chunk', async () => {
    const d = await device();
    const { offer, entry } = offerFor('a1', makeBundle(trust, { version: '2.0.0', behaviour: 'ok', securityCounter: 6 }));
    const good = entry[1];
    const corrupted = new Uint8Array(good.bytes);
    const bad = good.payloadOffset + 5 * good.chunkSize + 7;
    corrupted[bad] = (corrupted[bad] ?? 0) ^ 0xff;
    const first = await offerOnce(d, offer, new BundleImageSource(new Map([['a1', { ...good, bytes: corrupted }]])));
    expect(first.result).toMatchObject({ kind: 'settled', version: '1.0.0' });
    const failed = first.transport.reports.find((r) => r.step === 'failed');
    expect(failed).toMatchObject({ code: 'CHUNK_HASH_MISMATCH', transient: true });
    expect(first.result.kind === 'settled' && first.result.state.update?.nextChunk).toBeGreaterThan(0);

    const requested: number[] = [];
    const source: ImageSource = {
      fetch: async (id, from, sink) => {
        requested.push(from);
        await new BundleImageSource(new Map([entry])).fetch(id, from, sink);
      },
    };
    const second = await offerOnce(d, offer, source);
    expect(second.result).toMatchObject({ kind: 'settled', slot: 'B', version: '2.0.0' });
    // Chunks 0-4 verified on disk are kept; the download resumes at the bad one.
    expect(requested[0]).toBe(5);
    expect(second.transport.reports.map((r) => r.step)).toContain('committed');
  });

  it('a download-only update waits in installed until the install command', async () => {
    const d = await device();
    const o = offerFor('a2', makeBundle(trust, { version: '2.0.0', behaviour: 'ok', securityCounter: 6 }), { downloadOnly: true });
    const source = new BundleImageSource(new Map([o.entry]));
    const first = await offerOnce(d, o.offer, source);
    expect(first.result).toMatchObject({ kind: 'settled', version: '1.0.0' });
    expect(first.result.kind === 'settled' && first.result.state.state).toBe('installed');
    const env = await new UBootEnvStore(d.storage, { offsets: d.layout.envOffsets, envSize: d.layout.envSize }).read();
    expect(env?.vars.get('upgrade_available')).toBe('0');
    const second = await offerOnce(d, { ...o.offer, downloadOnly: false }, source);
    expect(second.result).toMatchObject({ kind: 'settled', slot: 'B', version: '2.0.0' });
  });

  it('an image larger than the slot is refused with IMAGE_TOO_LARGE', async () => {
    const d = await device();
    const o = offerFor('a3', makeBundle(trust, { version: '2.0.0', behaviour: 'ok', securityCounter: 6, size: 1024 * 1024, chunkSize: 64 * 1024 }));
    const { transport } = await offerOnce(d, o.offer, new BundleImageSource(new Map([o.entry])));
    expect(transport.reports.find((r) => r.step === 'rejected')?.code).toBe('IMAGE_TOO_LARGE');
  });

  it('raises the anti-rollback floor only at commit, never for a rolled-back image', async () => {
    const d = await device(5);
    const bad = offerFor('a4', makeBundle(trust, { version: '2.0.0', behaviour: 'unhealthy', securityCounter: 9 }));
    const r1 = await offerOnce(d, bad.offer, new BundleImageSource(new Map([bad.entry])));
    expect(r1.result).toMatchObject({ kind: 'settled', version: '1.0.0' });
    expect(r1.result.kind === 'settled' && r1.result.state.minSecurityCounter).toBe(5);
    const good = offerFor('a5', makeBundle(trust, { version: '2.1.0', behaviour: 'ok', securityCounter: 7 }));
    const r2 = await offerOnce(d, good.offer, new BundleImageSource(new Map([good.entry])));
    expect(r2.result).toMatchObject({ kind: 'settled', version: '2.1.0' });
    expect(r2.result.kind === 'settled' && r2.result.state.minSecurityCounter).toBe(7);
  });
});

describe('retried offers', () => {
  it('an offer of exactly the image that already runs is acknowledged as ALREADY_INSTALLED without touching a slot', async () => {
    const d = await device();
    const bundle = makeBundle(trust, { version: '2.0.0', behaviour: 'ok', securityCounter: 6 });
    const first = offerFor('attempt-1', bundle);
    const r1 = await offerOnce(d, first.offer, new BundleImageSource(new Map([first.entry])));
    expect(r1.result).toMatchObject({ kind: 'settled', slot: 'B', version: '2.0.0' });
    const before = { a: await slotBytes(d, 'A'), b: await slotBytes(d, 'B') };
    const retry = offerFor('attempt-2', bundle);
    const r2 = await offerOnce(d, retry.offer, new BundleImageSource(new Map([retry.entry])));
    expect(r2.transport.reports).toEqual([expect.objectContaining({ actionId: 'attempt-2', step: 'committed', code: 'ALREADY_INSTALLED' })]);
    expect(Buffer.compare(await slotBytes(d, 'A'), before.a)).toBe(0);
    expect(Buffer.compare(await slotBytes(d, 'B'), before.b)).toBe(0);
    expect(r2.result.kind === 'settled' && r2.result.state.history.map((h) => [h.actionId, h.code])).toEqual([['attempt-1', null], ['attempt-2', 'ALREADY_INSTALLED']]);
  });
});
