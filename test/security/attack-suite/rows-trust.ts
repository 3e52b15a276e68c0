/**
 * Trust attacks (validly signed material used where it must not be) and
 * wrong-target attacks (a trusted image or command, but not for this device
 * or not any more).
 */
import { deviceTopic } from '@uniota/protocol';
import type { CommandEnvelope } from '@uniota/protocol';
import { expect } from 'vitest';
import { until } from '../../helpers/until.ts';
import { FACTORY_COUNTER } from './harness.ts';
import { bothLayers, campaignUnderAttack, offerWithHeader, refusalEvent } from './moves.ts';
import type { AttackRow } from './runner.ts';
import { currentLink, firstLink, nextRoot, offerWithRoots, postRoot, rootBothLayers, rotateServer } from './root-moves.ts';

export const trustRows: AttackRow[] = [
  {
    cls: 'trust',
    attack: `downgrade: validly signed image with security counter ${FACTORY_COUNTER - 2} < the device floor ${FACTORY_COUNTER}, pushed as a campaign`,
    expected: 'SECURITY_COUNTER_ROLLBACK',
    mount: async (h, dev) => {
      // The server accepts it (it knows no device's floor); the device must not.
      const old = h.freshUpdate({ securityCounter: FACTORY_COUNTER - 2 });
      const r = await campaignUnderAttack(h, dev, { legit: old });
      return { code: r.code, how: `upload accepted (validly signed); the device refused the offer, action ${r.state}`, recorded: [{ in: 'events', code: r.code }] };
    },
  },
  {
    cls: 'trust',
    attack: 'expired manifest (validly signed, past its expiry)',
    expected: 'MANIFEST_EXPIRED',
    mount: async (h, dev) => {
      const legit = h.freshUpdate();
      // Same version, so the same payload: only the manifest's expiry differs.
      const expired = h.bundle({ version: legit.version, expiresInMs: -60_000 });
      return bothLayers(h, dev, expired.bytes, legit, expired.header);
    },
  },
  {
    cls: 'trust',
    attack: 'the online server key alone signs an installable image',
    expected: 'KEY_NOT_AUTHORIZED',
    mount: async (h, dev) => {
      const legit = h.freshUpdate();
      const forged = h.bundle({ version: legit.version, signers: [h.trust.serverSigner] });
      return bothLayers(h, dev, forged.bytes, legit, forged.header);
    },
  },
  // Root rotation (root-moves.ts): a crafted root goes to the API as an
  // admin, then into a real offer's `roots` via the stolen online key.
  {
    cls: 'trust',
    attack: 'expired root: the next root version, signed by the old and new root keys, past its expiry',
    expected: 'ROOT_EXPIRED',
    mount: async (h, dev) => rootBothLayers(h, dev, nextRoot(firstLink(h), { expiresAt: new Date(Date.now() - 60_000) }).doc),
  },
  {
    cls: 'trust',
    attack: 'root rotation signed only by the OLD root keys',
    expected: 'ROOT_ROTATION_INVALID',
    mount: async (h, dev) => rootBothLayers(h, dev, nextRoot(firstLink(h), { signedBy: 'old-only' }).doc),
  },
  {
    cls: 'trust',
    attack: 'root rotation signed only by the NEW root keys',
    expected: 'ROOT_ROTATION_INVALID',
    mount: async (h, dev) => rootBothLayers(h, dev, nextRoot(firstLink(h), { signedBy: 'new-only' }).doc),
  },
  {
    // Last of the root rows: it rotates the server for real (root key only,
    // so every later row's images and commands still verify).
    cls: 'trust',
    attack: 'replayed old root: root v1 offered to a device that took v2',
    expected: 'ROOT_ROLLBACK',
    setup: async (h, dev) => {
      if (currentLink(h).doc.signed.version === 1) await rotateServer(h, nextRoot(firstLink(h)));
      const legit = h.freshUpdate();
      const campaign = await h.campaign(await h.upload(legit), dev.id);
      const a = await h.finished(campaign);
      if (a.state !== 'succeeded' || dev.net.service?.agent.rootVersion !== currentLink(h).doc.signed.version) {
        throw new Error(`device did not take the rotation: action ${a.state}, root v${dev.net.service?.agent.rootVersion}`);
      }
      await until('device reports the update', () => h.deviceRow(dev.id)?.current_version === legit.version, 10_000);
    },
    mount: async (h, dev) => {
      const api = await postRoot(h, h.trust.rootDoc);
      const r = await offerWithRoots(h, dev, [h.trust.rootDoc]);
      return {
        code: r.code,
        how: `POST /roots ${api.status} (${api.code}); v1 slipped into a real offer: device refused, kept v${dev.net.service?.agent.rootVersion}, action ${r.state}`,
        recorded: [{ in: 'audit', code: api.code }, { in: 'events', code: r.code }],
      };
    },
  },
];

