import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Hex } from './encoding.ts';
import {
  generateKeyPair,
  keyIdOf,
  publicKeyPemFromRaw,
  publicKeyRawFromPem,
  seedFromPem,
  signerFromPem,
  verifyEd25519,
  ed25519Stats,
} from './keys.ts';

const dir = mkdtempSync(join(tmpdir(), 'uniota-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('keys', () => {
  it('generates a key whose keyid is the sha256 of the raw public key, in both PEMs', () => {
    const k = generateKeyPair();
    expect(k.publicKeyRaw).toHaveLength(32);
    expect(k.keyid).toBe(sha256Hex(k.publicKeyRaw));
    expect(k.keyid).toMatch(/^[0-9a-f]{64}$/);
    expect(publicKeyRawFromPem(k.publicKeyPem)).toEqual(k.publicKeyRaw);
    expect(publicKeyRawFromPem(k.privateKeyPem)).toEqual(k.publicKeyRaw);
    expect(publicKeyPemFromRaw(k.publicKeyRaw)).toBe(k.publicKeyPem);
    expect(signerFromPem(k.privateKeyPem).keyid).toBe(k.keyid);
  });

  it('signs with the PEM key and verifies with the raw public key; a different message fails', () => {
    const k = generateKeyPair();
    const s = signerFromPem(k.privateKeyPem);
    const msg = new TextEncoder().encode('hello');
    const sig = s.sign(msg);
    expect(sig).toHaveLength(64);
    expect(verifyEd25519(k.publicKeyRaw, msg, sig)).toBe(true);
    expect(verifyEd25519(k.publicKeyRaw, new TextEncoder().encode('hellp'), sig)).toBe(false);
    expect(verifyEd25519(generateKeyPair().publicKeyRaw, msg, sig)).toBe(false);
    expect(verifyEd25519(k.publicKeyRaw, msg, sig.subarray(0, 63))).toBe(false);
  });

  it('answers a repeat of a check that passed from memory, and checks anything that differs in one bit for real', () => {
    const k = generateKeyPair();
    const msg = new TextEncoder().encode('a manifest checked at every step');
    const sig = signerFromPem(k.privateKeyPem).sign(msg);
    const before = { ...ed25519Stats };
    expect(verifyEd25519(k.publicKeyRaw, msg, sig)).toBe(true);
    expect(verifyEd25519(k.publicKeyRaw, Uint8Array.from(msg), Uint8Array.from(sig))).toBe(true);
    expect(ed25519Stats.verified - before.verified).toBe(1);
    expect(ed25519Stats.remembered - before.remembered).toBe(1);
    // One flipped bit in the message, the signature or the key: verified, and refused.
    const flipped = (b: Uint8Array, i: number) => {
      const c = Uint8Array.from(b);
      c[i] = (c[i] as number) ^ 1;
      return c;
    };
    expect(verifyEd25519(k.publicKeyRaw, flipped(msg, 3), sig)).toBe(false);
    expect(verifyEd25519(k.publicKeyRaw, msg, flipped(sig, 10))).toBe(false);
    expect(verifyEd25519(flipped(k.publicKeyRaw, 0), msg, sig)).toBe(false);
    expect(ed25519Stats.verified - before.verified).toBe(4);
    // A failure is never remembered: the same bad check runs again.
    expect(verifyEd25519(k.publicKeyRaw, flipped(msg, 3), sig)).toBe(false);
    expect(ed25519Stats.verified - before.verified).toBe(5);
    expect(ed25519Stats.remembered - before.remembered).toBe(1);
  });

  it('openssl reads the PEM files, and keys made by openssl load here', () => {
    const k = generateKeyPair();
    writeFileSync(join(dir, 'a.key'), k.privateKeyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'a.pub'), k.publicKeyPem);
    execFileSync('openssl', ['pkey', '-in', join(dir, 'a.key'), '-noout']);
    const pubFromOpenssl = execFileSync('openssl', ['pkey', '-in', join(dir, 'a.key'), '-pubout']).toString();
    expect(pubFromOpenssl).toBe(k.publicKeyPem);
    execFileSync('openssl', ['pkey', '-pubin', '-in', join(dir, 'a.pub'), '-noout']);

    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(dir, 'o.key')]);
    const opensslPem = readFileSync(join(dir, 'o.key'), 'utf8');
    const s = signerFromPem(opensslPem);
    expect(s.keyid).toBe(keyIdOf(publicKeyRawFromPem(opensslPem)));
    expect(seedFromPem(opensslPem)).toHaveLength(32);
  });

  it('refuses non-ed25519 and unreadable keys with KEY_INVALID', () => {
    const rsa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecPem = rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => signerFromPem(ecPem)).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
    expect(() => publicKeyRawFromPem(ecPem)).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
    expect(() => signerFromPem('not a key')).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
    expect(() => keyIdOf(new Uint8Array(31))).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
  });
});
