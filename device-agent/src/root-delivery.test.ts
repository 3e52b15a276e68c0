import { describe, expect, it } from 'vitest';
import { createRoot, generateKeyPair, signRoot, signerFromPem } from '@uniota/image';
import type { RootDocument } from '@uniota/image';
import { initialState } from './agent-state.ts';
import { adoptOfferedRoots, trustedRootOf } from './root-delivery.ts';

const NOW = new Date('2030-01-01T00:00:00Z');
const images = generateKeyPair();
const server = generateKeyPair();

function root(version: number, rootKey: ReturnType<typeof generateKeyPair>, signers: Array<ReturnType<typeof generateKeyPair>>): RootDocument {
  const signed = createRoot({
    version,
    expiresAt: new Date(NOW.getTime() + 86_400_000),
    root: { keys: [rootKey.publicKeyRaw], threshold: 1 },
    images: { keys: [images.publicKeyRaw], threshold: 1 },
    server: { keys: [server.publicKeyRaw], threshold: 1 },
  });
  return signRoot(signed, signers.map((k) => signerFromPem(k.privateKeyPem)));
}

describe('root delivery on the device', () => {
  const k1 = generateKeyPair();
  const k2 = generateKeyPair();
  const v1 = root(1, k1, [k1]);
  const v2 = root(2, k2, [k1, k2]);
  const state = initialState({ slot: 'A', version: '1.0.0', securityCounter: 1 });

  it('trusts the provisioned root until a rotation is journaled, then the journaled one', () => {
    expect(trustedRootOf(state, v1.signed).signed).toEqual(v1.signed);
    expect(trustedRootOf({ ...state, root: v2 }, v1.signed)).toBe(v2);
  });

  it('prefers a provisioned root newer than the journaled one (a reflashed agent)', () => {
    expect(trustedRootOf({ ...state, root: v1 }, v2.signed).signed).toEqual(v2.signed);
  });

  it('returns the state to journal only when the root changed', () => {
    expect(adoptOfferedRoots(state, v1.signed, undefined, NOW)).toBeNull();
    expect(adoptOfferedRoots(state, v1.signed, [], NOW)).toBeNull();
    expect(adoptOfferedRoots(state, v1.signed, [JSON.stringify(v1)], NOW)).toBeNull();
    const next = adoptOfferedRoots(state, v1.signed, [JSON.stringify(v2)], NOW);
    expect(next?.root?.signed.version).toBe(2);
    expect(next?.committed).toEqual(state.committed);
  });

  it('throws the chain error and changes nothing for a bad rotation', () => {
    const forged = root(2, k2, [k2]);
    expect(() => adoptOfferedRoots(state, v1.signed, [JSON.stringify(forged)], NOW)).toThrow(expect.objectContaining({ code: 'ROOT_ROTATION_INVALID' }));
    expect(() => adoptOfferedRoots({ ...state, root: v2 }, v1.signed, [JSON.stringify(v1)], NOW)).toThrow(expect.objectContaining({ code: 'ROOT_ROLLBACK' }));
  });
});