export const targetRows: AttackRow[] = [
  {
    cls: 'wrong target',
    attack: 'image signed for another hardware type',
    expected: 'HARDWARE_INCOMPATIBLE',
    mount: async (h, dev) => {
      const legit = h.freshUpdate();
      const other = h.bundle({ version: legit.version, hardware: 'other-board-9' });
      // Uploaded, it is a valid image for other-board-9; a campaign cannot aim it at this board.
      const img = await h.upload(other);
      const c = await h.api('POST', '/api/v1/campaigns', { body: { name: 'wrong board', imageId: img, target: { deviceIds: [dev.id] } } });
      const api = c.json.error?.code ?? `HTTP ${c.status}`;
      const r = await offerWithHeader(h, dev, legit, other.header);
      return {
        code: r.code,
        how: `campaign API: ${c.status} ${api}; the header slipped into a real offer: device refused, action ${r.state}`,
        recorded: [{ in: 'events', code: r.code }],
      };
    },
  },
  {
    cls: 'wrong target',
    attack: 'offer addressed to another device, on this device’s topic',
    expected: 'id-mismatch',
    mount: async (h, dev) => {
      const before = dev.net.service?.rejections.count('id-mismatch') ?? 0;
      const r = await campaignUnderAttack(h, dev, {
        offer: () => ({ deviceId: 'someone-else' }),
        deviceRefusal: () => (dev.net.service?.rejections.count('id-mismatch') ?? 0) > before,
      });
      const ev = await refusalEvent(h, dev, 'id-mismatch');
      return {
        code: 'id-mismatch',
        how: `dropped by the device's decoder before the signature check, not answered; its refusal report became a device.refused event (action ${ev.actionId ?? '?'} named); the action, as the command claims another device's, stays ${r.state}`,
        recorded: [{ in: 'device', code: 'id-mismatch' }, { in: 'events', code: 'id-mismatch' }],
      };
    },
  },
  {
    cls: 'wrong target',
    attack: 'offer with a past expiry (re-signed with the online key)',
    expected: 'expired',
    mount: async (h, dev) => {
      const r = await campaignUnderAttack(h, dev, {
        offer: () => ({ expiresAt: Date.now() - 60_000 }),
        deviceRefusal: () => (dev.net.service?.refusedCommands.get('expired') ?? 0) > 0,
      });
      await refusalEvent(h, dev, 'expired');
      // Our own (signed) offer the device will never act on: the server fails it now instead of at the timeout.
      const a = await h.finished(r.campaignId, 10_000);
      expect(a.state, 'action closed by the refusal').toBe('failed');
      expect(a.detail ?? '').toMatch(/^expired: /);
      return {
        code: 'expired',
        how: `refused by the device's command guard, not answered; its refusal report became a device.refused event and failed the unanswered action (${r.state} -> ${a.state}) without waiting for the timeout`,
        recorded: [{ in: 'device', code: 'expired' }, { in: 'events', code: 'expired' }],
      };
    },
  },
  {
    cls: 'wrong target',
    attack: 'replayed old offer (captured from an update the device already installed)',
    expected: 'replayed',
    setup: async (h, dev) => {
      // A legitimate update runs to the end; the attacker keeps its offer.
      const imageId = await h.upload(h.freshUpdate());
      const c = await h.campaign(imageId, dev.id);
      const a = await h.finished(c);
      if (a.state !== 'succeeded') throw new Error(`setup update did not succeed: ${a.state} ${a.detail ?? ''}`);
      await until('device back online after its update', () => dev.net.service !== null && h.deviceRow(dev.id)?.booted_slot === 'B', 10_000);
    },
    mount: async (h, dev) => {
      const cmd = deviceTopic('command', dev.id);
      const captured = h.relay.down.filter((m) => m.topic === cmd && (JSON.parse(m.payload.toString()) as CommandEnvelope).body.type === 'offer').at(-1);
      if (captured === undefined) throw new Error('no offer captured');
      h.relay.toDevices(captured);
      await until('replay refused', () => (dev.net.service?.refusedCommands.get('replayed') ?? 0) > 0, 5000);
      await refusalEvent(h, dev, 'replayed');
      return {
        code: 'replayed',
        how: 'the exact signed offer sent again: refused by the command guard (seq not above the journaled one), not answered; recorded from its refusal report, the finished action untouched',
        recorded: [{ in: 'device', code: 'replayed' }, { in: 'events', code: 'replayed' }],
      };
    },
  },
];
