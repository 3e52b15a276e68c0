import { describe, expect, it } from 'vitest';
import { BrokerDenialRecorder, DENIAL_BURST, DENIAL_WINDOW_MS, type DenialEventSink } from './broker-denials.ts';

function sink(): DenialEventSink & { rows: Array<{ deviceId: string | null; type: string; data: Record<string, unknown> }> } {
  const rows: Array<{ deviceId: string | null; type: string; data: Record<string, unknown> }> = [];
  return { rows, append: (_c, deviceId, type, data) => rows.push({ deviceId, type, data }) };
}

describe('BrokerDenialRecorder', () => {
  it('records each denial as broker.denied with the offending identity and what it asked for', () => {
    const s = sink();
    const r = new BrokerDenialRecorder(s, () => 1000);
    expect(r.record({ kind: 'subscribe', username: 'dev-a', filter: '#' })).toBe('recorded');
    expect(r.record({ kind: 'publish', username: 'dev-a', topic: 'uniota/v1/devices/dev-b/status' })).toBe('recorded');
    expect(r.record({ kind: 'tls', reason: 'ECONNRESET' })).toBe('recorded');
    expect(s.rows).toEqual([
      { deviceId: 'dev-a', type: 'broker.denied', data: { kind: 'subscribe', username: 'dev-a', filter: '#' } },
      { deviceId: 'dev-a', type: 'broker.denied', data: { kind: 'publish', username: 'dev-a', topic: 'uniota/v1/devices/dev-b/status' } },
      { deviceId: null, type: 'broker.denied', data: { kind: 'tls', reason: 'ECONNRESET' } },
    ]);
  });

  it('bounds a flood per identity and reports what it dropped in the next window', () => {
    const s = sink();
    let now = 0;
    const r = new BrokerDenialRecorder(s, () => now);
    const outcomes = Array.from({ length: 5000 }, () => r.record({ kind: 'subscribe', username: 'dev-a', filter: '#' }));
    expect(outcomes.filter((o) => o === 'recorded')).toHaveLength(DENIAL_BURST);
    // Another device is not silenced by dev-a's flood.
    expect(r.record({ kind: 'subscribe', username: 'dev-b', filter: '#' })).toBe('recorded');
    now += DENIAL_WINDOW_MS;
    expect(r.record({ kind: 'subscribe', username: 'dev-a', filter: '#' })).toBe('recorded');
    const last = s.rows.at(-1)!;
    expect(last.deviceId).toBe('dev-a');
    expect(last.data['suppressed']).toBe(5000 - DENIAL_BURST);
    expect(s.rows.filter((x) => x.deviceId === 'dev-a')).toHaveLength(DENIAL_BURST + 1);
  });

  it('records the broker flood bound line without an identity', () => {
    const s = sink();
    const r = new BrokerDenialRecorder(s, () => 0);
    expect(r.recordBrokerSuppressed(40)).toBe('recorded');
    expect(s.rows).toEqual([{ deviceId: null, type: 'broker.denied', data: { kind: 'suppressed-by-broker', count: 40 } }]);
  });
});
