import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, seedFromPem, signerFromPem, verifyEd25519 } from './keys.ts';
import { portableEd25519, portablePublicKey } from './portable.ts';

describe('portable ed25519 (noble) against node:crypto', () => {
  const k = generateKeyPair();
  const seed = seedFromPem(k.privateKeyPem);
  const node = signerFromPem(k.privateKeyPem);

  it('derives the same public key from the same seed', () => {
    expect(portablePublicKey(seed)).toEqual(k.publicKeyRaw);
  });

  it('produces identical signatures and each accepts the other', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (msg) => {
        const a = portableEd25519.sign(msg, seed);
        const b = node.sign(msg);
        expect(a).toEqual(b);
        expect(portableEd25519.verify(b, msg, k.publicKeyRaw)).toBe(true);
        expect(verifyEd25519(k.publicKeyRaw, msg, a)).toBe(true);
      }),
      { numRuns: 40, seed: 42 },
    );
  });

  it('both reject a flipped signature bit or message, and malformed lengths without throwing', () => {
    const msg = new TextEncoder().encode('uniota');
    const sig = node.sign(msg);
    const bad = sig.slice();
    bad[10] = (bad[10] ?? 0) ^ 1;
    expect(portableEd25519.verify(bad, msg, k.publicKeyRaw)).toBe(false);
    expect(verifyEd25519(k.publicKeyRaw, msg, bad)).toBe(false);
    expect(portableEd25519.verify(sig, new TextEncoder().encode('uniotb'), k.publicKeyRaw)).toBe(false);
    expect(portableEd25519.verify(sig.subarray(0, 63), msg, k.publicKeyRaw)).toBe(false);
    expect(portableEd25519.verify(sig, msg, k.publicKeyRaw.subarray(0, 31))).toBe(false);
  });
});
