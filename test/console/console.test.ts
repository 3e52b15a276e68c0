import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildConsole, consoleServer, launchChromium, shot, signIn } from './console-fixture.ts';
import { publishTablePart, type TableRow } from '../security/attack-table.ts';

/** The browser globals used inside page.evaluate (this file compiles without the DOM lib). */
interface Win {
  document: { querySelector(s: string): { textContent: string | null; getAttribute(n: string): string | null } | null };
  MutationObserver: new (cb: () => void) => { observe(target: unknown, opts: object): void };
  __progress: string[];
  __pwned?: number;
  __noReload?: boolean;
}

// The console in a real browser (Debian's Chromium), against a real server
// with simulated devices. The steps build on each other, in order.

let srv: Awaited<ReturnType<typeof consoleServer>>;
let browser: Browser;
let operator: BrowserContext;
let page: Page;
let bundlePath = '';
let campaignId = 0;
const pageErrors: string[] = [];
/** Issue #6's attack-table rows this file proves, pushed only once their case passed. */
const table: TableRow[] = [];

beforeAll(async () => {
  buildConsole();
  srv = await consoleServer(8);
  bundlePath = join(mkdtempSync(join(tmpdir(), 'uniota-console-')), 'demo-2.0.0.bundle');
  writeFileSync(bundlePath, srv.bundle);
  browser = await launchChromium();
  operator = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await operator.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy/.test(m.text())) pageErrors.push(m.text()); });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await srv?.close();
  if (table.length > 0) console.log(publishTablePart('console-browser', table));
});

