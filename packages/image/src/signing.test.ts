import { describe, expect, it } from 'vitest';
import { SigningContext, signWithContext, verifyWithContext } from './signing.ts';
import { key } from './test-fixtures.ts';

describe('domain-separated signatures', () => {
  const k = key();
  const msg = new TextEncoder().encode('{"a":1}');

  it('verifies under the context it was made for and no other', () => {
    const sig = signWithContext(k.signer, SigningContext.command, msg);
    expect(verifyWithContext(k.raw, SigningContext.command, msg, sig)).toBe(true);
    expect(verifyWithContext(k.raw, SigningContext.manifest, msg, sig)).toBe(false);
    expect(verifyWithContext(k.raw, SigningContext.root, msg, sig)).toBe(false);
  });

  it('is not a signature over the bare message', () => {
    const sig = signWithContext(k.signer, SigningContext.manifest, msg);
    expect(verifyWithContext(k.raw, SigningContext.manifest, msg, k.signer.sign(msg))).toBe(false);
    expect(sig).not.toEqual(k.signer.sign(msg));
  });

  it('refuses a context without its single trailing NUL', () => {
    for (const bad of ['uniota-command-v1', 'a\0b-v1\0', '']) {
      expect(() => signWithContext(k.signer, bad, msg)).toThrow(expect.objectContaining({ code: 'CONTEXT_INVALID' }));
    }
  });
});
