/**
 * Root rotation reaching a simulated device: the offer carries the newer
 * root documents, the agent walks them, journals the new root and only then
 * verifies the bundle with it. A refused chain leaves the device on its root.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { BundleImageSource, RecordingTransport, SimDevice, provisionSimDisk, smallDeviceSpec } from '@uniota/device-agent';
import type { ImageSource, PowerOnResult, UpdateOffer } from '@uniota/device-agent';
import { TEST_NOW, makeBundle, makeTrust, offerFor, sourceFor } from '../helpers/fixtures.ts';
import type { TrustFixture } from '../helpers/fixtures.ts';
import { rotateTrust } from '../helpers/root-rotation.ts';

let v1: TrustFixture;
beforeAll(() => {
  v1 = makeTrust();
});

async function device(): Promise<SimDevice> {
  const spec = smallDeviceSpec(v1.root);
  const { disk, layout } = await provisionSimDisk(spec, makeBundle(v1, { version: '1.0.0', behaviour: 'ok', securityCounter: 1 }));
  return new SimDevice(disk, spec, layout);
}

async function offerOnce(d: SimDevice, offer: UpdateOffer, source: ImageSource) {
  const transport = new RecordingTransport();
  let sent = false;
  const result = await d.powerOn({ transport, source, nextOffer: () => (sent ? null : ((sent = true), offer)), clock: () => TEST_NOW, progressEvery: 2 });
  return { result, transport };
}

function rootOf(result: PowerOnResult) {
  if (result.kind !== 'settled') throw new Error(`device did not settle: ${result.kind}`);
  return result.state.root;
}

describe('root rotation on the device', () => {
  it('takes a rotation, installs an image signed by the NEW images key and then refuses the old key', async () => {
    const d = await device();
    const r2 = rotateTrust(v1);
    const good = offerFor('a1', makeBundle(r2.next, { version: '2.0.0', behaviour: 'ok', securityCounter: 2 }));
    const { result } = await offerOnce(d, { ...good.offer, roots: [r2.text] }, sourceFor([good]));
    expect(result).toMatchObject({ kind: 'settled', version: '2.0.0' });
    expect(rootOf(result)?.signed.version).toBe(2);

    const old = offerFor('a2', makeBundle(v1, { version: '3.0.0', behaviour: 'ok', securityCounter: 3 }));
    const second = await offerOnce(d, old.offer, sourceFor([old]));
    expect(second.result).toMatchObject({ kind: 'settled', version: '2.0.0' });
    expect(second.transport.reports).toContainEqual(expect.objectContaining({ actionId: 'a2', step: 'rejected', code: 'UNKNOWN_KEY' }));
  });

  const refused: Array<[string, (t: TrustFixture) => string[], string]> = [
    ['signed only by the old root keys', (t) => [rotateTrust(t, { signedBy: 'old-only' }).text], 'ROOT_ROTATION_INVALID'],
    ['signed only by the new root keys', (t) => [rotateTrust(t, { signedBy: 'new-only' }).text], 'ROOT_ROTATION_INVALID'],
    ['expired', (t) => [rotateTrust(t, { expiresAt: new Date(TEST_NOW.getTime() - 1000) }).text], 'ROOT_EXPIRED'],
    ['skipping a version', (t) => [rotateTrust(t, { version: 3 }).text], 'ROOT_ROTATION_INVALID'],
    ['not a root document', () => ['{"signed":{}}'], 'ROOT_INVALID'],
  ];

  it.each(refused)('refuses a rotation %s and stays on its root', async (_name, roots, code) => {
    const d = await device();
    const bundle = offerFor('b1', makeBundle(v1, { version: '2.0.0', behaviour: 'ok', securityCounter: 2 }));
    const { result, transport } = await offerOnce(d, { ...bundle.offer, roots: roots(v1) }, sourceFor([bundle]));
    expect(result).toMatchObject({ kind: 'settled', version: '1.0.0' });
    expect(transport.reports).toContainEqual(expect.objectContaining({ actionId: 'b1', step: 'rejected', code }));
    expect(result.kind === 'settled' && result.state.root).toBeUndefined();
  });

  it('refuses a replayed old root once rotated, and a different root of its own version', async () => {
    const d = await device();
    const r2 = rotateTrust(v1);
    const first = offerFor('c1', makeBundle(r2.next, { version: '2.0.0', behaviour: 'ok', securityCounter: 2 }));
    await offerOnce(d, { ...first.offer, roots: [r2.text] }, sourceFor([first]));
    const later = offerFor('c2', makeBundle(r2.next, { version: '3.0.0', behaviour: 'ok', securityCounter: 3 }));
    const replay = await offerOnce(d, { ...later.offer, roots: [JSON.stringify(v1.rootDoc)] }, sourceFor([later]));
    expect(replay.transport.reports).toContainEqual(expect.objectContaining({ actionId: 'c2', step: 'rejected', code: 'ROOT_ROLLBACK' }));
    const twin = offerFor('c3', makeBundle(r2.next, { version: '3.0.0', behaviour: 'ok', securityCounter: 3 }));
    const conflict = await offerOnce(d, { ...twin.offer, roots: [rotateTrust(v1).text] }, sourceFor([twin]));
    expect(conflict.transport.reports).toContainEqual(expect.objectContaining({ actionId: 'c3', step: 'rejected', code: 'ROOT_CONFLICT' }));
    expect(rootOf(conflict.result)?.signed).toEqual(r2.next.root);
    // The same chain again (the server not yet told) is harmless and the update proceeds.
    const again = await offerOnce(d, { ...twin.offer, roots: [r2.text] }, sourceFor([twin]));
    expect(again.result).toMatchObject({ kind: 'settled', version: '3.0.0' });
  });

  it('walks several versions in one offer (a device that slept through rotations)', async () => {
    const d = await device();
    const r2 = rotateTrust(v1, { expiresAt: new Date(TEST_NOW.getTime() - 1000) });
    const r3 = rotateTrust(r2.next);
    const b = offerFor('d1', makeBundle(r3.next, { version: '2.0.0', behaviour: 'ok', securityCounter: 2 }));
    const { result } = await offerOnce(d, { ...b.offer, roots: [r2.text, r3.text] }, sourceFor([b]));
    expect(result).toMatchObject({ kind: 'settled', version: '2.0.0' });
    expect(rootOf(result)?.signed.version).toBe(3);
  });
});
