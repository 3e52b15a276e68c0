import { describe, expect, it } from 'vitest';
import { openDb } from '../db/open.ts';
import { CampaignEngine } from '../campaign/engine.ts';
import { FakeClock, FakeGateway, IMAGE_ID, reporter } from '../test-helpers/fixtures.ts';
import { httpFixture, tokenFor } from '../test-helpers/http-fixture.ts';
import { initialAdmission, nextAdmission, type AdmissionCommand, type AdmissionState } from './transitions.ts';

describe('admission transition table', () => {
  // Every (state, command) pair: the table is small enough to state in full.
  const rows: Array<[AdmissionState, AdmissionCommand, AdmissionState | null]> = [
    ['pending', 'accept', 'accepted'],
    ['pending', 'reject', 'rejected'],
    ['pending', 'decommission', 'decommissioned'],
    ['accepted', 'accept', null],
    ['accepted', 'reject', 'rejected'],
    ['accepted', 'decommission', 'decommissioned'],
    ['rejected', 'accept', 'accepted'],
    ['rejected', 'reject', null],
    ['rejected', 'decommission', 'decommissioned'],
    ['decommissioned', 'accept', null],
    ['decommissioned', 'reject', null],
    ['decommissioned', 'decommission', null],
  ];
  it.each(rows)('%s + %s -> %s', (from, cmd, to) => expect(nextAdmission(from, cmd)).toBe(to));

  it.each([
    ['required', false, 'pending'],
    ['required', true, 'accepted'],
    ['open', false, 'accepted'],
  ] as const)('first hello under %s policy (pre-authorized %s) -> %s', (policy, pre, state) => {
    expect(initialAdmission(policy, pre)).toBe(state);
  });
});

const spec = {
  name: 'roll', imageId: IMAGE_ID, target: { hardware: ['board-a'] }, waves: { canary: 0, percents: [100] },
  concurrency: 100, timeoutMs: 60_000, retry: { maxAttempts: 1, baseDelayMs: 1000, factor: 2, maxDelayMs: 1000 }, continuous: true,
};

function requiredEngine() {
  const clock = new FakeClock();
  const gateway = new FakeGateway();
  const engine = new CampaignEngine({ db: openDb({ path: ':memory:' }), gateway, clock: clock.now, admission: 'required' });
  engine.images.insert({ id: IMAGE_ID, version: '2.0.0', compatible: ['board-a'], size: 1, manifest: {}, devSigned: false, uploadedAt: clock.now() });
  const hello = (id: string) => engine.deviceHello({ deviceId: id, hardware: 'board-a', currentVersion: '1.0.0' });
  return { engine, gateway, hello };
}

