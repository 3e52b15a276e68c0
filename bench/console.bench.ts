// Page load time of the console's device list with 10,000 devices, measured
// in Debian's Chromium (playwright-core): from navigation until the first
// page of rows is rendered, cold (full page load incl. sign-in check) and
// warm (in-app navigation), plus a search and a jump to the last page.
// Rows are paged by the server (50 per page), so the browser never holds
// the whole fleet.
//
// Run: npx tsx bench/console.bench.ts [devices] [rounds]
import { buildConsole, consoleServer, launchChromium, signIn } from '../test/console/console-fixture.ts';

const DEVICES = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 5);

/** The browser globals used inside page.evaluate (this file compiles without the DOM lib). */
interface Win { document: { querySelector(s: string): { textContent: string | null } | null }; location: { hash: string } }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

buildConsole();
const srv = await consoleServer(0);
srv.app.db.transaction(() => {
  for (let i = 0; i < DEVICES; i++) {
    srv.app.engine.deviceHello({
      deviceId: `dev-${String(i).padStart(5, '0')}`, hardware: i % 3 === 0 ? 'board-b' : 'board-a', tags: [i % 2 ? 'field' : 'lab'],
      currentVersion: i % 4 === 0 ? '1.1.0' : '1.0.0', bootedSlot: i % 2 ? 'B' : 'A',
    });
  }
})();
const browser = await launchChromium();
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await signIn(page, srv.base, 'vic');
  const rowsShown = (expect: string) => page.waitForFunction((t) => (globalThis as unknown as Win).document.querySelector('#device-count')?.textContent === t, expect);
  const time = async (fn: () => Promise<unknown>) => { const t0 = performance.now(); await fn(); return performance.now() - t0; };
  const cold: number[] = [];
  const warm: number[] = [];
  const search: number[] = [];
  const last: number[] = [];
  const lastOffset = Math.floor((DEVICES - 1) / 50) * 50;
  for (let r = 0; r < ROUNDS; r++) {
    await page.goto(`${srv.base}/#/`);
    await page.waitForSelector('#fleet-cards');
    cold.push(await time(async () => { await page.goto(`${srv.base}/#/devices?r=${r}`); await page.reload(); await rowsShown(`1–50 of ${DEVICES}`); }));
    await page.goto(`${srv.base}/#/`);
    await page.waitForSelector('#fleet-cards');
    warm.push(await time(async () => { await page.evaluate(() => { (globalThis as unknown as Win).location.hash = '#/devices'; }); await rowsShown(`1–50 of ${DEVICES}`); }));
    search.push(await time(async () => { await page.evaluate(() => { (globalThis as unknown as Win).location.hash = '#/devices?q=dev-0999&tag=lab'; }); await rowsShown('1–5 of 5'); }));
    last.push(await time(async () => {
      await page.evaluate((o) => { (globalThis as unknown as Win).location.hash = `#/devices?offset=${o}`; }, lastOffset);
      await rowsShown(`${lastOffset + 1}–${DEVICES} of ${DEVICES}`);
    }));
  }
  const f = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
  console.log(`device list with ${DEVICES} devices, ${ROUNDS} rounds, Chromium headless, load avg ${(await import('node:os')).loadavg()[0]!.toFixed(2)}`);
  console.log(`  full page load to first 50 rows : ${f(cold)}`);
  console.log(`  in-app navigation to the list   : ${f(warm)}`);
  console.log(`  id search + tag filter          : ${f(search)}`);
  console.log(`  jump to the last page           : ${f(last)}`);
} finally {
  await browser.close();
  await srv.close();
}
