import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../db/open.ts';
import { CampaignEngine } from '../campaign/engine.ts';
import type { CancelCommand, DeviceGateway, DeviceReport, UpdateOffer } from '../campaign/gateway.ts';
import type { ReportStep, FailureKind } from '../campaign/states.ts';

/** Records what the engine sent; can be told to fail. */
export class FakeGateway implements DeviceGateway {
  offers: UpdateOffer[] = [];
  cancels: CancelCommand[] = [];
  failNext = 0;
  async sendOffer(o: UpdateOffer): Promise<void> {
    if (this.failNext > 0) { this.failNext--; throw new Error('link down'); }
    this.offers.push(o);
  }
  async sendCancel(c: CancelCommand): Promise<void> {
    this.cancels.push(c);
  }
  offeredDevices(): string[] {
    return this.offers.map((o) => o.deviceId);
  }
}

/** A settable clock. */
export class FakeClock {
  constructor(public t = Date.UTC(2026, 0, 1, 12, 0, 0)) {}
  now = (): number => this.t;
  advance(ms: number): void { this.t += ms; }
}

/** A temp directory removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'uniota-server-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const IMAGE_ID = 'a'.repeat(64);

/** Engine over a fresh database with `n` devices (dev-000..) of hardware 'board-a' and one image. */
export function engineFixture(n: number, opts: { path?: string; clock?: FakeClock; gateway?: FakeGateway } = {}) {
  const db: Db = openDb({ path: opts.path ?? ':memory:' });
  const clock = opts.clock ?? new FakeClock();
  const gateway = opts.gateway ?? new FakeGateway();
  const engine = new CampaignEngine({ db, gateway, clock: clock.now });
  if (engine.images.get(IMAGE_ID) === undefined) {
    engine.images.insert({
      id: IMAGE_ID, version: '2.0.0', compatible: ['board-a'], size: 1234, manifest: { version: '2.0.0' }, devSigned: false, uploadedAt: clock.now(),
    });
    for (let i = 0; i < n; i++) {
      engine.deviceHello({ deviceId: `dev-${String(i).padStart(3, '0')}`, hardware: 'board-a', tags: i % 2 === 0 ? ['even'] : ['odd'], currentVersion: '1.0.0' });
    }
  }
  return { db, clock, gateway, engine };
}

/** Builds device reports for an offer with increasing sequence numbers. */
export function reporter(o: UpdateOffer) {
  let seq = 0;
  return (step: ReportStep, failureKind?: FailureKind): DeviceReport => ({
    deviceId: o.deviceId, actionId: o.actionId, attempt: o.attempt, seq: ++seq, step,
    ...(failureKind !== undefined ? { failureKind } : {}),
  });
}

/** Reports the full happy path (download, install, reboot, commit) for an offer. */
export function succeed(o: UpdateOffer): DeviceReport[] {
  const r = reporter(o);
  return [r('accepted'), r('downloading'), r('downloaded'), r('installing'), r('rebooting'), r('committed')];
}

/** Reports an install that fell back to the old slot. */
export function rollBack(o: UpdateOffer): DeviceReport[] {
  const r = reporter(o);
  return [r('accepted'), r('downloaded'), r('installing'), r('rebooting'), r('rolled_back')];
}
