import { afterEach, describe, expect, it } from 'vitest';
import { build } from './build.ts';
import { accessTable } from '../auth/roles.ts';
import { httpFixture, makeBundle, testPasswordCost, tokenFor } from '../test-helpers/http-fixture.ts';
import { FakeClock } from '../test-helpers/fixtures.ts';
import { createServerApp } from '../app.ts';
import { openDb } from '../db/open.ts';
import { memoryBlobStore } from '../images/blob-store.ts';
import { FakeGateway } from '../test-helpers/fixtures.ts';

type Fx = Awaited<ReturnType<typeof httpFixture>>;
let open: Fx['f'][] = [];
afterEach(async () => {
  await Promise.all(open.map((f) => f.close()));
  open = [];
});

const SELF = 'http://localhost:80';
const PASSWORD = 'correct horse battery staple';

async function setup(devices = 0) {
  const fx = await httpFixture(devices);
  open.push(fx.f);
  return fx;
}

/** Signs `username` in through the login route; returns the cookie header and CSRF token. */
async function login(fx: Fx, username: string, password = PASSWORD) {
  const res = await fx.f.inject({
    method: 'POST', url: '/api/v1/auth/login', payload: { username, password },
    headers: { authorization: '', origin: SELF, 'sec-fetch-site': 'same-origin' },
  });
  const setCookie = String(res.headers['set-cookie'] ?? '');
  return { res, cookie: setCookie.split(';')[0] ?? '', setCookie, csrf: res.statusCode === 200 ? (res.json().csrf as string) : '' };
}

/** Request headers of a browser on the console page with this session. */
const browser = (s: { cookie: string; csrf: string }, extra: Record<string, string> = {}) => ({
  authorization: '', cookie: s.cookie, origin: SELF, 'sec-fetch-site': 'same-origin', 'x-csrf-token': s.csrf, ...extra,
});

async function withCampaign(fx: Fx) {
  const img = (await fx.f.inject({
    method: 'POST', url: '/api/v1/images', payload: Buffer.from(makeBundle(fx.trust.imagesSigner, fx.clock.now())),
    headers: { 'content-type': 'application/octet-stream' },
  })).json();
  const c = (await fx.f.inject({ method: 'POST', url: '/api/v1/campaigns', payload: { name: 'c', imageId: img.id, target: { hardware: ['board-a'] } } })).json();
  return { imageId: img.id as string, campaignId: c.campaign.id as number };
}

