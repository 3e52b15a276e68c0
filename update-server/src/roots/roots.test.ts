import { describe, expect, it } from 'vitest';
import { createBundle, createRoot, generateKeyPair, signerFromPem, signRoot, type RootDocument } from '@uniota/image';
import { createServerApp } from '../app.ts';
import { openDb } from '../db/open.ts';
import { build } from '../http/build.ts';
import { memoryBlobStore } from '../images/blob-store.ts';
import { rootBundleVerifier } from '../images/bundle-verifier.ts';
import { FakeClock, FakeGateway } from '../test-helpers/fixtures.ts';
import { testPasswordCost, tokenFor } from '../test-helpers/http-fixture.ts';

const DAY = 86_400_000;
type Key = ReturnType<typeof generateKeyPair>;

function rootDoc(version: number, rootKey: Key, imagesKey: Key, serverKey: Key, signers: Key[], expiresAt: number): RootDocument {
  const signed = createRoot({
    version,
    expiresAt: new Date(expiresAt),
    root: { keys: [rootKey.publicKeyRaw], threshold: 1 },
    images: { keys: [imagesKey.publicKeyRaw], threshold: 1 },
    server: { keys: [serverKey.publicKeyRaw], threshold: 1 },
  });
  return signRoot(signed, signers.map((k) => signerFromPem(k.privateKeyPem)));
}

async function fixture() {
  const clock = new FakeClock();
  const [r1, r2, i1, i2, s1] = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()] as [Key, Key, Key, Key, Key];
  const year = clock.now() + 365 * DAY;
  const v1 = rootDoc(1, r1, i1, s1, [r1], year);
  let app: ReturnType<typeof createServerApp>;
  app = createServerApp({
    db: openDb({ path: ':memory:' }),
    gateway: new FakeGateway(),
    blobs: memoryBlobStore(),
    verifyImage: (b) => rootBundleVerifier(app.roots?.current() ?? v1, () => new Date(clock.now()))(b),
    clock: clock.now,
    trustRoot: v1,
  });
  const f = await build({ app, logger: false, auth: { passwordCost: testPasswordCost } });
  const admin = tokenFor(f, 'admin');
  const operator = tokenFor(f, 'operator');
  const v2 = (signers: Key[], expiresAt = year) => rootDoc(2, r2, i2, s1, signers, expiresAt);
  const post = (doc: unknown, token = admin) => f.inject({ method: 'POST', url: '/api/v1/roots', headers: { authorization: `Bearer ${token}` }, payload: doc as object });
  const bundle = (k: Key) =>
    createBundle(
      { product: 'demo', version: '2.0.0', securityCounter: 1, compatibleHardware: ['board-a'], createdAt: new Date(clock.now()), expiresAt: new Date(clock.now() + 30 * DAY) },
      new Uint8Array(1024).fill(3),
      [signerFromPem(k.privateKeyPem)],
    );
  return { f, app, clock, admin, operator, v1, v2, r1, r2, post, bundle, i1, i2 };
}

describe('POST/GET /roots', () => {
  it('stores the next root signed by old and new keys, audits it and lists the chain', async () => {
    const t = await fixture();
    const res = await t.post(t.v2([t.r1, t.r2]));
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ version: 2, source: expect.stringContaining('test-admin') });
    const list = await t.f.inject({ method: 'GET', url: '/api/v1/roots', headers: { authorization: `Bearer ${t.operator}` } });
    expect(list.json().items.map((r: { version: number; source: string }) => [r.version, r.source === 'config'])).toEqual([[1, true], [2, false]]);
    expect(t.app.db.prepare("SELECT subject FROM audit_log WHERE action = 'root.rotate'").all()).toEqual([{ subject: 'root:2' }]);
    expect(t.app.roots?.current().signed.version).toBe(2);
  });

  const refused: Array<[string, (t: Awaited<ReturnType<typeof fixture>>) => unknown, string]> = [
    ['signed only by the old root keys', (t) => t.v2([t.r1]), 'ROOT_ROTATION_INVALID'],
    ['signed only by the new root keys', (t) => t.v2([t.r2]), 'ROOT_ROTATION_INVALID'],
    ['expired', (t) => t.v2([t.r1, t.r2], t.clock.now() - 1), 'ROOT_EXPIRED'],
    ['a replay of the current root', (t) => t.v1, 'ROOT_ROTATION_INVALID'],
    ['not a root document', () => ({ hello: 1 }), 'ROOT_INVALID'],
  ];
  it.each(refused)('refuses a root %s (422, nothing stored)', async (_n, doc, code) => {
    const t = await fixture();
    const res = await t.post(doc(t));
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({ code: 'SERVER_ROOT_REJECTED', message: expect.stringContaining(code) });
    expect(t.app.roots?.current().signed.version).toBe(1);
    const audited = t.app.db.prepare("SELECT details FROM audit_log WHERE action = 'root.reject'").all() as { details: string }[];
    expect(audited.map((a) => (JSON.parse(a.details) as { code: string }).code)).toEqual([code]);
  });

  it('needs an admin to rotate', async () => {
    const t = await fixture();
    expect((await t.post(t.v2([t.r1, t.r2]), t.operator)).statusCode).toBe(403);
    expect(t.app.roots?.current().signed.version).toBe(1);
  });

  it('verifies image uploads against the rotated root (new images key in, old one out)', async () => {
    const t = await fixture();
    await t.post(t.v2([t.r1, t.r2]));
    const upload = (b: Uint8Array) => t.f.inject({ method: 'POST', url: '/api/v1/images', headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${t.admin}` }, payload: Buffer.from(b) });
    expect((await upload(t.bundle(t.i2))).statusCode).toBe(201);
    expect((await upload(t.bundle(t.i1))).statusCode).toBe(422);
  });
});

describe('root delivery to devices', () => {
  it('sends nothing to a device that never reported a version, the newer tail to one that did', async () => {
    const t = await fixture();
    const roots = t.app.roots!;
    expect(roots.rootsFor('dev-1')).toBeUndefined();
    roots.noteDeviceRoot('dev-1', 1);
    expect(roots.rootsFor('dev-1')).toBeUndefined();
    await t.post(t.v2([t.r1, t.r2]));
    const sent = roots.rootsFor('dev-1');
    expect(sent?.map((s) => (JSON.parse(s) as RootDocument).signed.version)).toEqual([2]);
    roots.noteDeviceRoot('dev-1', 2);
    expect(roots.rootsFor('dev-1')).toBeUndefined();
    // Persisted: a restarted server still knows what each device has.
    expect(roots.repo.deviceVersion('dev-1')).toBe(2);
    expect(roots.list().find((r) => r.version === 2)?.devices).toBe(1);
  });
});
