import { afterEach, describe, expect, it } from 'vitest';
import { httpFixture, makeBundle } from '../test-helpers/http-fixture.ts';
import { rollBack, succeed } from '../test-helpers/fixtures.ts';

type Fx = Awaited<ReturnType<typeof httpFixture>>;
let open: Fx['f'][] = [];
afterEach(async () => {
  await Promise.all(open.map((f) => f.close()));
  open = [];
});

// The read models the console is built on.
describe('console read APIs', () => {
  it('summarises the fleet, previews a target, lists a campaign by state and searches devices by id', async () => {
    const fx = await httpFixture(5); // dev-000..dev-004, dev-000/001 tagged lab
    open.push(fx.f);
    fx.app.engine.deviceDisconnected('dev-004');
    const img = (await fx.f.inject({
      method: 'POST', url: '/api/v1/images', payload: Buffer.from(makeBundle(fx.trust.imagesSigner, fx.clock.now())),
      headers: { 'content-type': 'application/octet-stream' },
    })).json();
    const signers = (await fx.f.inject({ url: `/api/v1/images/${img.id}/signers` })).json();
    expect(signers.keyids).toEqual([fx.trust.imagesSigner.keyid]);

    const preview = (t: object) => fx.f.inject({ method: 'POST', url: '/api/v1/campaigns/preview', payload: { imageId: img.id, target: t } });
    expect((await preview({ tags: ['lab'] })).json()).toEqual({ matching: 2, sample: ['dev-000', 'dev-001'] });
    expect((await preview({ hardware: ['board-x'] })).json().matching).toBe(0);
    expect((await preview({ deviceIds: ['dev-003', 'nope'] })).json().matching).toBe(1);

    const c = (await fx.f.inject({ method: 'POST', url: '/api/v1/campaigns', payload: { name: 'c', imageId: img.id, target: { tags: ['lab'] }, waves: { canary: 0, percents: [100] } } })).json();
    await fx.app.tick();
    const [a, b] = fx.gateway.offers;
    fx.app.engine.ingestReports(succeed(a!));
    fx.app.engine.ingestReports(rollBack(b!));
    const byState = async (s: string) => (await fx.f.inject({ url: `/api/v1/campaigns/${c.campaign.id}/devices?state=${s}` })).json().items.map((i: { deviceId: string }) => i.deviceId);
    expect(await byState('succeeded')).toEqual([a!.deviceId]);
    expect(await byState('rolled_back')).toEqual([b!.deviceId]);

    const sum = (await fx.f.inject({ url: '/api/v1/fleet/summary' })).json();
    expect(sum).toMatchObject({ total: 5, online: 4, hardware: [{ hardware: 'board-a', count: 5 }] });
    expect(sum.versions).toEqual([{ version: '1.0.0', count: 4 }, { version: '2.0.0', count: 1 }]);
    expect(sum.attention).toEqual([expect.objectContaining({ deviceId: b!.deviceId, state: 'rolled_back', campaignId: c.campaign.id })]);
    expect(sum.recentCampaigns.map((r: { campaign: { name: string } }) => r.campaign.name)).toEqual(['c']);

    const search = (await fx.f.inject({ url: '/api/v1/devices?q=-00&limit=2' })).json();
    expect(search.total).toBe(5);
    expect(search.items.map((d: { id: string }) => d.id)).toEqual(['dev-000', 'dev-001']);
    expect((await fx.f.inject({ url: '/api/v1/devices?q=003' })).json().items.map((d: { id: string }) => d.id)).toEqual(['dev-003']);
  });
});
