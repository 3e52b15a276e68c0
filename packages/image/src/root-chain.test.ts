import { describe, expect, it } from 'vitest';
import { createRoot, signRoot, type RootDocument } from './root.ts';
import { advanceTrustedRoot, parseRootChain } from './root-chain.ts';
import { DAY, key, NOW, trust, type TestKey, codeOf } from './test-fixtures.ts';

/** Root v(prev+1) with new root keys, signed by the given keys. */
function rotated(prev: RootDocument, newRoot: TestKey, signers: TestKey[], expiresAt = new Date(NOW.getTime() + 400 * DAY)): RootDocument {
  const p = prev.signed;
  const raw = (id: string) => Buffer.from(p.keys[id]!.public, 'base64');
  const signed = createRoot({
    version: p.version + 1,
    expiresAt,
    root: { keys: [newRoot.raw], threshold: 1 },
    images: { keys: p.roles.images.keyids.map(raw), threshold: p.roles.images.threshold },
    server: { keys: p.roles.server.keyids.map(raw), threshold: 1 },
  });
  return signRoot(signed, signers.map((k) => k.signer));
}

describe('advanceTrustedRoot', () => {
  const t = trust();
  const k2 = key();
  const k3 = key();
  const v2 = rotated(t.doc, k2, [t.rootKeys[0]!, k2]);
  const v3 = rotated(v2, k3, [k2, k3]);

  it('walks a chain version by version and says the root changed', () => {
    const r = advanceTrustedRoot(t.doc, [v2, v3], NOW);
    expect(r.changed).toBe(true);
    expect(r.root.signed.version).toBe(3);
    expect(r.root).toBe(v3);
  });

  it('keeps the trusted root when nothing is offered or only the same version', () => {
    expect(advanceTrustedRoot(t.doc, [], NOW)).toEqual({ root: t.doc, changed: false });
    expect(advanceTrustedRoot(v2, [v2], NOW)).toEqual({ root: v2, changed: false });
    // A tail that starts at the trusted version (server not yet told) still advances.
    expect(advanceTrustedRoot(v2, [v2, v3], NOW).root.signed.version).toBe(3);
  });

  it('refuses a replayed older root (ROOT_ROLLBACK)', () => {
    expect(codeOf(() => advanceTrustedRoot(v2, [t.doc], NOW))).toBe('ROOT_ROLLBACK');
    expect(codeOf(() => advanceTrustedRoot(v3, [v2, v3], NOW))).toBe('ROOT_ROLLBACK');
  });

  it('refuses the same version with different content (ROOT_CONFLICT)', () => {
    const other = rotated(t.doc, key(), [t.rootKeys[0]!]);
    expect(codeOf(() => advanceTrustedRoot(v2, [other], NOW))).toBe('ROOT_CONFLICT');
  });

  it('refuses rotations signed by only the old or only the new keys', () => {
    const kx = key();
    expect(codeOf(() => advanceTrustedRoot(t.doc, [rotated(t.doc, kx, [t.rootKeys[0]!])], NOW))).toBe('ROOT_ROTATION_INVALID');
    expect(codeOf(() => advanceTrustedRoot(t.doc, [rotated(t.doc, kx, [kx])], NOW))).toBe('ROOT_ROTATION_INVALID');
  });

  it('refuses gaps and skipped versions', () => {
    expect(codeOf(() => advanceTrustedRoot(t.doc, [v3], NOW))).toBe('ROOT_ROTATION_INVALID');
    expect(codeOf(() => advanceTrustedRoot(t.doc, [v2, v2], NOW))).toBe('ROOT_ROTATION_INVALID');
  });

  it('requires only the final root to be unexpired', () => {
    const old2 = rotated(t.doc, k2, [t.rootKeys[0]!, k2], new Date(NOW.getTime() - DAY));
    const fresh3 = rotated(old2, k3, [k2, k3]);
    expect(advanceTrustedRoot(t.doc, [old2, fresh3], NOW).root.signed.version).toBe(3);
    expect(codeOf(() => advanceTrustedRoot(t.doc, [old2], NOW))).toBe('ROOT_EXPIRED');
  });

  it('parses offered root texts and refuses malformed ones', () => {
    expect(parseRootChain([JSON.stringify(v2)])[0]!.signed).toEqual(v2.signed);
    expect(codeOf(() => parseRootChain(['{"signed":1}']))).toBe('ROOT_INVALID');
  });
});
