/**
 * MQTT attacks that need the agent and the server, run through the five
 * checks here. The broker-level cases (anonymous connect, revoked
 * certificates, ACL escapes, malformed packets) run on both production
 * brokers in ../mqtt-attacks.test.ts and report into the same table.
 */
import { randomBytes } from 'node:crypto';
import { deviceTopic, signCommand } from '@uniota/protocol';
import { expect } from 'vitest';
import { until } from '../../helpers/until.ts';
import { refusalEvent } from './moves.ts';
import type { AttackRow } from './runner.ts';

const FLOOD = 2000;

export const mqttRows: AttackRow[] = [
  {
    cls: 'MQTT',
    attack: `a flood of ${FLOOD} forged offers on the device's command topic (a publisher with write access but no key)`,
    expected: 'bad-signature',
    mount: async (h, dev) => {
      const topic = deviceTopic('command', dev.id);
      const header = Buffer.from(h.freshUpdate().header).toString('base64');
      const floodAt = Date.now();
      for (let i = 0; i < FLOOD; i++) {
        // Signed by a key of the attacker's, claiming the server key's id.
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
        h.relay.toDevices({ topic, payload: Buffer.from(JSON.stringify({ ...e, keyId: h.trust.serverSigner.keyid })), retain: false });
      }
      // The broker may shed part of a flood (max_queued_messages); every offer that arrives must be refused.
      let last = -1;
      await until(
        'flood absorbed',
        () => {
          const n = dev.net.service?.refusedCommands.get('bad-signature') ?? 0;
          const settled = n === last && n > 0;
          last = n;
          return settled;
        },
        20_000,
        250,
      );
      const refused = dev.net.service?.refusedCommands.get('bad-signature') ?? 0;
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
      return {
        code: 'bad-signature',
        how: `${refused} of ${FLOOD} delivered and refused by the command guard before the lifecycle queue (nothing kept per refused command); agent idle at once; ${reports.length} throttled refusal report(s) to the server`,
        recorded: [{ in: 'device', code: 'bad-signature' }, { in: 'events', code: 'bad-signature' }],
      };
    },
  },
];
