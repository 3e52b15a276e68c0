import { describe, expect, it } from 'vitest';
import { REFUSAL_CODES, type RefusalCode, type RefusalReport } from '@uniota/protocol';
import { engineFixture, FakeClock, IMAGE_ID, reporter } from '../test-helpers/fixtures.ts';
import { REFUSAL_EFFECT, REFUSAL_RECORD_INTERVAL_MS, RefusalIngest } from './refusal-ingest.ts';
import { wireActionId } from './report-map.ts';

const spec = {
  name: 'roll 2.0',
  imageId: IMAGE_ID,
  target: { hardware: ['board-a'] },
  waves: { canary: 0, percents: [100] },
  timeoutMs: 60_000,
  retry: { maxAttempts: 1, baseDelayMs: 0 },
};

/** Two devices with an offer each; `answered` lists the wire action ids a device has reported on. */
async function world() {
  const clock = new FakeClock();
  const { engine, gateway } = engineFixture(2, { clock });
  const { campaign } = engine.createCampaign(spec, 'alice');
  await engine.tick();
  const [mine, theirs] = gateway.offers;
  if (mine === undefined || theirs === undefined) throw new Error('two offers expected');
  const answered = new Set<string>();
  const ingest = new RefusalIngest(engine, clock.now, (_deviceId, id) => !answered.has(id));
  const report = (code: RefusalCode, actionId?: string, deviceId = mine.deviceId): RefusalReport => ({
    v: 1,
    deviceId,
    at: clock.now(),
    refused: { code, count: 3, since: clock.now() - 500, ...(actionId === undefined ? {} : { actionId }) },
  });
  const action = (id: number) => engine['db'].prepare('SELECT state, detail FROM actions WHERE id = ?').get(id) as { state: string; detail: string | null };
  const refusedEvents = () =>
    (engine['db'].prepare("SELECT campaign_id, device_id, data FROM events WHERE type = 'device.refused' ORDER BY id").all() as { campaign_id: number | null; device_id: string; data: string }[]).map(
      (e) => ({ campaign: e.campaign_id, device: e.device_id, ...(JSON.parse(e.data) as object) }),
    );
  return { engine, clock, campaign, mine, theirs, answered, ingest, report, action, refusedEvents };
}

describe('RefusalIngest', () => {
  it('has an effect for every refusal code; only expired (checked after the signature) may fail an action', () => {
    expect(Object.keys(REFUSAL_EFFECT).sort()).toEqual([...REFUSAL_CODES].sort());
    expect(REFUSAL_CODES.filter((c) => REFUSAL_EFFECT[c] !== 'record')).toEqual(['expired']);
  });

  it('an expired refusal of an unanswered offer fails its action at once, with the code, and records device.refused', async () => {
    const w = await world();
    const id = wireActionId(w.mine.actionId, w.mine.attempt);
    expect(w.ingest.ingest(w.report('expired', id))).toBe('recorded-and-failed');
    expect(w.action(w.mine.actionId)).toMatchObject({ state: 'failed' });
    expect(w.action(w.mine.actionId).detail).toMatch(/^expired: /);
    expect(w.refusedEvents()).toEqual([{ campaign: w.campaign.id, device: w.mine.deviceId, code: 'expired', count: 3, since: w.clock.now() - 500, actionId: id }]);
    // The other device's action is untouched.
    expect(w.action(w.theirs.actionId).state).toBe('offered');
  });

  it('an expired copy of an offer the device already answered changes no action (a delayed capture cannot kill a running update)', async () => {
    const w = await world();
    const id = wireActionId(w.mine.actionId, w.mine.attempt);
    w.engine.ingestReports([reporter(w.mine)('downloading')]);
    w.answered.add(id);
    expect(w.ingest.ingest(w.report('expired', id))).toBe('recorded');
    expect(w.action(w.mine.actionId).state).toBe('downloading');
    expect(w.refusedEvents()).toHaveLength(1);
  });

  it.each(['bad-signature', 'unknown-key', 'replayed'] as const)('%s names an open action of the device: recorded, the action stays open', async (code) => {
    const w = await world();
    const id = wireActionId(w.mine.actionId, w.mine.attempt);
    expect(w.ingest.ingest(w.report(code, id))).toBe('recorded');
    expect(w.action(w.mine.actionId).state).toBe('offered');
    expect(w.refusedEvents()).toMatchObject([{ campaign: w.campaign.id, device: w.mine.deviceId, code, actionId: id }]);
  });

  it('id-mismatch naming another device’s open action: recorded for the reporting device only, no campaign, their action untouched', async () => {
    const w = await world();
    const id = wireActionId(w.theirs.actionId, w.theirs.attempt);
    expect(w.ingest.ingest(w.report('id-mismatch', id))).toBe('recorded');
    expect(w.refusedEvents()).toEqual([{ campaign: null, device: w.mine.deviceId, code: 'id-mismatch', count: 3, since: w.clock.now() - 500, actionId: id }]);
    expect(w.action(w.theirs.actionId).state).toBe('offered');
    // Even as `expired`, another device's action is not this device's to fail.
    w.clock.advance(REFUSAL_RECORD_INTERVAL_MS);
    expect(w.ingest.ingest(w.report('expired', id))).toBe('recorded');
    expect(w.action(w.theirs.actionId).state).toBe('offered');
  });

  it('records at most one event per device and code per interval, whatever a rogue device sends', async () => {
    const w = await world();
    const outcomes = Array.from({ length: 50 }, () => w.ingest.ingest(w.report('bad-signature')));
    expect(outcomes.filter((o) => o === 'recorded')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'throttled')).toHaveLength(49);
    // Another code and another device have their own budget.
    expect(w.ingest.ingest(w.report('replayed'))).toBe('recorded');
    expect(w.ingest.ingest(w.report('bad-signature', undefined, w.theirs.deviceId))).toBe('recorded');
    w.clock.advance(REFUSAL_RECORD_INTERVAL_MS);
    expect(w.ingest.ingest(w.report('bad-signature'))).toBe('recorded');
    expect(w.refusedEvents()).toHaveLength(4);
  });

  it('a device that is not accepted gets nothing recorded, only its refused-message count', async () => {
    const w = await world();
    w.engine.admission.set(w.mine.deviceId, 'rejected', w.clock.now());
    const before = w.engine.admission.refusedCount(w.mine.deviceId);
    expect(w.ingest.ingest(w.report('expired', wireActionId(w.mine.actionId, w.mine.attempt)))).toBe('refused-device');
    expect(w.refusedEvents()).toHaveLength(0);
    expect(w.action(w.mine.actionId).state).toBe('offered');
    expect(w.engine.admission.refusedCount(w.mine.deviceId)).toBe(before + 1);
  });
});
