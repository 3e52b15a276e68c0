import { describe, expect, it } from 'vitest';
import { toBase64 } from './encoding.ts';
import {
  createRoot,
  parseRootDocument,
  signRoot,
  updateTrustedRoot,
  verifyRoot,
  verifyRootRotation,
  type RootDocument,
  type RootSigned,
} from './root.ts';
import { DAY, key, NOW, trust, type TestKey, codeOf } from './test-fixtures.ts';

function nextRoot(prev: RootSigned, rootKeys: TestKey[], opts: { version?: number; expiresAt?: Date } = {}): RootSigned {
  return createRoot({
    version: opts.version ?? prev.version + 1,
    expiresAt: opts.expiresAt ?? new Date(NOW.getTime() + 400 * DAY),
    root: { keys: rootKeys.map((k) => k.raw), threshold: rootKeys.length },
    images: { keys: prev.roles.images.keyids.map((id) => Buffer.from(prev.keys[id]!.public, 'base64')), threshold: prev.roles.images.threshold },
    server: { keys: prev.roles.server.keyids.map((id) => Buffer.from(prev.keys[id]!.public, 'base64')), threshold: 1 },
  });
}

describe('root documents', () => {
  it('round-trips through JSON and verifies', () => {
    const t = trust({ rootKeys: 2 });
    const parsed = parseRootDocument(JSON.stringify(t.doc));
    expect(verifyRoot(parsed, NOW)).toEqual(t.signed);
  });

  it('refuses invalid layouts with ROOT_INVALID', () => {
    const a = key();
    const b = key();
    const c = key();
    const base = (over: Partial<Record<'root' | 'images' | 'server', { keys: Uint8Array[]; threshold: number }>>) => () =>
      createRoot({
        version: 1,
        expiresAt: new Date(NOW.getTime() + DAY),
        root: { keys: [a.raw], threshold: 1 },
        images: { keys: [b.raw], threshold: 1 },
        server: { keys: [c.raw], threshold: 1 },
        ...over,
      });
    expect(codeOf(base({}))).toBe('NO_ERROR');
    expect(codeOf(base({ images: { keys: [b.raw], threshold: 0 } }))).toBe('ROOT_INVALID');
    expect(codeOf(base({ images: { keys: [b.raw], threshold: 2 } }))).toBe('ROOT_INVALID');
    expect(codeOf(base({ images: { keys: [], threshold: 1 } }))).toBe('ROOT_INVALID');
    expect(codeOf(base({ images: { keys: [b.raw, b.raw], threshold: 2 } }))).toBe('ROOT_INVALID');
    expect(codeOf(base({ server: { keys: [b.raw], threshold: 1 } }))).toBe('ROOT_INVALID');
    expect(codeOf(base({ server: { keys: [a.raw], threshold: 1 } }))).toBe('ROOT_INVALID');
  });

  it('refuses a signed root whose role has threshold 0 (it would accept no signatures)', () => {
    const t = trust();
    const json = JSON.parse(JSON.stringify(t.doc)) as RootDocument;
    json.signed.roles.images.threshold = 0;
    // Even validly signed, the layout itself is refused.
    const resigned = { signed: json.signed, signatures: [] as RootDocument['signatures'] };
    expect(codeOf(() => parseRootDocument(JSON.stringify(resigned)))).toBe('ROOT_INVALID');
    expect(codeOf(() => verifyRoot(json, NOW))).toBe('ROOT_INVALID');
  });

  it.each([
    ['not JSON', (d: any) => '{' + JSON.stringify(d)],
    ['unknown top-level field', (d: any) => JSON.stringify({ ...d, extra: 1 })],
    ['unknown field in signed', (d: any) => JSON.stringify({ ...d, signed: { ...d.signed, note: 'x' } })],
    ['wrong type', (d: any) => JSON.stringify({ ...d, signed: { ...d.signed, type: 'tuf-root' } })],
    ['version 0', (d: any) => JSON.stringify({ ...d, signed: { ...d.signed, version: 0 } })],
    ['bad expiry date', (d: any) => JSON.stringify({ ...d, signed: { ...d.signed, expiresAt: '2030-02-30T00:00:00Z' } })],
    [
      'keyid not derived from the key',
      (d: any) => {
        const [id, entry] = Object.entries(d.signed.keys)[0]!;
        const keys = { ...d.signed.keys, [id]: { ...(entry as object), public: toBase64(key().raw) } };
        return JSON.stringify({ ...d, signed: { ...d.signed, keys } });
      },
    ],
    ['signature entry with extra field', (d: any) => JSON.stringify({ ...d, signatures: [{ ...d.signatures[0], x: 1 }] })],
  ])('parseRootDocument refuses %s with ROOT_INVALID', (_name, mutate) => {
    const t = trust();
    expect(codeOf(() => parseRootDocument(mutate(JSON.parse(JSON.stringify(t.doc)))))).toBe('ROOT_INVALID');
  });

  it('requires a threshold of root keys, counted by distinct keyid', () => {
    const t = trust({ rootKeys: 2 });
    const one = signRoot(t.signed, [t.rootKeys[0]!.signer]);
    expect(codeOf(() => verifyRoot(one, NOW))).toBe('THRESHOLD_NOT_MET');
    const twice = { signed: t.signed, signatures: [one.signatures[0]!, one.signatures[0]!] };
    expect(codeOf(() => verifyRoot(twice, NOW))).toBe('DUPLICATE_KEYID');
    expect(codeOf(() => verifyRoot({ signed: t.signed, signatures: [] }, NOW))).toBe('SIGNATURE_MISSING');
    const byImageKey = signRoot(t.signed, [t.imageKeys[0]!.signer]);
    expect(codeOf(() => verifyRoot(byImageKey, NOW))).toBe('KEY_NOT_AUTHORIZED');
    const byStranger = signRoot(t.signed, [key().signer]);
    expect(codeOf(() => verifyRoot(byStranger, NOW))).toBe('UNKNOWN_KEY');
  });

  it('refuses tampered, malformed and expired roots', () => {
    const t = trust();
    const tampered = JSON.parse(JSON.stringify(t.doc)) as RootDocument;
    tampered.signed.expiresAt = '2099-01-01T00:00:00.000Z';
    expect(codeOf(() => verifyRoot(tampered, NOW))).toBe('SIGNATURE_INVALID');
    const sig = Buffer.from(t.doc.signatures[0]!.sig, 'base64');
    for (const len of [0, 63, 65]) {
      const s = Buffer.alloc(len, 7);
      sig.copy(s, 0, 0, Math.min(len, 64));
      const doc = { signed: t.signed, signatures: [{ keyid: t.rootKeys[0]!.keyid, sig: s.toString('base64') }] };
      expect(codeOf(() => verifyRoot(doc, NOW))).toBe('SIGNATURE_MALFORMED');
    }
    const junk = { signed: t.signed, signatures: [{ keyid: t.rootKeys[0]!.keyid, sig: '!!!' }] };
    expect(codeOf(() => verifyRoot(junk, NOW))).toBe('SIGNATURE_MALFORMED');
    expect(codeOf(() => verifyRoot(t.doc, new Date(Date.parse(t.signed.expiresAt))))).toBe('ROOT_EXPIRED');
    expect(codeOf(() => verifyRoot(t.doc, new Date(Date.parse(t.signed.expiresAt) - 1)))).toBe('NO_ERROR');
  });
});

