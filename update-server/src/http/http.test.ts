import { describe, expect, it, afterEach } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { httpFixture, makeBundle } from '../test-helpers/http-fixture.ts';
import { succeed } from '../test-helpers/fixtures.ts';
import { listen } from './build.ts';

let open: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(open.map((f) => f.close()));
  open = [];
});

async function setup(devices = 0, opts: Parameters<typeof httpFixture>[1] = {}) {
  const fx = await httpFixture(devices, opts);
  open.push(fx.f);
  return fx;
}

async function upload(f: FastifyInstance, bundle: Uint8Array) {
  return f.inject({
    method: 'POST', url: '/api/v1/images', payload: Buffer.from(bundle),
    headers: { 'content-type': 'application/octet-stream' },
  });
}

describe('images API', () => {
  it('accepts a bundle signed by the images role and serves its manifest', async () => {
    const { f, clock, trust } = await setup();
    const res = await upload(f, makeBundle(trust.imagesSigner, clock.now()));
    expect(res.statusCode).toBe(201);
    const img = res.json();
    expect(img).toMatchObject({ version: '2.0.0', compatible: ['board-a'], devSigned: false });
    expect(img.id).toMatch(/^[0-9a-f]{64}$/);
    const list = (await f.inject({ url: '/api/v1/images' })).json();
    expect(list.items.map((i: { id: string }) => i.id)).toEqual([img.id]);
    const manifest = (await f.inject({ url: `/api/v1/images/${img.id}/manifest` })).json();
    expect(manifest).toMatchObject({ version: '2.0.0', product: 'demo' });
    expect((await upload(f, makeBundle(trust.imagesSigner, clock.now()))).json().error.code).toBe('SERVER_IMAGE_EXISTS');
  });

  it.each([
    ['signed by an unknown key', 'otherSigner', (b: Uint8Array) => b, /UNKNOWN_KEY|SIGNATURE|THRESHOLD/],
    ['payload byte flipped', 'imagesSigner', (b: Uint8Array) => { const c = b.slice(); c[c.length - 10]! ^= 1; return c; }, /HASH_MISMATCH/],
    ['truncated', 'imagesSigner', (b: Uint8Array) => b.subarray(0, 40), /MALFORMED|SHORT/],
  ] as const)('rejects a bundle %s with SERVER_IMAGE_REJECTED and stores nothing', async (_n, who, mangle, inner) => {
    const { f, app, clock, trust } = await setup();
    const res = await upload(f, mangle(makeBundle(trust[who], clock.now())));
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('SERVER_IMAGE_REJECTED');
    expect(res.json().error.message).toMatch(inner);
    expect(app.images.list()).toEqual([]);
    expect(app.engine.audit.list().map((e) => e.action)).toEqual(['image.reject']);
  });

  it('rejects a JSON body and answers 404 for an unknown image', async () => {
    const { f } = await setup();
    const res = await f.inject({ method: 'POST', url: '/api/v1/images', payload: { x: 1 } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('SERVER_BAD_REQUEST');
    const nf = await f.inject({ url: `/api/v1/images/${'c'.repeat(64)}` });
    expect(nf.statusCode).toBe(404);
    expect(nf.json().error.code).toBe('SERVER_NOT_FOUND');
  });
});

describe('development signing', () => {
  const devSign = (f: FastifyInstance) =>
    f.inject({
      method: 'POST', url: '/api/v1/images/dev-sign?version=0.0.1-dev&hardware=board-a',
      payload: Buffer.alloc(3000, 7), headers: { 'content-type': 'application/octet-stream' },
    });

  it('signs a payload with the server-held key and labels the image devSigned', async () => {
    const { f, app } = await setup(0, { devSigner: 'imagesSigner' });
    const res = await devSign(f);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ version: '0.0.1-dev', compatible: ['board-a'], devSigned: true });
    expect(app.engine.audit.list().map((e) => e.action)).toEqual(['image.dev_sign', 'image.upload']);
  });

  it('still verifies against the trust root: a dev key outside the images role is rejected', async () => {
    const { f, app } = await setup(0, { devSigner: 'otherSigner' });
    const res = await devSign(f);
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('SERVER_IMAGE_REJECTED');
    expect(app.images.list()).toEqual([]);
  });

  it('does not exist unless a dev key is configured', async () => {
    const { f } = await setup();
    expect((await devSign(f)).statusCode).toBe(404);
  });
});

