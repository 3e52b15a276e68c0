import { afterEach, describe, expect, it } from 'vitest';
import { httpFixture, tokenFor } from '../test-helpers/http-fixture.ts';

type Fx = Awaited<ReturnType<typeof httpFixture>>;
let open: Fx['f'][] = [];
afterEach(async () => {
  await Promise.all(open.map((f) => f.close()));
  open = [];
});

const SELF = 'http://localhost:80';

describe('refused requests in the audit log', () => {
  it('audits a refused state change as auth.denied with its code, and never a refused read', async () => {
    const fx = await httpFixture(1);
    open.push(fx.f);
    const viewer = tokenFor(fx.f, 'viewer');
    const body = { name: 'c', imageId: 'a'.repeat(64), target: { hardware: ['board-a'] } };
    const attempts = [
      { headers: { authorization: '' }, code: 'SERVER_UNAUTHENTICATED', status: 401 },
      { headers: { authorization: `Bearer ${viewer}` }, code: 'SERVER_FORBIDDEN', status: 403 },
      { headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, code: 'SERVER_CROSS_SITE', status: 403 },
    ];
    for (const a of attempts) {
      const res = await fx.f.inject({ method: 'POST', url: '/api/v1/campaigns', payload: body, headers: a.headers });
      expect(res.statusCode).toBe(a.status);
    }
    // A refused read is not audited: browsing without a session cannot grow the chain.
    expect((await fx.f.inject({ url: '/api/v1/devices', headers: { authorization: '' } })).statusCode).toBe(401);
    const denied = fx.app.engine.audit.list(0, 100).filter((e) => e.action === 'auth.denied');
    expect(denied.map((e) => [e.subject, JSON.parse(e.details) as unknown])).toEqual(attempts.map((a) => ['POST /api/v1/campaigns', { code: a.code }]));
    expect(denied[1]?.actor).toMatch(/^token:test-viewer#\d+@/);
    expect(denied[0]?.actor).toMatch(/^anonymous@/);
    // An accepted request is not a denial.
    const ok = await fx.f.inject({ method: 'POST', url: '/api/v1/devices/dev-000/admission', payload: { action: 'reject' }, headers: { origin: SELF } });
    expect(ok.statusCode).toBeLessThan(400);
    expect(fx.app.engine.audit.list(0, 100).filter((e) => e.action === 'auth.denied')).toHaveLength(3);
  });
});