describe('admission in the engine (policy required)', () => {
  it('keeps a new device pending and untargeted until an operator accepts it', async () => {
    const { engine, gateway, hello } = requiredEngine();
    hello('dev-new');
    expect(engine.devices.get('dev-new')?.admission).toBe('pending');
    engine.createCampaign(spec, 'alice');
    await engine.tick();
    expect(gateway.offeredDevices()).toEqual([]);
    expect(engine.setAdmission('dev-new', 'accept', 'alice')).toBe('accepted');
    await engine.tick();
    expect(gateway.offeredDevices()).toEqual(['dev-new']);
  });

  it('accepts a pre-authorized id at its first hello', async () => {
    const { engine, gateway, hello } = requiredEngine();
    expect(engine.preauthorizeDevice('dev-pre', 'alice')).toBe('preauthorized');
    hello('dev-pre');
    hello('dev-other');
    expect(engine.devices.get('dev-pre')?.admission).toBe('accepted');
    expect(engine.devices.get('dev-other')?.admission).toBe('pending');
    engine.createCampaign(spec, 'alice');
    await engine.tick();
    expect(gateway.offeredDevices()).toEqual(['dev-pre']);
  });

  it('ignores and counts hellos and reports of a rejected device, and withdraws its offer', async () => {
    const { engine, gateway, hello } = requiredEngine();
    engine.preauthorizeDevice('dev-r', 'alice');
    hello('dev-r');
    engine.createCampaign(spec, 'alice');
    await engine.tick();
    const offer = gateway.offers[0]!;
    engine.setAdmission('dev-r', 'reject', 'alice');
    const action = () => engine.actions.forDevice('dev-r')[0]!;
    expect(action().state).toBe('canceled');
    const before = { device: engine.devices.get('dev-r'), action: action() };
    const r = reporter(offer);
    expect(engine.ingestReports([r('accepted'), r('downloading')])).toEqual(['refused_device', 'refused_device']);
    engine.deviceHello({ deviceId: 'dev-r', hardware: 'board-x', currentVersion: '9.9.9' });
    // Nothing changed but the counter.
    expect(engine.devices.get('dev-r')).toEqual(before.device);
    expect(action()).toEqual(before.action);
    expect(engine.admission.refusedCount('dev-r')).toBe(3);
    await engine.tick();
    expect(gateway.offers).toHaveLength(1);
  });

  it('refuses illegal commands: decommissioned is final, unknown devices are not found', () => {
    const { engine, hello } = requiredEngine();
    hello('dev-d');
    engine.setAdmission('dev-d', 'decommission', 'alice');
    expect(() => engine.setAdmission('dev-d', 'accept', 'alice')).toThrow(expect.objectContaining({ code: 'SERVER_ILLEGAL_STATE' }));
    expect(() => engine.preauthorizeDevice('dev-d', 'alice')).toThrow(expect.objectContaining({ code: 'SERVER_ILLEGAL_STATE' }));
    expect(() => engine.setAdmission('nobody', 'accept', 'alice')).toThrow(expect.objectContaining({ code: 'SERVER_NOT_FOUND' }));
  });

  it('keeps refusing after a restart (the refused set is rebuilt from the database)', () => {
    const clock = new FakeClock();
    const db = openDb({ path: ':memory:' });
    const e1 = new CampaignEngine({ db, gateway: new FakeGateway(), clock: clock.now, admission: 'open' });
    e1.deviceHello({ deviceId: 'dev-x', hardware: 'board-a' });
    e1.setAdmission('dev-x', 'reject', 'alice');
    const e2 = new CampaignEngine({ db, gateway: new FakeGateway(), clock: clock.now, admission: 'open' });
    e2.deviceHello({ deviceId: 'dev-x', hardware: 'board-a' });
    expect(e2.admission.refusedCount('dev-x')).toBe(1);
  });
});

describe('admission API', () => {
  it('shows admission in the device JSON and changes it through POST /devices/:id/admission', async () => {
    const { f } = await httpFixture(1);
    const dev = await f.inject({ method: 'GET', url: '/api/v1/devices/dev-000' });
    expect(dev.json().device.admission).toBe('accepted');
    const res = await f.inject({ method: 'POST', url: '/api/v1/devices/dev-000/admission', payload: { action: 'reject' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: 'dev-000', admission: 'rejected', preauthorized: false, refusedMessages: 0 });
    const list = await f.inject({ method: 'GET', url: '/api/v1/devices' });
    expect(list.json().items[0].admission).toBe('rejected');
    const audit = await f.inject({ method: 'GET', url: '/api/v1/audit' });
    expect(JSON.stringify(audit.json())).toContain('device.reject');
    await f.close();
  });

  it('pre-authorizes an unknown id; refuses illegal changes, unknown devices and viewers', async () => {
    const { f } = await httpFixture(1);
    const pre = await f.inject({ method: 'POST', url: '/api/v1/devices/dev-future/admission', payload: { action: 'preauthorize' } });
    expect(pre.json()).toEqual({ id: 'dev-future', admission: null, preauthorized: true, refusedMessages: 0 });
    expect((await f.inject({ method: 'POST', url: '/api/v1/devices/dev-000/admission', payload: { action: 'accept' } })).statusCode).toBe(409);
    expect((await f.inject({ method: 'POST', url: '/api/v1/devices/nobody/admission', payload: { action: 'reject' } })).statusCode).toBe(404);
    expect((await f.inject({ method: 'POST', url: '/api/v1/devices/dev-000/admission', payload: { action: 'promote' } })).statusCode).toBe(400);
    const viewer = tokenFor(f, 'viewer');
    const denied = await f.inject({
      method: 'POST', url: '/api/v1/devices/dev-000/admission', payload: { action: 'reject' }, headers: { authorization: `Bearer ${viewer}` },
    });
    expect(denied.statusCode).toBe(403);
    const seen = await f.inject({ method: 'GET', url: '/api/v1/devices/dev-000/admission', headers: { authorization: `Bearer ${viewer}` } });
    expect(seen.json().admission).toBe('accepted');
    await f.close();
  });
});
