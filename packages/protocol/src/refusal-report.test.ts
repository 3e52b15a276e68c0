import { describe, expect, it } from 'vitest';
import { decodeMessage, RejectCode } from './decode.ts';
import { REFUSAL_CODES } from './schemas.ts';
import { deviceTopic } from './topics.ts';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const report = { v: 1, deviceId: 'dev-1', at: 1_700_000_001_000, refused: { code: 'expired', count: 3, since: 1_700_000_000_000, actionId: '12.1' } };

describe('refusal report on the status topic', () => {
  it.each(REFUSAL_CODES)('accepts code %s on the status topic and returns it as a refusal', (code) => {
    const m = { ...report, refused: { ...report.refused, code } };
    expect(decodeMessage(deviceTopic('status', 'dev-1'), json(m))).toEqual({ ok: true, kind: 'refusal', deviceId: 'dev-1', message: m });
  });

  it('accepts a report without an action id (the refused command named none we could read)', () => {
    const m = { ...report, refused: { code: 'bad-signature', count: 1, since: 5 } };
    expect(decodeMessage(deviceTopic('status', 'dev-1'), json(m)).ok).toBe(true);
  });

  it.each([
    ['an unknown code', { ...report, refused: { ...report.refused, code: 'SIGNATURE_INVALID' } }, RejectCode.SCHEMA],
    ['a zero count', { ...report, refused: { ...report.refused, count: 0 } }, RejectCode.SCHEMA],
    ['an extra field', { ...report, refused: { ...report.refused, detail: 'x' } }, RejectCode.SCHEMA],
    ['a step next to refused (neither message)', { ...report, step: { name: 'offered' } }, RejectCode.SCHEMA],
    ['an action id with a wildcard', { ...report, refused: { ...report.refused, actionId: 'a/#' } }, RejectCode.SCHEMA],
    ['another device in the payload', { ...report, deviceId: 'dev-2' }, RejectCode.ID_MISMATCH],
  ])('rejects %s', (_name, m, reason) => {
    const r = decodeMessage(deviceTopic('status', 'dev-1'), json(m));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe(reason);
  });

  it('an id-mismatch rejection of a command carries the action id the foreign command names', () => {
    const cmd = {
      v: 1,
      deviceId: 'dev-2',
      actionId: '44.2',
      seq: 1,
      nonce: 'n'.repeat(16),
      expiresAt: 1,
      body: { type: 'cancel', campaignId: '4', reason: 'x' },
      keyId: 'k',
      sig: 'A'.repeat(86),
    };
    const r = decodeMessage(deviceTopic('command', 'dev-1'), json(cmd));
    expect(r).toMatchObject({ ok: false, reason: RejectCode.ID_MISMATCH, actionId: '44.2' });
  });
});
