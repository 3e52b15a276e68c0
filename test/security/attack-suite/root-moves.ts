/**
 * Root rotation moves for the trust rows: the next root version built from
 * the suite's root, pushed through the API as an admin and slipped into a real
 * offer by the attacker holding the online key (offers carry `roots`).
 */
import { createRoot, generateKeyPair, signerFromPem, signRoot } from '@uniota/image';
import type { RootDocument, Signer } from '@uniota/image';
import type { AuthService } from '@uniota/update-server';
import { expect } from 'vitest';
import { until } from '../../helpers/until.ts';
import type { Harness, SuiteDevice } from './harness.ts';
import { campaignUnderAttack, offerWithHeader, uploadRefused } from './moves.ts';
import type { Observed } from './runner.ts';

/** One root version and the private root key that signs the next one. */
export interface ChainLink {
  doc: RootDocument;
  signer: Signer;
}

/** The suite's factory root as the first link. */
export function firstLink(h: Harness): ChainLink {
  return { doc: h.trust.rootDoc, signer: h.trust.rootSigner };
}

/** The newest root the harness's server holds. */
export function currentLink(h: Harness): ChainLink {
  return chains.get(h) ?? firstLink(h);
}

/** Rotates the server for real (POST /roots must answer 201); every later offer carries the new root. */
export async function rotateServer(h: Harness, next: ChainLink): Promise<void> {
  const r = await postRoot(h, next.doc);
  if (r.status !== 201) throw new Error(`rotation to v${next.doc.signed.version} refused: ${r.status} ${r.code}`);
  chains.set(h, next);
}

/**
 * Root v(N+1) after `prev` with a fresh root key. Images and server keys are
 * kept unless `images` names new ones; `signedBy` says whose root keys sign
 * (a valid rotation needs both).
 */
export function nextRoot(
  prev: ChainLink,
  opts: { signedBy?: 'both' | 'old-only' | 'new-only'; expiresAt?: Date; images?: { keys: Uint8Array[]; threshold: number } } = {},
): ChainLink {
  const k = generateKeyPair();
  const signer = signerFromPem(k.privateKeyPem);
  const p = prev.doc.signed;
  const raw = (id: string) => Buffer.from(p.keys[id]!.public, 'base64');
  const signed = createRoot({
    version: p.version + 1,
    expiresAt: opts.expiresAt ?? new Date(Date.parse(p.expiresAt)),
    root: { keys: [k.publicKeyRaw], threshold: 1 },
    images: opts.images ?? { keys: p.roles.images.keyids.map(raw), threshold: p.roles.images.threshold },
    server: { keys: p.roles.server.keyids.map(raw), threshold: p.roles.server.threshold },
  });
  const by = opts.signedBy ?? 'both';
  const signers = by === 'both' ? [prev.signer, signer] : by === 'old-only' ? [prev.signer] : [signer];
  return { doc: signRoot(signed, signers), signer };
}

const adminTokens = new WeakMap<Harness, string>();
/** The newest root each harness's server stores (rows rotate it for real). */
const chains = new WeakMap<Harness, ChainLink>();

/** POST /api/v1/roots as an admin (rotation is admin-only). */
export async function postRoot(h: Harness, doc: RootDocument): Promise<{ status: number; code: string }> {
  let token = adminTokens.get(h);
  if (token === undefined) {
    token = (h.server.http as unknown as { auth: AuthService }).auth.tokens.create({ name: 'suite-admin', role: 'admin', createdBy: 'attack-suite' }).secret;
    adminTokens.set(h, token);
  }
  const r = await h.api('POST', '/api/v1/roots', { token, body: doc });
  const err = r.json.error;
  return { status: r.status, code: err === undefined ? '' : (/\(([A-Z_]+)\)/.exec(err.message)?.[1] ?? err.code) };
}

/** The attacker adds `roots` to a real offer (re-signed with the stolen online key); returns the device's code. */
export async function offerWithRoots(h: Harness, dev: SuiteDevice, roots: RootDocument[]): Promise<{ code: string; state: string }> {
  return campaignUnderAttack(h, dev, { offer: (body) => ({ body: { ...body, roots: roots.map((d) => JSON.stringify(d)) } }) });
}

/** A crafted root through both layers: the API (admin upload) and an offer rewritten by the attacker. */
export async function rootBothLayers(h: Harness, dev: SuiteDevice, crafted: RootDocument): Promise<Observed> {
  const api = await postRoot(h, crafted);
  if (api.status !== 422) throw new Error(`crafted root was not refused by the API: ${api.status}`);
  const device = await offerWithRoots(h, dev, [crafted]);
  return {
    code: device.code,
    how: `POST /roots 422 SERVER_ROOT_REJECTED (${api.code}); slipped into a real offer: device refused, kept its root, action ${device.state}`,
    recorded: [{ in: 'audit', code: api.code }, { in: 'events', code: device.code }],
  };
}

/**
 * Control for the root rows: a good rotation (both thresholds) to a new
 * images key reaches the device with its next offer; the device then
 * installs an image signed by the NEW images key, and an image signed by the
 * old keys is refused by the server and, slipped into an offer, by the device.
 */
export async function goodRotationControl(h: Harness): Promise<void> {
  const dev = await h.newDevice('atk-root-ok');
  const k = generateKeyPair();
  const newImages = signerFromPem(k.privateKeyPem);
  const next = nextRoot(currentLink(h), { images: { keys: [k.publicKeyRaw], threshold: 1 } });
  await rotateServer(h, next);
  const fresh = h.freshUpdate({ signers: [newImages] });
  const campaign = await h.campaign(await h.upload(fresh), dev.id);
  expect((await h.finished(campaign)).state).toBe('succeeded');
  expect(dev.net.service?.agent.rootVersion).toBe(next.doc.signed.version);
  await until('device reports the new version', () => h.deviceRow(dev.id)?.current_version === fresh.version, 10_000);

  const oldKeys = h.freshUpdate();
  expect((await uploadRefused(h, oldKeys.bytes)).code).toBe('UNKNOWN_KEY');
  const legit = h.freshUpdate({ signers: [newImages] });
  const r = await offerWithHeader(h, dev, legit, oldKeys.header);
  expect(r.code).toBe('UNKNOWN_KEY');
  expect(h.deviceRow(dev.id)?.current_version).toBe(fresh.version);
}
