/**
 * Console / API attacks: starting an update without the right to. Each one
 * aims a campaign (with a validly signed image the server already holds) at
 * the row's device: if any got through, the device would install it, which
 * the runner's checks would catch.
 */
import { expect } from 'vitest';
import type { Harness, SuiteDevice } from './harness.ts';
import type { AttackRow, Observed } from './runner.ts';

const PASSWORD = 'a long and correct operator passphrase';
const images = new WeakMap<Harness, string>();
const sessions = new WeakMap<Harness, { cookie: string; csrf: string }>();

/** A signed image on the server, uploaded once per server by the legitimate operator. */
async function image(h: Harness): Promise<string> {
  const id = images.get(h) ?? (await h.upload(h.freshUpdate()));
  images.set(h, id);
  return id;
}

/** A console session of a legitimate operator (created once per server). */
async function operatorSession(h: Harness): Promise<{ cookie: string; csrf: string }> {
  const known = sessions.get(h);
  if (known !== undefined) return known;
  await (h.server.http as unknown as { auth: { createUser(u: string, p: string, r: string): Promise<unknown> } }).auth.createUser('console-op', PASSWORD, 'operator');
  const res = await fetch(`${h.server.address}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: h.server.address, 'sec-fetch-site': 'same-origin' },
    body: JSON.stringify({ username: 'console-op', password: PASSWORD }),
  });
  if (res.status !== 200) throw new Error(`operator login failed: ${res.status}`);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const session = { cookie, csrf: ((await res.json()) as { csrf: string }).csrf };
  sessions.set(h, session);
  return session;
}

const campaignCount = (h: Harness) => (h.server.app.db.prepare('SELECT COUNT(*) AS n FROM campaigns').get() as { n: number }).n;

/** Tries to start a campaign on the device with the given credentials; expects a refusal. */
function startCampaignRow(attack: string, expected: string, creds: (h: Harness) => Promise<{ token: string | null; headers?: Record<string, string> }>): AttackRow {
  return {
    cls: 'console/API',
    attack,
    expected,
    mount: async (h: Harness, dev: SuiteDevice): Promise<Observed> => {
      const img = await image(h);
      const c = await creds(h);
      const before = campaignCount(h);
      const r = await h.api('POST', '/api/v1/campaigns', {
        token: c.token,
        ...(c.headers === undefined ? {} : { headers: c.headers }),
        body: { name: 'hostile', imageId: img, target: { deviceIds: [dev.id] } },
      });
      expect(campaignCount(h), 'campaigns after the attempt').toBe(before);
      const code = r.json.error?.code ?? `HTTP ${r.status}`;
      return { code, how: `HTTP ${r.status}; no campaign created, no offer sent`, recorded: [{ in: 'audit', code }] };
    },
  };
}

export const consoleRows: AttackRow[] = [
  startCampaignRow('no session: start a campaign without credentials', 'SERVER_UNAUTHENTICATED', async () => ({ token: null })),
  startCampaignRow('viewer starts a campaign', 'SERVER_FORBIDDEN', async (h) => ({ token: h.viewerToken })),
  startCampaignRow('cross-site POST riding on an operator’s session cookie', 'SERVER_CROSS_SITE', async (h) => {
    const s = await operatorSession(h);
    return { token: null, headers: { cookie: s.cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'x-csrf-token': s.csrf } };
  }),
  startCampaignRow('same-site POST with the session cookie but no CSRF token', 'SERVER_CROSS_SITE', async (h) => {
    const s = await operatorSession(h);
    return { token: null, headers: { cookie: s.cookie, origin: h.server.address, 'sec-fetch-site': 'same-origin' } };
  }),
  {
    cls: 'console/API',
    attack: 'brute-force login (wrong passwords until refused)',
    expected: 'SERVER_RATE_LIMITED',
    mount: async (h) => {
      await (h.server.http as unknown as { auth: { createUser(u: string, p: string, r: string): Promise<unknown> } }).auth.createUser('victim', PASSWORD, 'admin');
      const login = (password: string) =>
        fetch(`${h.server.address}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: h.server.address, 'sec-fetch-site': 'same-origin' },
          body: JSON.stringify({ username: 'victim', password }),
        });
      const statuses: number[] = [];
      for (let i = 0; i < 12 && !statuses.includes(429); i++) statuses.push((await login(`guess-${i}-wrong-password`)).status);
      // Once limited, even the right password is refused: guessing on cannot tell a hit from a miss.
      const right = await login(PASSWORD);
      const body = (await right.json()) as { error?: { code: string } };
      expect(right.status).toBe(429);
      return {
        code: body.error?.code ?? `HTTP ${right.status}`,
        how: `${statuses.filter((s) => s === 401).length} wrong guesses answered 401, then 429, and the right password is refused too while limited`,
        recorded: [{ in: 'audit', code: 'SERVER_RATE_LIMITED' }],
      };
    },
  },
];