describe('web console in Chromium', () => {
  it('signs an operator in and shows the fleet overview', async () => {
    await signIn(page, srv.base, 'alice');
    expect(await page.textContent('#whoami')).toBe('alice (operator)');
    await page.waitForSelector('#fleet-cards');
    expect(await page.textContent('#fleet-cards')).toMatch(/8\s*devices\s*8\s*online\s*0\s*offline/);
    await shot(page, '01-overview');
  });

  it('lists and pages devices, and opens a device', async () => {
    await page.goto(`${srv.base}/#/devices?q=sim-00`);
    await page.waitForSelector('#devices-table');
    expect(await page.textContent('#device-count')).toBe('1–8 of 8');
    await shot(page, '02-devices');
    await page.click('text=sim-003');
    await page.waitForSelector('#device-facts');
    expect(await page.textContent('#device-facts')).toContain('board-a');
    // Both slots as the agent reported them: B runs 1.0.0 (good), A holds 0.9.0 in standby.
    const slots = await page.textContent('#device-slots');
    expect(slots).toMatch(/A\s*0\.9\.0\s*yes\s*standby/);
    expect(slots).toMatch(/B\s*1\.0\.0\s*yes\s*good \(running\)/);
    await shot(page, '03-device');
  });

  it('uploads a bundle with progress and renders release notes containing <script> as inert text', async () => {
    await page.goto(`${srv.base}/#/images`);
    await page.setInputFiles('#bundle-file', bundlePath);
    await page.evaluate(() => {
      const w = (globalThis as unknown as Win);
      w.__progress = [];
      new w.MutationObserver(() => w.__progress.push((globalThis as unknown as Win).document.querySelector('#upload-progress')?.getAttribute('data-progress') ?? ''))
        .observe((globalThis as unknown as Win).document.querySelector('#upload-progress')!, { attributes: true, attributeFilter: ['data-progress'] });
    });
    await page.click('#upload');
    await page.waitForSelector('#manifest');
    expect(await page.textContent('#manifest')).toMatch(/Security counter\s*2/);
    expect(await page.evaluate(() => ((globalThis as unknown as Win)).__progress.at(-1))).toBe('1.000'); // progress was reported up to 100 %
    const notes = page.locator('#release-notes');
    expect(await notes.textContent()).toContain('<script>window.__pwned = 1</script>');
    expect(await notes.locator('script, img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as Win).__pwned)).toBeUndefined();
    table.push({
      cls: 'console/API (real Chromium)',
      attack: 'script in release notes: a signed bundle whose notes hold <script>window.__pwned = 1</script>, uploaded and opened in the console',
      expected: 'shown as inert text, never run',
      observed: `the notes show the <script> tag as text; ${await notes.locator('script, img').count()} script/img elements in them; window.__pwned ${String(await page.evaluate(() => (globalThis as unknown as Win).__pwned))}`,
    });
    await shot(page, '04-image');
    await page.goto(`${srv.base}/#/images`);
    await page.waitForSelector('#images-table >> text=2.0.0');
    await shot(page, '05-images');
  });

  it('creates a campaign with a live matching count, pauses it with confirmation', async () => {
    await page.goto(`${srv.base}/#/campaigns/new`);
    await page.waitForSelector('#campaign-form');
    await page.fill('input[name=tags]', 'lab');
    await page.waitForFunction(() => (globalThis as unknown as Win).document.querySelector('#matching')?.textContent === '4 matching devices');
    await page.fill('input[name=tags]', '');
    await page.fill('input[name=hardware]', 'board-a');
    await page.waitForFunction(() => (globalThis as unknown as Win).document.querySelector('#matching')?.textContent === '8 matching devices');
    await page.fill('input[name=name]', 'browser rollout');
    await page.fill('input[name=percents]', '50, 100');
    await shot(page, '06-new-campaign');
    await page.click('#create-campaign');
    await page.waitForSelector('#campaign-state');
    campaignId = Number(/#\/campaigns\/(\d+)/.exec(page.url())?.[1]);
    expect(campaignId).toBeGreaterThan(0);
    await page.evaluate(() => { (globalThis as unknown as Win).__noReload = true; });
    await page.click('#pause');
    await page.click('#confirm-no'); // "Keep": nothing happens
    expect(await page.textContent('#campaign-state')).toBe('running');
    await page.click('#pause');
    await page.click('#confirm-yes');
    await page.waitForFunction(() => (globalThis as unknown as Win).document.querySelector('#campaign-state')?.textContent === 'paused');
  });

  it('lets a viewer see the campaign but refuses resume and start with 403', async () => {
    const ctx = await browser.newContext();
    const vp = await ctx.newPage();
    await signIn(vp, srv.base, 'vic');
    await vp.goto(`${srv.base}/#/campaigns/${campaignId}`);
    await vp.waitForSelector('#viewer-note');
    expect(await vp.textContent('#campaign-state')).toBe('paused');
    await vp.click('#resume');
    await vp.click('#confirm-yes');
    await vp.waitForFunction(() => /resume refused: viewer may not/.test((globalThis as unknown as Win).document.querySelector('#command-error')?.textContent ?? ''));
    expect(srv.app.engine.status(campaignId).campaign.state).toBe('paused');
    const status = await vp.evaluate(async (id) => {
      const me = await (await fetch('/api/v1/auth/me')).json() as { csrf: string };
      const h = { 'content-type': 'application/json', 'x-csrf-token': me.csrf };
      const start = await fetch('/api/v1/campaigns', { method: 'POST', headers: h, body: JSON.stringify({ name: 'v', imageId: 'a'.repeat(64), target: {} }) });
      const pause = await fetch(`/api/v1/campaigns/${id}/pause`, { method: 'POST', headers: h });
      return [start.status, pause.status];
    }, campaignId);
    expect(status).toEqual([403, 403]);
    await shot(vp, '07-campaign-as-viewer');
    await ctx.close();
  });

  it('refuses a cross-site POST from another site', async () => {
    // A page on another origin (localhost is another site than 127.0.0.1) posting a form at the console.
    const target = `${srv.base}/api/v1/campaigns/${campaignId}/cancel`;
    const evil: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form id="f" method="POST" action="${target}"></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    const port = (evil.address() as { port: number }).port;
    const ep = await operator.newPage(); // same browser profile as the signed-in operator
    const answer = ep.waitForResponse((r) => r.url() === target);
    await ep.goto(`http://localhost:${port}/`);
    const res = await answer;
    expect(res.status()).toBe(403);
    expect(await res.text()).toContain('SERVER_CROSS_SITE');
    expect(srv.app.engine.status(campaignId).campaign.state).toBe('paused');
    await ep.close();
    await new Promise((r) => evil.close(r));
  });

  it('resumes, then shows the campaign progressing live to completion without a reload', async () => {
    await page.click('#resume');
    await page.click('#confirm-yes');
    await page.waitForFunction(() => (globalThis as unknown as Win).document.querySelector('#campaign-state')?.textContent === 'running');
    srv.fleet.running = true;
    // Watch the succeeded count rise through intermediate values, then completion.
    const seen = new Set<string>();
    const t0 = Date.now();
    while (Date.now() - t0 < 30_000) {
      seen.add((await page.textContent('#waves')) ?? '');
      if ((await page.textContent('#campaign-state')) === 'completed') break;
      await page.waitForTimeout(100);
    }
    expect(await page.textContent('#campaign-state')).toBe('completed');
    expect(seen.size).toBeGreaterThan(2); // more than "before" and "after": it moved while we watched
    expect(await page.getAttribute('#waves [data-wave="0"]', 'data-done')).toBe(await page.getAttribute('#waves [data-wave="0"]', 'data-total'));
    expect(await page.getAttribute('#waves [data-wave="2"]', 'data-done')).toBe('4');
    expect(await page.textContent('#counts')).toContain('succeeded: 8');
    expect(await page.evaluate(() => (globalThis as unknown as Win).__noReload)).toBe(true);
    await shot(page, '08-campaign-completed');
  });

  it('shows the audit log with its chain valid and the acting users', async () => {
    await page.goto(`${srv.base}/#/audit`);
    await page.waitForSelector('#audit-table');
    expect(await page.textContent('#chain')).toMatch(/^Hash chain valid: \d+ entries/);
    const text = (await page.textContent('#audit-table')) ?? '';
    expect(text).toMatch(/alice@127\.0\.0\.1\s*campaign\.pause/);
    expect(text).toMatch(/alice@127\.0\.0\.1\s*image\.upload/);
    await shot(page, '09-audit');
    await page.goto(`${srv.base}/#/campaigns`);
    await page.waitForSelector('#campaigns-table');
    await shot(page, '10-campaigns');
    await page.goto(`${srv.base}/#/`);
    await page.waitForSelector('#fleet-cards');
    await shot(page, '12-overview-after-rollout');
  });

  it('lets an admin create and revoke an API token (shown once)', async () => {
    const ctx = await browser.newContext();
    const ap = await ctx.newPage();
    await signIn(ap, srv.base, 'admin');
    await ap.goto(`${srv.base}/#/admin`);
    await ap.fill('input[name=token-name]', 'ci');
    await ap.click('text=Create token');
    const secret = (await ap.textContent('#new-token')) ?? '';
    expect(secret).toMatch(/^uniota_/);
    expect((await fetch(`${srv.base}/api/v1/devices`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);
    await shot(ap, '11-admin');
    await ap.click('#tokens-table >> text=Revoke');
    await ap.waitForSelector('#tokens-table >> text=revoked');
    expect((await fetch(`${srv.base}/api/v1/devices`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(401);
    await ctx.close();
    expect(pageErrors).toEqual([]); // no script errors, no CSP violations on any page
  });
});