describe('root rotation', () => {
  const t = trust({ rootKeys: 2 });
  const newKeys = [key(), key()];
  const v2 = nextRoot(t.signed, newKeys);
  const allSigners = [...t.rootKeys, ...newKeys].map((k) => k.signer);

  it('accepts v2 signed by thresholds of both the old and the new root keys', () => {
    expect(verifyRootRotation(t.doc, signRoot(v2, allSigners), NOW)).toEqual(v2);
  });

  it('refuses v2 signed only by the old keys, or only by the new keys', () => {
    const oldOnly = signRoot(v2, t.rootKeys.map((k) => k.signer));
    const newOnly = signRoot(v2, newKeys.map((k) => k.signer));
    const halfOld = signRoot(v2, [t.rootKeys[0]!.signer, ...newKeys.map((k) => k.signer)]);
    for (const doc of [oldOnly, newOnly, halfOld]) {
      expect(codeOf(() => verifyRootRotation(t.doc, doc, NOW))).toBe('ROOT_ROTATION_INVALID');
    }
    // The cause says which side was missing: the new root's own keys.
    expect(() => verifyRootRotation(t.doc, oldOnly, NOW)).toThrow(
      expect.objectContaining({ code: 'ROOT_ROTATION_INVALID', cause: expect.objectContaining({ code: 'UNKNOWN_KEY' }) }),
    );
  });

  it('refuses a replayed older or equal root, and a skipped version', () => {
    const v2doc = signRoot(v2, allSigners);
    expect(codeOf(() => verifyRootRotation(v2doc, t.doc, NOW))).toBe('ROOT_ROTATION_INVALID');
    expect(codeOf(() => verifyRootRotation(v2doc, v2doc, NOW))).toBe('ROOT_ROTATION_INVALID');
    const v3 = nextRoot(t.signed, newKeys, { version: 3 });
    expect(codeOf(() => verifyRootRotation(t.doc, signRoot(v3, allSigners), NOW))).toBe('ROOT_ROTATION_INVALID');
  });

  it('refuses an expired next root', () => {
    const stale = nextRoot(t.signed, newKeys, { expiresAt: new Date(NOW.getTime() - 1) });
    expect(codeOf(() => verifyRootRotation(t.doc, signRoot(stale, allSigners), NOW))).toBe('ROOT_EXPIRED');
  });

  it('walks a chain v1 -> v2 -> v3 where only the last must be unexpired', () => {
    const v2short = nextRoot(t.signed, newKeys, { expiresAt: new Date(NOW.getTime() + DAY) });
    const v2doc = signRoot(v2short, allSigners);
    const v3keys = [key()];
    const v3 = nextRoot(v2short, v3keys, { expiresAt: new Date(NOW.getTime() + 900 * DAY) });
    const v3doc = signRoot(v3, [...newKeys, ...v3keys].map((k) => k.signer));
    const later = new Date(NOW.getTime() + 10 * DAY);
    expect(updateTrustedRoot(t.doc, [v2doc, v3doc], later)).toEqual(v3doc);
    expect(codeOf(() => updateTrustedRoot(t.doc, [v3doc, v2doc], later))).toBe('ROOT_ROTATION_INVALID');
    expect(codeOf(() => updateTrustedRoot(t.doc, [v2doc], later))).toBe('ROOT_EXPIRED');
  });
});