describe('devices API', () => {
  it('lists with filters and pagination, and 404s unknown ids', async () => {
    const { f } = await setup(5);
    const page = (await f.inject({ url: '/api/v1/devices?limit=2&offset=1' })).json();
    expect(page).toMatchObject({ total: 5, limit: 2, offset: 1 });
    expect(page.items.map((d: { id: string }) => d.id)).toEqual(['dev-001', 'dev-002']);
    const lab = (await f.inject({ url: '/api/v1/devices?tag=lab' })).json();
    expect(lab.items.map((d: { id: string }) => d.id)).toEqual(['dev-000', 'dev-001']);
    expect((await f.inject({ url: '/api/v1/devices?limit=0' })).statusCode).toBe(400);
    const one = (await f.inject({ url: '/api/v1/devices/dev-003' })).json();
    expect(one.device).toMatchObject({ id: 'dev-003', hardware: 'board-a', online: true });
    expect((await f.inject({ url: '/api/v1/devices/nope' })).statusCode).toBe(404);
  });
});

describe('campaigns API', () => {
  async function withImage(devices: number) {
    const fx = await setup(devices);
    const img = (await upload(fx.f, makeBundle(fx.trust.imagesSigner, fx.clock.now()))).json();
    return { ...fx, imageId: img.id as string };
  }

  it('creates a campaign, reports counts per state and per wave, and enforces legal state changes', async () => {
    const { f, app, imageId, gateway } = await withImage(4);
    const res = await f.inject({
      method: 'POST', url: '/api/v1/campaigns',
      payload: { name: 'r1', imageId, target: { hardware: ['board-a'] }, waves: { canary: 1, percents: [100] } },
    });
    expect(res.statusCode).toBe(201);
    const created = res.json();
    expect(created.campaign).toMatchObject({ state: 'running', name: 'r1' });
    expect(created.campaign.spec).toMatchObject({ concurrency: 50, downloadOnly: false }); // defaults filled
    expect(created.waves.map((w: { plannedSize: number }) => w.plannedSize)).toEqual([1, 3]);
    await app.tick();
    for (const o of gateway.offers) app.engine.ingestReports(succeed(o));
    await app.tick();
    const id = created.campaign.id as number;
    const s = (await f.inject({ url: `/api/v1/campaigns/${id}` })).json();
    expect(s.counts).toEqual({ succeeded: 1, offered: 3 });
    expect(s.waves.map((w: { counts: unknown }) => w.counts)).toEqual([{ succeeded: 1 }, { offered: 3 }]);

    expect((await f.inject({ method: 'POST', url: `/api/v1/campaigns/${id}/resume` })).statusCode).toBe(409);
    const paused = await f.inject({ method: 'POST', url: `/api/v1/campaigns/${id}/pause` });
    expect(paused.json().campaign.state).toBe('paused');
    expect((await f.inject({ method: 'POST', url: `/api/v1/campaigns/${id}/cancel` })).json().campaign.state).toBe('canceled');
    const illegal = await f.inject({ method: 'POST', url: `/api/v1/campaigns/${id}/resume` });
    expect(illegal.statusCode).toBe(409);
    expect(illegal.json().error.code).toBe('SERVER_ILLEGAL_STATE');
    expect((await f.inject({ method: 'POST', url: '/api/v1/campaigns/999/pause' })).statusCode).toBe(404);
    const list = (await f.inject({ url: '/api/v1/campaigns?state=canceled' })).json();
    expect(list.items).toHaveLength(1);

    const audit = (await f.inject({ url: '/api/v1/audit' })).json();
    expect(audit.items.map((e: { action: string }) => e.action)).toEqual(['image.upload', 'campaign.create', 'campaign.pause', 'campaign.cancel']);
    // The audit log names the authenticated token, not a name the caller claims.
    expect(audit.items[1].actor).toMatch(/^token:fixture-admin#1@/);
    expect((await f.inject({ url: '/api/v1/audit/verify' })).json()).toMatchObject({ ok: true, entries: 4 });
  });

  it.each([
    ['missing name', { target: { hardware: ['board-a'] } }, 400, 'SERVER_BAD_REQUEST'],
    ['unknown field', { name: 'x', target: { hardware: ['board-a'] }, bogus: 1 }, 400, 'SERVER_BAD_REQUEST'],
    ['empty target', { name: 'x', target: {} }, 400, 'SERVER_BAD_REQUEST'],
    ['decreasing percents', { name: 'x', target: { hardware: ['board-a'] }, waves: { canary: 1, percents: [60, 30] } }, 400, 'SERVER_BAD_REQUEST'],
    ['threshold above 100', { name: 'x', target: { hardware: ['board-a'] }, abort: [{ failureType: 'all', thresholdPercent: 120, minFinished: 1, action: 'pause' }] }, 400, 'SERVER_BAD_REQUEST'],
    ['no matching devices', { name: 'x', target: { tags: ['nowhere'] } }, 422, 'SERVER_NO_TARGETS'],
  ])('rejects a campaign with %s', async (_n, body, status, code) => {
    const { f, imageId } = await withImage(2);
    const res = await f.inject({ method: 'POST', url: '/api/v1/campaigns', payload: { imageId, ...body } });
    expect(res.statusCode).toBe(status);
    expect(res.json().error.code).toBe(code);
  });

  it('404s a campaign for an unknown image', async () => {
    const { f } = await setup(2);
    const res = await f.inject({ method: 'POST', url: '/api/v1/campaigns', payload: { name: 'x', imageId: 'd'.repeat(64), target: { hardware: ['board-a'] } } });
    expect(res.statusCode).toBe(404);
  });

  it('streams progress as server-sent events, resuming after Last-Event-ID', async () => {
    const { f, app, imageId, gateway, adminToken } = await withImage(2);
    const auth = { authorization: `Bearer ${adminToken}` };
    const created = (await f.inject({
      method: 'POST', url: '/api/v1/campaigns', payload: { name: 'sse', imageId, target: { hardware: ['board-a'] }, waves: { canary: 0, percents: [100] } },
    })).json();
    const id = created.campaign.id as number;
    const base = await listen(f, { host: '127.0.0.1', port: 0 });
    const ac = new AbortController();
    const res = await fetch(`${base}/api/v1/campaigns/${id}/events`, { signal: ac.signal, headers: auth });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const readUntil = async (re: RegExp) => {
      while (!re.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        text += new TextDecoder().decode(value);
      }
    };
    await readUntil(/event: snapshot/);
    await app.tick();
    for (const o of gateway.offers) app.engine.ingestReports(succeed(o));
    await readUntil(/"to":"succeeded"[\s\S]*"to":"succeeded"/);
    ac.abort();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    // Resume from the middle: only later events come back.
    const mid = ids[Math.floor(ids.length / 2)]!;
    const ac2 = new AbortController();
    const res2 = await fetch(`${base}/api/v1/campaigns/${id}/events`, { signal: ac2.signal, headers: { ...auth, 'last-event-id': String(mid) } });
    const r2 = res2.body!.getReader();
    let t2 = '';
    while (!t2.includes(`id: ${ids.at(-1)}\n`)) t2 += new TextDecoder().decode((await r2.read()).value);
    ac2.abort();
    const ids2 = [...t2.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids2).toEqual(ids.filter((x) => x > mid));
  });

  it('404s the event stream of an unknown campaign', async () => {
    const { f } = await setup();
    expect((await f.inject({ url: '/api/v1/campaigns/42/events' })).statusCode).toBe(404);
  });
});

describe('metrics and OpenAPI', () => {
  it('exposes Prometheus metrics read from the database', async () => {
    const { f, app } = await setup(3);
    app.engine.deviceDisconnected('dev-000');
    app.engine.ingestReport({ deviceId: 'dev-001', actionId: 1, attempt: 1, seq: 1, step: 'accepted' });
    const text = (await f.inject({ url: '/metrics' })).body;
    expect(text).toMatch(/uniota_devices\{online="true"\} 2/);
    expect(text).toMatch(/uniota_devices\{online="false"\} 1/);
    expect(text).toMatch(/uniota_reports_total\{outcome="unknown_action"\} 1/);
  });

  it('publishes an OpenAPI document covering every API route', async () => {
    const { f } = await setup();
    const doc = (await f.inject({ url: '/docs/json' })).json();
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/v1/audit', '/api/v1/audit/verify', '/api/v1/campaigns', '/api/v1/campaigns/{id}', '/api/v1/campaigns/{id}/cancel',
      '/api/v1/campaigns/{id}/events', '/api/v1/campaigns/{id}/pause', '/api/v1/campaigns/{id}/resume', '/api/v1/devices',
      '/api/v1/devices/{id}', '/api/v1/devices/{id}/admission', '/api/v1/images', '/api/v1/images/{id}', '/api/v1/images/{id}/manifest',
      // console and accounts (issue 5)
      '/api/v1/auth/login', '/api/v1/auth/logout', '/api/v1/auth/me', '/api/v1/auth/setup', '/api/v1/campaigns/preview', '/api/v1/campaigns/{id}/devices', '/api/v1/images/{id}/signers',
      '/api/v1/fleet/summary', '/api/v1/tokens', '/api/v1/tokens/{id}/revoke', '/api/v1/users', '/api/v1/users/{id}/disable',
      // root rotation (trust root chain)
      '/api/v1/roots',
    ].sort());
  });
});
