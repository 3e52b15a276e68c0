import { describe, expect, it } from 'vitest';
import { engineFixture, IMAGE_ID, reporter, rollBack, succeed, tempDir, FakeClock, FakeGateway } from '../test-helpers/fixtures.ts';
import { verifyAuditChain } from '../audit/audit-log.ts';

const baseSpec = {
  name: 'roll 2.0',
  imageId: IMAGE_ID,
  target: { hardware: ['board-a'] },
  waves: { canary: 2, percents: [50, 100] },
  concurrency: 100,
  timeoutMs: 60_000,
  retry: { maxAttempts: 3, baseDelayMs: 1000, factor: 2, maxDelayMs: 10_000 },
};

describe('CampaignEngine', () => {
  it('offers only the canary first, then opens the waves as devices commit', async () => {
    const { engine, gateway } = engineFixture(10);
    const { campaign } = engine.createCampaign(baseSpec, 'alice');
    await engine.tick();
    expect(gateway.offeredDevices()).toEqual(['dev-000', 'dev-001']);
    // Reports short of the commit do not open the next wave.
    for (const o of gateway.offers) engine.ingestReports(succeed(o).slice(0, 5));
    await engine.tick();
    expect(gateway.offers).toHaveLength(2);
    for (const o of gateway.offers) engine.ingestReports(succeed(o).slice(5));
    await engine.tick();
    // 50% of 10 = 5 devices after the canary: 3 more.
    expect(gateway.offeredDevices().slice(2)).toEqual(['dev-002', 'dev-003', 'dev-004']);
    for (const o of gateway.offers.slice(2)) engine.ingestReports(succeed(o));
    await engine.tick();
    expect(gateway.offers).toHaveLength(10);
    for (const o of gateway.offers.slice(5)) engine.ingestReports(succeed(o));
    await engine.tick();
    const s = engine.status(campaign.id);
    expect(s.campaign.state).toBe('completed');
    expect(s.counts).toEqual({ succeeded: 10 });
    expect(s.waves.map((w) => w.counts.succeeded)).toEqual([2, 3, 5]);
    expect(engine.devices.get('dev-007')?.currentVersion).toBe('2.0.0');
  });

  it('pauses itself when a canary device rolls back, and offers nobody outside the canary', async () => {
    const { engine, gateway } = engineFixture(10);
    const { campaign } = engine.createCampaign(baseSpec, 'alice');
    await engine.tick();
    const [a, b] = gateway.offers;
    engine.ingestReports(succeed(a!));
    engine.ingestReports(rollBack(b!));
    await engine.tick();
    await engine.tick();
    const s = engine.status(campaign.id);
    expect(s.campaign.state).toBe('paused');
    expect(s.campaign.stateReason).toMatch(/^wave_gate/);
    expect(s.counts).toMatchObject({ succeeded: 1, rolled_back: 1, queued: 8 });
    expect(gateway.offeredDevices()).toEqual(['dev-000', 'dev-001']);
  });

  it('abort criteria abort the campaign and cancel devices that have not installed yet', async () => {
    const { engine, gateway } = engineFixture(10);
    const spec = {
      ...baseSpec, waves: { canary: 0, percents: [100], successPercent: 0 },
      abort: [{ failureType: 'all', thresholdPercent: 50, minFinished: 2, action: 'abort' }],
    };
    const { campaign } = engine.createCampaign(spec, 'alice');
    await engine.tick();
    expect(gateway.offers).toHaveLength(10);
    const [o0, o1, o2] = gateway.offers;
    engine.ingestReports(rollBack(o0!));
    await engine.tick();
    expect(engine.status(campaign.id).campaign.state).toBe('running'); // 1 finished < minFinished
    const r1 = reporter(o1!);
    engine.ingestReports([r1('downloading'), r1('failed', 'verify_failed')]);
    const r2 = reporter(o2!);
    engine.ingestReports([r2('installing')]);
    await engine.tick();
    const s = engine.status(campaign.id);
    expect(s.campaign.state).toBe('aborted');
    // 7 offered-but-not-started go to canceling and get a cancel; the installing one is left to finish.
    expect(s.counts).toMatchObject({ rolled_back: 1, failed: 1, installing: 1, canceling: 7 });
    expect(gateway.cancels.map((c) => c.deviceId).sort()).toEqual(gateway.offers.slice(3).map((o) => o.deviceId).sort());
    expect(verifyAuditChain(engine['db']).ok).toBe(true);
  });

  it('times out a device that goes silent', async () => {
    const { engine, gateway, clock } = engineFixture(1);
    const { campaign } = engine.createCampaign({ ...baseSpec, waves: { canary: 1, percents: [] } }, 'alice');
    await engine.tick();
    const r = reporter(gateway.offers[0]!);
    clock.advance(50_000);
    engine.ingestReports([r('downloading')]);
    clock.advance(50_000); // 100 s after the offer, but only 50 s since the last progress
    await engine.tick();
    expect(engine.status(campaign.id).counts).toEqual({ downloading: 1 });
    clock.advance(10_000);
    await engine.tick();
    expect(engine.status(campaign.id).counts).toEqual({ timed_out: 1 });
    // A late report for the timed-out action changes nothing.
    expect(engine.ingestReport(r('committed'))).toBe('out_of_order');
    expect(engine.status(campaign.id).counts).toEqual({ timed_out: 1 });
  });

  it('retries transient failures with backoff, never permanent ones, and stops at maxAttempts', async () => {
    const { engine, gateway, clock } = engineFixture(2);
    const { campaign } = engine.createCampaign({ ...baseSpec, waves: { canary: 0, percents: [100], successPercent: 0 } }, 'alice');
    await engine.tick();
    const [d0, d1] = gateway.offers;
    engine.ingestReport(reporter(d0!)('failed', 'download_error'));
    engine.ingestReport(reporter(d1!)('failed', 'install_error'));
    await engine.tick();
    expect(engine.status(campaign.id).counts).toEqual({ retry_wait: 1, failed: 1 });
    clock.advance(999);
    await engine.tick();
    expect(gateway.offers).toHaveLength(2); // backoff not over
    clock.advance(1);
    await engine.tick();
    expect(gateway.offers).toHaveLength(3);
    const second = gateway.offers[2]!;
    expect(second).toMatchObject({ deviceId: 'dev-000', attempt: 2 });
    // A report from attempt 1 arriving late is not applied to attempt 2.
    expect(engine.ingestReport({ ...reporter(d0!)('committed'), seq: 99 })).toBe('stale_attempt');
    engine.ingestReport(reporter(second)('failed', 'download_error'));
    clock.advance(2000); // second backoff: base * factor
    await engine.tick();
    const third = gateway.offers[3]!;
    expect(third.attempt).toBe(3);
    engine.ingestReport(reporter(third)('failed', 'download_error'));
    clock.advance(60_000);
    await engine.tick();
    expect(gateway.offers).toHaveLength(4);
    const s = engine.status(campaign.id);
    expect(s.counts).toEqual({ failed: 2 });
    expect(s.campaign.state).toBe('completed');
  });

  it('a disconnect fails nothing: the device carries on and its later reports count; one that stays away times out', async () => {
    const { engine, gateway, clock } = engineFixture(3);
    const { campaign } = engine.createCampaign({ ...baseSpec, waves: { canary: 0, percents: [100] }, timeoutMs: 60_000 }, 'alice');
    await engine.tick();
    const [d0, d1, d2] = gateway.offers;
    const r0 = reporter(d0!);
    const r1 = reporter(d1!);
    engine.ingestReport(r0('downloading'));
    engine.ingestReports([r1('installing'), r1('rebooting')]);
    engine.ingestReport(reporter(d2!)('downloading'));
    for (const d of ['dev-000', 'dev-001', 'dev-002']) engine.deviceDisconnected(d);
    expect(engine.status(campaign.id).counts).toEqual({ downloading: 2, rebooting: 1 });
    // dev-000 reconnects and finishes the same attempt; dev-001 commits after its reboot.
    engine.ingestReports([r0('downloaded'), r0('installing'), r0('rebooting'), r0('committed'), r1('committed')]);
    expect(engine.status(campaign.id).counts).toEqual({ downloading: 1, succeeded: 2 });
    expect(gateway.offers).toHaveLength(3); // no retry attempt was offered
    // dev-002 never comes back: the campaign timeout ends it.
    clock.advance(60_000);
    await engine.tick();
    expect(engine.status(campaign.id).counts).toEqual({ timed_out: 1, succeeded: 2 });
  });

  it('cancel withdraws queued devices and refuses illegal changes', async () => {
    const { engine, gateway } = engineFixture(10);
    const { campaign } = engine.createCampaign(baseSpec, 'alice');
    await engine.tick();
    engine.command(campaign.id, 'cancel', 'bob');
    await engine.tick();
    const s = engine.status(campaign.id);
    expect(s.campaign.state).toBe('canceled');
    expect(s.counts).toEqual({ canceled: 8, canceling: 2 });
    expect(gateway.cancels).toHaveLength(2);
    expect(() => engine.command(campaign.id, 'resume', 'bob')).toThrow(expect.objectContaining({ code: 'SERVER_ILLEGAL_STATE' }));
    engine.ingestReport(reporter(gateway.offers[0]!)('canceled'));
    expect(engine.status(campaign.id).counts).toEqual({ canceled: 9, canceling: 1 });
  });

  it('pause stops new offers; resume after a wave gate lets the operator continue', async () => {
    const { engine, gateway } = engineFixture(4);
    const { campaign } = engine.createCampaign({ ...baseSpec, waves: { canary: 1, percents: [] } }, 'alice');
    await engine.tick();
    engine.ingestReports(rollBack(gateway.offers[0]!));
    await engine.tick();
    expect(engine.status(campaign.id).campaign.state).toBe('paused');
    engine.command(campaign.id, 'resume', 'alice');
    await engine.tick();
    expect(engine.status(campaign.id).campaign.state).toBe('running');
    expect(gateway.offers).toHaveLength(4);
    engine.command(campaign.id, 'pause', 'alice');
    expect(() => engine.command(campaign.id, 'pause', 'alice')).not.toThrow();
  });

  it('resuming a wave-gate pause on the last wave lets the campaign complete instead of pausing again', async () => {
    const { engine, gateway } = engineFixture(2);
    const { campaign } = engine.createCampaign({ ...baseSpec, waves: { canary: 0, percents: [100] } }, 'alice');
    await engine.tick();
    engine.ingestReports(succeed(gateway.offers[0]!));
    engine.ingestReports(rollBack(gateway.offers[1]!));
    await engine.tick();
    expect(engine.status(campaign.id).campaign.state).toBe('paused');
    engine.command(campaign.id, 'resume', 'alice');
    await engine.tick();
    const s = engine.status(campaign.id);
    expect(s.campaign.state).toBe('completed');
    expect(s.counts).toEqual({ succeeded: 1, rolled_back: 1 });
  });

  it('ignores duplicated and reordered reports so nothing counts twice', async () => {
    const { engine, gateway } = engineFixture(1);
    const { campaign } = engine.createCampaign({ ...baseSpec, waves: { canary: 1, percents: [] } }, 'alice');
    await engine.tick();
    const reports = succeed(gateway.offers[0]!);
    expect(engine.ingestReports(reports).every((o) => o === 'applied')).toBe(true);
    expect(engine.ingestReports(reports).every((o) => o === 'duplicate')).toBe(true);
    const events = engine.events.since(campaign.id, 0).filter((e) => e.type === 'action' && e.data['to'] === 'succeeded');
    expect(events).toHaveLength(1);
    expect(engine.ingestReport({ ...reports[0]!, actionId: 999 })).toBe('unknown_action');
    expect(engine.ingestReport({ ...reports[0]!, deviceId: 'dev-999' })).toBe('unknown_action');
  });

  it('download-only campaigns succeed on download and do not change the running version', async () => {
    const { engine, gateway } = engineFixture(1);
    const { campaign } = engine.createCampaign({ ...baseSpec, waves: { canary: 1, percents: [] }, downloadOnly: true }, 'alice');
    await engine.tick();
    expect(gateway.offers[0]?.downloadOnly).toBe(true);
    const r = reporter(gateway.offers[0]!);
    engine.ingestReports([r('downloading'), r('downloaded')]);
    expect(engine.status(campaign.id).counts).toEqual({ succeeded: 1 });
    expect(engine.devices.get('dev-000')?.currentVersion).toBe('1.0.0');
  });

  it('respects the concurrency cap and the maintenance window', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 1, 0)); // 01:00 UTC
    const { engine, gateway } = engineFixture(5, { clock });
    engine.createCampaign(
      { ...baseSpec, waves: { canary: 0, percents: [100] }, concurrency: 2, maintenanceWindow: { start: '02:00', durationMinutes: 60 } },
      'alice',
    );
    await engine.tick();
    expect(gateway.offers).toHaveLength(0);
    clock.advance(60 * 60_000);
    await engine.tick();
    expect(gateway.offers).toHaveLength(2);
    engine.ingestReports(succeed(gateway.offers[0]!));
    await engine.tick();
    expect(gateway.offers).toHaveLength(3);
  });

  it('devices that join the target set while the campaign runs get it, in the last wave', async () => {
    const { engine, gateway } = engineFixture(2);
    const { campaign } = engine.createCampaign({ ...baseSpec, waves: { canary: 1, percents: [] } }, 'alice');
    await engine.tick();
    engine.deviceHello({ deviceId: 'late-1', hardware: 'board-a', currentVersion: '1.0.0' });
    engine.deviceHello({ deviceId: 'other-hw', hardware: 'board-z', currentVersion: '1.0.0' });
    await engine.tick();
    expect(gateway.offeredDevices()).toEqual(['dev-000']); // canary first, still
    engine.ingestReports(succeed(gateway.offers[0]!));
    await engine.tick();
    expect(gateway.offeredDevices().sort()).toEqual(['dev-000', 'dev-001', 'late-1']);
    expect(engine.status(campaign.id).total).toBe(3);
  });

  it('a batch of hellos registers and refreshes every device in it, and a joiner in it gets the running campaign', async () => {
    const { engine, gateway } = engineFixture(2);
    engine.createCampaign({ ...baseSpec, waves: { canary: 1, percents: [] } }, 'alice');
    await engine.tick();
    engine.deviceHellos([
      { deviceId: 'dev-001', hardware: 'board-a', currentVersion: '1.0.1', bootedSlot: 'B' },
      { deviceId: 'late-1', hardware: 'board-a', currentVersion: '1.0.0' },
      { deviceId: 'late-2', hardware: 'board-z', currentVersion: '1.0.0' },
    ]);
    expect(engine.devices.get('dev-001')).toMatchObject({ currentVersion: '1.0.1', bootedSlot: 'B' });
    expect(engine.devices.get('late-1')).toMatchObject({ hardware: 'board-a', admission: 'accepted' });
    expect(engine.devices.get('late-2')).toMatchObject({ hardware: 'board-z' });
    engine.ingestReports(succeed(gateway.offers[0]!));
    await engine.tick();
    expect(gateway.offeredDevices().sort()).toEqual(['dev-000', 'dev-001', 'late-1']);
  });

  it('re-sends an offer the gateway failed to deliver', async () => {
    const { engine, gateway } = engineFixture(1);
    engine.createCampaign({ ...baseSpec, waves: { canary: 1, percents: [] } }, 'alice');
    gateway.failNext = 1;
    const first = await engine.tick();
    expect(first).toEqual({ offersSent: 0, cancelsSent: 0, sendFailures: 1 });
    const second = await engine.tick();
    expect(second.offersSent).toBe(1);
    expect(gateway.offers[0]?.attempt).toBe(1); // same attempt, not a new one
    expect((await engine.tick()).offersSent).toBe(0);
  });

  it('resumes after a restart from the database with no device lost or counted twice', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = `${dir}/server.db`;
      const clock = new FakeClock();
      const gw1 = new FakeGateway();
      const first = engineFixture(6, { path, clock, gateway: gw1 });
      const { campaign } = first.engine.createCampaign({ ...baseSpec, waves: { canary: 2, percents: [100] } }, 'alice');
      await first.engine.tick();
      const canaryReports = gw1.offers.flatMap(succeed);
      first.engine.ingestReports(canaryReports.slice(0, 8)); // dev-000 done, dev-001 mid-way
      first.db.close(); // crash

      const gw2 = new FakeGateway();
      const second = engineFixture(6, { path, clock, gateway: gw2 });
      await second.engine.tick();
      expect(gw2.offers).toHaveLength(0); // nothing re-offered: both canary offers were delivered
      // The gateway redelivers everything after the restart; only the unseen reports count.
      const outcomes = second.engine.ingestReports(canaryReports);
      expect(outcomes.filter((o) => o === 'applied')).toHaveLength(4);
      await second.engine.tick();
      expect(gw2.offeredDevices()).toEqual(['dev-002', 'dev-003', 'dev-004', 'dev-005']);
      for (const o of gw2.offers) second.engine.ingestReports(succeed(o));
      await second.engine.tick();
      const s = second.engine.status(campaign.id);
      expect(s.campaign.state).toBe('completed');
      expect(s.counts).toEqual({ succeeded: 6 });
      expect(s.total).toBe(6);
      second.db.close();
    } finally {
      cleanup();
    }
  });

  it('a device whose hello was stored just before a crash still joins the running campaign after the restart', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = `${dir}/server.db`;
      const clock = new FakeClock();
      const first = engineFixture(2, { path, clock });
      const { campaign } = first.engine.createCampaign({ ...baseSpec, waves: { canary: 0, percents: [100] } }, 'alice');
      await first.engine.tick();
      first.engine.deviceHello({ deviceId: 'late-1', hardware: 'board-a', currentVersion: '1.0.0' });
      first.db.close(); // crash before the tick that would have enrolled it

      const gw2 = new FakeGateway();
      const second = engineFixture(2, { path, clock, gateway: gw2 });
      await second.engine.tick();
      expect(gw2.offeredDevices()).toEqual(['late-1']);
      expect(second.engine.status(campaign.id).total).toBe(3);
      second.db.close();
    } finally {
      cleanup();
    }
  });

  it('delivers the offers of a wave concurrently, not one PUBACK after another, and marks each sent once', async () => {
    const started: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gateway = new (class extends FakeGateway {
      override async sendOffer(o: Parameters<FakeGateway['sendOffer']>[0]): Promise<void> {
        started.push(o.deviceId);
        await gate;
        await super.sendOffer(o);
      }
    })();
    const { engine } = engineFixture(20, { gateway });
    engine.createCampaign({ ...baseSpec, waves: { canary: 0, percents: [100] } }, 'alice');
    const tick = engine.tick();
    await new Promise((r) => setImmediate(r));
    expect(started).toHaveLength(20); // all handed to the gateway before the first one was acknowledged
    release();
    expect(await tick).toEqual({ offersSent: 20, cancelsSent: 0, sendFailures: 0 });
    expect((await engine.tick()).offersSent).toBe(0);
    expect(gateway.offeredDevices()).toEqual(started);
  });

  it('rejects campaigns that cannot run', () => {
    const { engine } = engineFixture(2);
    expect(() => engine.createCampaign({ ...baseSpec, imageId: 'b'.repeat(64) }, 'a')).toThrow(expect.objectContaining({ code: 'SERVER_NOT_FOUND' }));
    expect(() => engine.createCampaign({ ...baseSpec, target: {} }, 'a')).toThrow(expect.objectContaining({ code: 'SERVER_BAD_REQUEST' }));
    expect(() => engine.createCampaign({ ...baseSpec, target: { tags: ['nope'] } }, 'a')).toThrow(expect.objectContaining({ code: 'SERVER_NO_TARGETS' }));
    expect(() => engine.createCampaign({ ...baseSpec, waves: { canary: 1, percents: [50, 20] } }, 'a')).toThrow(
      expect.objectContaining({ code: 'SERVER_BAD_REQUEST' }),
    );
    engine.deviceHello({ deviceId: 'z', hardware: 'board-z' });
    expect(() => engine.createCampaign({ ...baseSpec, target: { deviceIds: ['z'] } }, 'a')).toThrow(
      expect.objectContaining({ code: 'SERVER_INCOMPATIBLE_IMAGE' }),
    );
  });
});
