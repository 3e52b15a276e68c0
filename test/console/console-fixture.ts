import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createBundle } from '@uniota/image';
import { build, createServerApp, listen, memoryBlobStore, openDb, rootBundleVerifier, type ServerApp } from '@uniota/update-server';
// Test helpers of the update server (trust root, fake gateway, report builders); not its public API.
import { testPasswordCost, trustSetup } from '../../update-server/src/test-helpers/http-fixture.ts';
import { FakeGateway, reporter } from '../../update-server/src/test-helpers/fixtures.ts';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const screenshotDir = join(repo, 'test-results', 'screenshots');
export const PASSWORD = 'correct horse battery staple';

/** Builds the console if its sources changed (fast no-op otherwise). */
export function buildConsole(): void {
  execFileSync('bash', [join(repo, 'scripts', 'build-console.sh')], { stdio: 'inherit' });
}

/** Debian's Chromium, headless, through playwright-core (no browser download); playwright gives it a fresh --user-data-dir. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * Simulated devices behind a fake gateway: each offer is answered with the
 * happy path, one step every `stepMs`, while `running` is true. This stands
 * in for the MQTT gateway; the engine cannot tell the difference.
 */
export class SimulatedFleet {
  running = false;
  private seen = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly app: ServerApp, private readonly gateway: FakeGateway, stepMs = 120) {
    this.timer = setInterval(() => this.step(), stepMs);
  }
  private queue: (() => void)[] = [];
  private step(): void {
    if (!this.running) return;
    for (const o of this.gateway.offers.slice(this.seen)) {
      const r = reporter(o);
      for (const s of ['accepted', 'downloading', 'downloaded', 'installing', 'rebooting', 'committed'] as const) {
        this.queue.push(() => { this.app.engine.ingestReports([r(s)]); });
      }
    }
    this.seen = this.gateway.offers.length;
    // A few reports per step, so progress is visibly gradual.
    for (const fn of this.queue.splice(0, 4)) fn();
    void this.app.tick();
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

/** A listening server with a simulated fleet, three accounts and a signed bundle ready to upload. */
export async function consoleServer(devices: number) {
  const gateway = new FakeGateway();
  const trust = trustSetup(Date.now());
  const app = createServerApp({
    db: openDb({ path: ':memory:' }), gateway, blobs: memoryBlobStore(), verifyImage: rootBundleVerifier(trust.root, () => new Date()),
  });
  for (let i = 0; i < devices; i++) {
    app.engine.deviceHello({ deviceId: `sim-${String(i).padStart(3, '0')}`, hardware: 'board-a', tags: i < devices / 2 ? ['lab'] : ['field'], currentVersion: '1.0.0', bootedSlot: i % 2 ? 'B' : 'A', slots: i % 2 ? { a: { version: '0.9.0', bootable: true }, b: { version: '1.0.0', bootable: true }, trial: false } : { a: { version: '1.0.0', bootable: true }, b: { version: null, bootable: false }, trial: false } });
  }
  const f = await build({ app, logger: false, sseKeepAliveMs: 5_000, auth: { passwordCost: testPasswordCost } });
  for (const [u, role] of [['admin', 'admin'], ['alice', 'operator'], ['vic', 'viewer']] as const) await f.auth.createUser(u, PASSWORD, role);
  const base = await listen(f, { host: '127.0.0.1', port: 0 });
  const fleet = new SimulatedFleet(app, gateway);
  const bundle = createBundle(
    {
      product: 'demo', version: '2.0.0', securityCounter: 2, compatibleHardware: ['board-a'], expiresAt: new Date(Date.now() + 30 * 86_400_000),
      releaseNotes: 'Fixes the sensor driver.\n<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">',
    },
    new Uint8Array(256 * 1024).map((_, i) => (i * 7) & 0xff),
    [trust.imagesSigner],
  );
  return {
    app, f, base, fleet, gateway, bundle,
    async close() {
      fleet.stop();
      await f.close();
    },
  };
}

/** Signs in through the login form. */
export async function signIn(page: Page, base: string, username: string): Promise<void> {
  await page.goto(`${base}/#/`);
  await page.fill('#username', username);
  await page.fill('#password', PASSWORD);
  await page.click('#sign-in');
  await page.waitForSelector('#whoami');
}

/** Writes a full-page screenshot for review. */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true });
}