describe('access rules', () => {
  it('every API route has an explicit rule, and without credentials only public ones answer', async () => {
    const fx = await setup();
    const doc = (await fx.f.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    expect(routes.length).toBeGreaterThan(20);
    for (const r of routes) {
      expect(accessTable[r], `no access rule for ${r}`).toBeDefined();
      if (accessTable[r] === 'public') continue;
      const [method, url] = r.split(' ') as [string, string];
      const res = await fx.f.inject({ method: method as 'GET', url: url.replace(/:id/, method === 'GET' && url.startsWith('/api/v1/images') ? 'a'.repeat(64) : '1'), headers: { authorization: '' } });
      expect(res.statusCode, r).toBe(401);
      expect(res.json().error.code).toBe('SERVER_UNAUTHENTICATED');
    }
  });

  it('a viewer reads everything but gets 403 on every state change; an operator cannot manage users or tokens', async () => {
    const fx = await setup(3);
    const { campaignId, imageId } = await withCampaign(fx);
    const viewer = { authorization: `Bearer ${tokenFor(fx.f, 'viewer')}` };
    for (const url of ['/api/v1/devices', '/api/v1/images', `/api/v1/campaigns/${campaignId}`, '/api/v1/audit', '/api/v1/fleet/summary']) {
      expect((await fx.f.inject({ url, headers: viewer })).statusCode, url).toBe(200);
    }
    for (const cmd of ['pause', 'resume', 'cancel']) {
      const res = await fx.f.inject({ method: 'POST', url: `/api/v1/campaigns/${campaignId}/${cmd}`, headers: viewer });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('SERVER_FORBIDDEN');
    }
    const create = await fx.f.inject({ method: 'POST', url: '/api/v1/campaigns', headers: viewer, payload: { name: 'v', imageId, target: { hardware: ['board-a'] } } });
    expect(create.statusCode).toBe(403);
    expect((await fx.f.inject({ method: 'POST', url: '/api/v1/images', headers: { ...viewer, 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(10) })).statusCode).toBe(403);
    expect(fx.app.engine.status(campaignId).campaign.state).toBe('running');

    const operator = { authorization: `Bearer ${tokenFor(fx.f, 'operator')}` };
    expect((await fx.f.inject({ method: 'POST', url: `/api/v1/campaigns/${campaignId}/pause`, headers: operator })).json().campaign.state).toBe('paused');
    expect((await fx.f.inject({ method: 'POST', url: '/api/v1/users', headers: operator, payload: { username: 'x', password: PASSWORD, role: 'admin' } })).statusCode).toBe(403);
    expect((await fx.f.inject({ method: 'POST', url: '/api/v1/tokens', headers: operator, payload: { name: 'x', role: 'admin' } })).statusCode).toBe(403);
    expect((await fx.f.inject({ url: '/api/v1/users', headers: operator })).statusCode).toBe(403);
  });
});

describe('sessions', () => {
  it('login sets an HttpOnly SameSite=Strict cookie; a session needs its CSRF token to change anything; the audit log names the user', async () => {
    const fx = await setup(2);
    const { campaignId } = await withCampaign(fx);
    await fx.f.auth.createUser('alice', PASSWORD, 'operator');
    const s = await login(fx, 'alice');
    expect(s.res.statusCode).toBe(200);
    expect(s.setCookie).toMatch(/^uniota_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/); // plain http: no __Host-/Secure
    const me = await fx.f.inject({ url: '/api/v1/auth/me', headers: { authorization: '', cookie: s.cookie } });
    expect(me.json()).toEqual({ username: 'alice', role: 'operator', kind: 'session', csrf: s.csrf });

    const noCsrf = await fx.f.inject({ method: 'POST', url: `/api/v1/campaigns/${campaignId}/pause`, headers: browser(s, { 'x-csrf-token': '' }) });
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json().error.code).toBe('SERVER_CROSS_SITE');
    const ok = await fx.f.inject({ method: 'POST', url: `/api/v1/campaigns/${campaignId}/pause`, headers: browser(s) });
    expect(ok.json().campaign.state).toBe('paused');
    const entry = fx.app.engine.audit.list(0, 100).find((e) => e.action === 'campaign.pause');
    expect(entry?.actor).toMatch(/^alice@/);
  });

  it.each([
    ['Origin of another site', { origin: 'https://evil.example' }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'sec-fetch-site': 'same-site' }],
  ])('refuses a cross-site POST (%s) even with a valid session and token', async (_n, extra) => {
    const fx = await setup(2);
    const { campaignId } = await withCampaign(fx);
    await fx.f.auth.createUser('alice', PASSWORD, 'admin');
    const s = await login(fx, 'alice');
    const res = await fx.f.inject({ method: 'POST', url: `/api/v1/campaigns/${campaignId}/pause`, headers: browser(s, extra) });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('SERVER_CROSS_SITE');
    expect(fx.app.engine.status(campaignId).campaign.state).toBe('running');
    // A login form posted from another site is refused too (login CSRF).
    const l = await fx.f.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'alice', password: PASSWORD }, headers: { authorization: '', ...extra } });
    expect(l.statusCode).toBe(403);
  });

  it('a new session id at every login ends the old one; logout ends the session', async () => {
    const fx = await setup();
    await fx.f.auth.createUser('bob', PASSWORD, 'viewer');
    const first = await login(fx, 'bob');
    const second = await fx.f.inject({
      method: 'POST', url: '/api/v1/auth/login', payload: { username: 'bob', password: PASSWORD },
      headers: { authorization: '', cookie: first.cookie, origin: SELF },
    });
    const cookie2 = String(second.headers['set-cookie']).split(';')[0]!;
    expect(cookie2).not.toBe(first.cookie);
    expect((await fx.f.inject({ url: '/api/v1/auth/me', headers: { authorization: '', cookie: first.cookie } })).statusCode).toBe(401);
    const s2 = { cookie: cookie2, csrf: second.json().csrf as string };
    expect((await fx.f.inject({ url: '/api/v1/auth/me', headers: { authorization: '', cookie: cookie2 } })).statusCode).toBe(200);
    const out = await fx.f.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: browser(s2) });
    expect(String(out.headers['set-cookie'])).toMatch(/Max-Age=0/);
    expect((await fx.f.inject({ url: '/api/v1/auth/me', headers: { authorization: '', cookie: cookie2 } })).statusCode).toBe(401);
  });

  it('ends a session after 30 idle minutes, and after 12 hours however busy', async () => {
    const fx = await setup();
    await fx.f.auth.createUser('carol', PASSWORD, 'viewer');
    const me = (cookie: string) => fx.f.inject({ url: '/api/v1/auth/me', headers: { authorization: '', cookie } });
    const idle = await login(fx, 'carol');
    fx.clock.advance(29 * 60_000);
    expect((await me(idle.cookie)).statusCode).toBe(200);
    fx.clock.advance(31 * 60_000);
    expect((await me(idle.cookie)).statusCode).toBe(401);
    const busy = await login(fx, 'carol');
    for (let t = 0; t < 12 * 60; t += 20) {
      expect((await me(busy.cookie)).statusCode).toBe(200);
      fx.clock.advance(20 * 60_000);
    }
    fx.clock.advance(1); // now 12 h + 1 ms after login, 20 min after last use
    expect((await me(busy.cookie)).statusCode).toBe(401);
  });

  it('rate-limits logins: after 5 failures even the right password is refused with 429 until the window passes', async () => {
    const fx = await setup();
    await fx.f.auth.createUser('dave', PASSWORD, 'viewer');
    for (let i = 0; i < 5; i++) {
      const r = await login(fx, 'dave', `wrong-password-${i}`);
      expect(r.res.statusCode).toBe(401);
      expect(r.res.json().error).toEqual({ code: 'SERVER_UNAUTHENTICATED', message: 'wrong username or password' });
    }
    const limited = await login(fx, 'dave');
    expect(limited.res.statusCode).toBe(429);
    expect(limited.res.json().error.code).toBe('SERVER_RATE_LIMITED');
    expect(Number(limited.res.headers['retry-after'])).toBeGreaterThan(0);
    fx.clock.advance(15 * 60_000 + 1);
    expect((await login(fx, 'dave')).res.statusCode).toBe(200);
    // Unknown users fail the same way, so names cannot be probed.
    expect((await login(fx, 'nobody')).res.json().error.message).toBe('wrong username or password');
  });
});

