/**
 * The attacker's moves, shared by the rows: push a crafted bundle through
 * the API, rewrite an offer on its way to the device (re-signed with the
 * stolen online key), tamper with the chunk stream, replay what it captured.
 * Each returns what the defender said, for the runner to check.
 */
import { randomBytes } from 'node:crypto';
import { decodeChunkFrame, deviceTopic, encodeChunkFrame, signCommand } from '@uniota/protocol';
import type { ChunkFrame, CommandEnvelope, StatusReport } from '@uniota/protocol';
import { until } from '../../helpers/until.ts';
import type { Harness, SuiteBundle, SuiteDevice } from './harness.ts';
import type { RelayedMessage } from './mitm-relay.ts';
import type { Observed } from './runner.ts';

type OfferBody = Extract<CommandEnvelope['body'], { type: 'offer' }>;

/** Uploads crafted bytes through the API as an operator; returns the inner verifier code of the 422. */
export async function uploadRefused(h: Harness, bytes: Uint8Array): Promise<{ code: string; http: string }> {
  const r = await h.api('POST', '/api/v1/images', { raw: bytes });
  const err = r.json.error;
  if (r.status !== 422 || err === undefined) throw new Error(`crafted upload was not refused: ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
  const inner = /\(([A-Z_]+)\)/.exec(err.message)?.[1] ?? err.code;
  return { code: inner, http: `${r.status} ${err.code}` };
}

/** Re-signs an envelope with the stolen server key (new signature over the changed fields). */
export function resign(h: Harness, e: CommandEnvelope, change: Partial<Pick<CommandEnvelope, 'deviceId' | 'expiresAt' | 'seq'>> & { body?: OfferBody } = {}): CommandEnvelope {
  const { deviceId, actionId, seq, nonce, expiresAt, body } = { ...e, ...change };
  return signCommand({ deviceId, actionId, seq, nonce: change.body === undefined && change.expiresAt === undefined ? nonce : randomBytes(12).toString('base64url'), expiresAt, body }, h.trust.serverSigner);
}

function asOffer(m: RelayedMessage): CommandEnvelope | null {
  if (!m.topic.endsWith('/cmd')) return null;
  const e = JSON.parse(m.payload.toString()) as CommandEnvelope;
  return e.body.type === 'offer' ? e : null;
}

/** The device's status reports as the attacker relayed them. */
export function reportsOf(h: Harness, dev: SuiteDevice): StatusReport[] {
  return h.relay.upJson<StatusReport>(deviceTopic('status', dev.id));
}

/** The code of the device's last failure report for the campaign. */
function failureCode(h: Harness, dev: SuiteDevice, campaignId: number): string | undefined {
  const failed = reportsOf(h, dev).filter((r) => r.campaignId === String(campaignId) && r.step.name === 'failed');
  const last = failed.at(-1)?.step;
  return last?.name === 'failed' ? last.code : undefined;
}

/**
 * Runs a legitimate campaign for a fresh image while the attacker rewrites
 * what reaches the device (offer and/or chunks). Waits for the server to
 * close the action; returns the code the device reported.
 */
export async function campaignUnderAttack(
  h: Harness,
  dev: SuiteDevice,
  attack: {
    legit?: SuiteBundle;
    /** Rewrites the offer (return the new body); re-signed with the stolen key. */
    offer?: (body: OfferBody, e: CommandEnvelope) => Partial<Pick<CommandEnvelope, 'deviceId' | 'expiresAt'>> & { body?: OfferBody };
    /** Rewrites chunk frames to the device (return the frames to deliver instead). */
    chunk?: (f: ChunkFrame) => ChunkFrame[];
    retry?: { maxAttempts: number; baseDelayMs: number };
    /** Wait for the device to refuse instead of for the server (refusals the server never hears of). */
    deviceRefusal?: () => boolean;
  },
): Promise<{ campaignId: number; code: string; state: string }> {
  const legit = attack.legit ?? h.freshUpdate();
  const imageId = await h.upload(legit);
  h.relay.tampers.set(dev.id, (m) => {
    const offer = asOffer(m);
    if (offer !== null && attack.offer !== undefined) {
      const change = attack.offer(offer.body as OfferBody, offer);
      return [{ ...m, payload: Buffer.from(JSON.stringify(resign(h, offer, change))) }];
    }
    if (m.topic.endsWith('/chunks/data') && attack.chunk !== undefined) {
      const f = decodeChunkFrame(m.payload);
      if ('error' in f) return [m];
      return attack.chunk(f).map((x) => ({ ...m, payload: encodeChunkFrame(x.imageTag, x.index, x.data) }));
    }
    return undefined;
  });
  const campaignId = await h.campaign(imageId, dev.id, attack.retry);
  if (attack.deviceRefusal !== undefined) {
    await until('device refusal', attack.deviceRefusal, 10_000);
    const a = h.server.app.db.prepare('SELECT state FROM actions WHERE campaign_id = ?').get(campaignId) as { state: string };
    return { campaignId, code: '', state: a.state };
  }
  const a = await h.finished(campaignId);
  const code = failureCode(h, dev, campaignId) ?? `none (action ${a.state}: ${a.detail ?? ''})`;
  return { campaignId, code, state: a.state };
}

/**
 * Waits for the server's `device.refused` event of this device with `code`
 * (the device's throttled refusal report, see device-agent's RefusalReporter);
 * returns what it says.
 */
export async function refusalEvent(h: Harness, dev: SuiteDevice, code: string): Promise<{ count: number; actionId?: string; campaignId: number | null }> {
  return until(
    `server records ${dev.id} refused ${code}`,
    () => {
      const rows = h.server.app.db.prepare("SELECT campaign_id, data FROM events WHERE type = 'device.refused' AND device_id = ? ORDER BY id").all(dev.id) as { campaign_id: number | null; data: string }[];
      const hit = rows.map((r) => ({ campaignId: r.campaign_id, ...(JSON.parse(r.data) as { code: string; count: number; actionId?: string }) })).find((e) => e.code === code);
      return hit;
    },
    10_000,
  );
}

/** A header swap: the legit offer carries `header` instead (the payload stays the signed image's). */
export async function offerWithHeader(h: Harness, dev: SuiteDevice, legit: SuiteBundle, header: Uint8Array): Promise<{ code: string; state: string }> {
  return campaignUnderAttack(h, dev, { legit, offer: (body) => ({ body: { ...body, header: Buffer.from(header).toString('base64') } }) });
}

/**
 * The two layers a crafted bundle meets: uploaded through the API (the
 * server verifies it like a device would), then slipped past the server by
 * the attacker in the middle holding the online key.
 */
export async function bothLayers(h: Harness, dev: SuiteDevice, crafted: Uint8Array, legit: SuiteBundle, header: Uint8Array): Promise<Observed> {
  const api = await uploadRefused(h, crafted);
  const device = await offerWithHeader(h, dev, legit, header);
  return {
    code: device.code,
    how: `API upload ${api.http} (${api.code}); the same header re-signed into a real offer: device refused, action ${device.state}`,
    recorded: [{ in: 'audit', code: api.code }, { in: 'events', code: device.code }],
  };
}