describe('users', () => {
  it('an admin creates and disables accounts (ending their sessions) but cannot disable itself', async () => {
    const fx = await setup();
    const created = await fx.f.inject({ method: 'POST', url: '/api/v1/users', payload: { username: 'erin', password: PASSWORD, role: 'operator' } });
    expect(created.statusCode).toBe(201);
    expect(created.body).not.toContain('scrypt');
    expect((await fx.f.inject({ method: 'POST', url: '/api/v1/users', payload: { username: 'erin', password: PASSWORD, role: 'viewer' } })).json().error.code).toBe('SERVER_USER_EXISTS');
    expect((await fx.f.inject({ method: 'POST', url: '/api/v1/users', payload: { username: 'frank', password: 'short', role: 'viewer' } })).statusCode).toBe(400);
    const erin = await login(fx, 'erin');
    expect((await fx.f.inject({ method: 'POST', url: `/api/v1/users/${created.json().id}/disable` })).json().disabled).toBe(true);
    expect((await fx.f.inject({ url: '/api/v1/auth/me', headers: { authorization: '', cookie: erin.cookie } })).statusCode).toBe(401);
    expect((await login(fx, 'erin')).res.statusCode).toBe(401);
    await fx.f.auth.createUser('root', PASSWORD, 'admin');
    const root = await login(fx, 'root');
    const rootId = fx.f.auth.users.byName('root')!.id;
    const self = await fx.f.inject({ method: 'POST', url: `/api/v1/users/${rootId}/disable`, headers: browser(root) });
    expect(self.statusCode).toBe(409);
  });
});

describe('API tokens', () => {
  it('are shown once, work as Bearer, and stop working when revoked', async () => {
    const fx = await setup();
    const created = await fx.f.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'ci', role: 'operator' } });
    expect(created.statusCode).toBe(201);
    const { secret, token } = created.json();
    expect(secret).toMatch(/^uniota_/);
    const list = await fx.f.inject({ url: '/api/v1/tokens' });
    expect(list.body).not.toContain(secret);
    const auth = { authorization: `Bearer ${secret}` };
    expect((await fx.f.inject({ url: '/api/v1/devices', headers: auth })).statusCode).toBe(200);
    expect((await fx.f.inject({ method: 'POST', url: `/api/v1/tokens/${token.id}/revoke` })).statusCode).toBe(200);
    const after = await fx.f.inject({ url: '/api/v1/devices', headers: auth });
    expect(after.statusCode).toBe(401);
    expect(fx.app.engine.audit.list(0, 100).map((e) => e.action)).toEqual(['token.create', 'token.revoke']);
    expect((await fx.f.inject({ method: 'POST', url: `/api/v1/tokens/${token.id}/revoke` })).statusCode).toBe(404);
  });
});

describe('security headers and first setup', () => {
  it('sends a CSP without inline script and the helmet headers on every answer', async () => {
    const fx = await setup();
    for (const url of ['/', '/api/v1/devices']) {
      const res = await fx.f.inject({ url });
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    }
  });

  it('creates the first admin once with the setup token, and never with a wrong one', async () => {
    const clock = new FakeClock();
    const app = createServerApp({
      db: openDb({ path: ':memory:' }), gateway: new FakeGateway(), blobs: memoryBlobStore(),
      verifyImage: () => { throw new Error('unused'); }, clock: clock.now,
    });
    const f = await build({ app, logger: false, auth: { passwordCost: testPasswordCost, setupToken: 'one-time-setup-token' } });
    open.push(f as Fx['f']);
    const setupReq = (token: string, username: string) =>
      f.inject({ method: 'POST', url: '/api/v1/auth/setup', payload: { token, username, password: PASSWORD }, headers: { origin: SELF } });
    expect((await f.inject({ url: '/api/v1/auth/setup' })).json()).toEqual({ open: true });
    expect((await setupReq('wrong-setup-token-xx', 'eve')).statusCode).toBe(403);
    const ok = await setupReq('one-time-setup-token', 'root');
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toEqual({ username: 'root', role: 'admin' });
    expect((await setupReq('one-time-setup-token', 'second')).statusCode).toBe(403);
    expect((await f.inject({ url: '/api/v1/auth/setup' })).json()).toEqual({ open: false });
  });
});
