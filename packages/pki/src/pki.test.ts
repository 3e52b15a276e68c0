import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildCrl,
  createCa,
  createCsr,
  generateKeyPair,
  issueCertificate,
  signCsr,
  SERVER_IDENTITY,
  type CaMaterial,
  type KeyPairPem,
  type PkiContext,
} from './index.ts';

// Serials from a counter instead of the CSPRNG: each certificate still gets its own.
let counter = 0;
const ctx: PkiContext = {
  now: () => new Date(),
  randomBytes: (n) => {
    counter++;
    return Uint8Array.from({ length: n }, (_, i) => (i === n - 1 ? counter & 0xff : 0x42));
  },
};

let dir: string;
let ca: CaMaterial;
let deviceKey: KeyPairPem;
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
// The real openssl is the judge: what it accepts, mosquitto (OpenSSL) accepts.
const openssl = (args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'uniota-pki-test-'));
  const k = generateKeyPair();
  ca = { certPem: createCa({ commonName: 'test device CA', keyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem, validDays: 30 }, ctx), keyPem: k.privateKeyPem };
  deviceKey = generateKeyPair();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CSR flow', () => {
  it('issues a client certificate named after the device that openssl verifies against the CA', () => {
    const csr = createCsr({ commonName: 'dev-1', keyPem: deviceKey.privateKeyPem });
    const issued = signCsr(ca, csr, { profile: 'device', validDays: 10 }, ctx);
    const r = openssl(['verify', '-purpose', 'sslclient', '-CAfile', write('ca.pem', ca.certPem), write('dev1.pem', issued.certPem)]);
    expect(r.stdout + r.stderr).toContain(': OK');
    const x = new X509Certificate(issued.certPem);
    expect(x.subject).toContain('CN=dev-1');
    expect(x.ca).toBe(false);
    expect(x.serialNumber.toLowerCase()).toBe(issued.serial);
    // The certificate holds the device's public key: its private key never left it.
    expect(x.publicKey.export({ type: 'spki', format: 'pem' })).toBe(deviceKey.publicKeyPem);
    // A client cert cannot pose as a broker.
    expect(openssl(['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.pem'), join(dir, 'dev1.pem')]).status).not.toBe(0);
  });

  it('takes only the name from a request: a CSR asking to be a CA still yields a leaf', () => {
    const key = forge.pki.privateKeyFromPem(deviceKey.privateKeyPem) as forge.pki.rsa.PrivateKey;
    const csr = forge.pki.createCertificationRequest();
    csr.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
    csr.setSubject([{ name: 'commonName', value: 'dev-2' }]);
    csr.setAttributes([{ name: 'extensionRequest', extensions: [{ name: 'basicConstraints', cA: true }] }]);
    csr.sign(key, forge.md.sha256.create());
    const issued = signCsr(ca, forge.pki.certificationRequestToPem(csr), { profile: 'device', validDays: 10 }, ctx);
    expect(new X509Certificate(issued.certPem).ca).toBe(false);
  });

  it('refuses a request whose signature does not match its key', () => {
    const other = generateKeyPair();
    const key = forge.pki.privateKeyFromPem(deviceKey.privateKeyPem) as forge.pki.rsa.PrivateKey;
    const csr = forge.pki.createCertificationRequest();
    csr.publicKey = forge.pki.publicKeyFromPem(other.publicKeyPem);
    csr.setSubject([{ name: 'commonName', value: 'dev-3' }]);
    csr.sign(key, forge.md.sha256.create());
    expect(() => signCsr(ca, forge.pki.certificationRequestToPem(csr), { profile: 'device', validDays: 1 }, ctx)).toThrow(
      expect.objectContaining({ code: 'PKI_BAD_CSR_SIGNATURE' }),
    );
  });

  it.each([
    ['a wildcard', 'dev+1', 'PKI_BAD_IDENTITY'],
    ['a multi-level wildcard', 'dev#', 'PKI_BAD_IDENTITY'],
    ['a level separator', 'a/b', 'PKI_BAD_IDENTITY'],
    ['a $ prefix', '$SYS', 'PKI_BAD_IDENTITY'],
    ['a space', 'dev 1', 'PKI_BAD_IDENTITY'],
    ["the server's name", SERVER_IDENTITY, 'PKI_RESERVED_IDENTITY'],
  ])('refuses a device named with %s', (_what, name, code) => {
    const csr = createCsr({ commonName: name, keyPem: deviceKey.privateKeyPem });
    expect(() => signCsr(ca, csr, { profile: 'device', validDays: 1 }, ctx)).toThrow(expect.objectContaining({ code }));
  });

  it('refuses a request for another name than the operator expected', () => {
    const csr = createCsr({ commonName: 'dev-9', keyPem: deviceKey.privateKeyPem });
    expect(() => signCsr(ca, csr, { profile: 'device', validDays: 1, expectedCommonName: 'dev-8' }, ctx)).toThrow(
      expect.objectContaining({ code: 'PKI_BAD_IDENTITY' }),
    );
  });

  it('refuses to sign with a key that is not the CA certificate key', () => {
    const wrong = { certPem: ca.certPem, keyPem: generateKeyPair().privateKeyPem };
    expect(() => issueCertificate(wrong, { profile: 'device', commonName: 'd', publicKeyPem: deviceKey.publicKeyPem, validDays: 1 }, ctx)).toThrow(
      expect.objectContaining({ code: 'PKI_KEY_MISMATCH' }),
    );
  });
});

describe('broker and server certificates', () => {
  it('gives the broker a server certificate for 127.0.0.1 and localhost', () => {
    const b = issueCertificate(ca, { profile: 'broker', commonName: 'broker', publicKeyPem: deviceKey.publicKeyPem, validDays: 5 }, ctx);
    const p = write('broker.pem', b.certPem);
    expect(openssl(['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.pem'), p]).status).toBe(0);
    const x = new X509Certificate(b.certPem);
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x.checkHost('localhost')).toBe('localhost');
    expect(x.checkHost('evil.example')).toBeUndefined();
  });

  it('gives the HTTPS API a server certificate for the names asked, usable for TLS server auth only', () => {
    const h = issueCertificate(ca, { profile: 'https', commonName: 'updates.example', publicKeyPem: deviceKey.publicKeyPem, validDays: 5, altNames: ['updates.example', '10.1.2.3'] }, ctx);
    const p = write('https.pem', h.certPem);
    expect(openssl(['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.pem'), p]).status).toBe(0);
    expect(openssl(['verify', '-purpose', 'sslclient', '-CAfile', join(dir, 'ca.pem'), p]).status).not.toBe(0);
    const x = new X509Certificate(h.certPem);
    expect(x.checkHost('updates.example')).toBe('updates.example');
    expect(x.checkIP('10.1.2.3')).toBe('10.1.2.3');
    expect(x.checkHost('localhost')).toBeUndefined();
  });

  it('names the server client certificate only with the reserved server identity', () => {
    expect(() =>
      issueCertificate(ca, { profile: 'server-client', commonName: 'dev-1', publicKeyPem: deviceKey.publicKeyPem, validDays: 5 }, ctx),
    ).toThrow(expect.objectContaining({ code: 'PKI_BAD_IDENTITY' }));
    const s = issueCertificate(ca, { profile: 'server-client', commonName: SERVER_IDENTITY, publicKeyPem: deviceKey.publicKeyPem, validDays: 5 }, ctx);
    expect(new X509Certificate(s.certPem).subject).toContain(`CN=${SERVER_IDENTITY}`);
  });
});

describe('revocation list', () => {
  it('makes openssl refuse exactly the revoked certificate', () => {
    const mk = (name: string) => issueCertificate(ca, { profile: 'device', commonName: name, publicKeyPem: deviceKey.publicKeyPem, validDays: 5 }, ctx);
    const revoked = mk('dev-r');
    const kept = mk('dev-k');
    const crl = write('crl.pem', buildCrl(ca, [{ serial: revoked.serial, revokedAt: new Date() }], { crlNumber: 3, nextUpdateDays: 7 }, ctx));
    const caFile = join(dir, 'ca.pem');
    const check = (pem: string, n: string) => openssl(['verify', '-crl_check', '-CAfile', caFile, '-CRLfile', crl, write(n, pem)]);
    const r = check(revoked.certPem, 'r.pem');
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('certificate revoked');
    expect(check(kept.certPem, 'k.pem').status).toBe(0);
    const text = execFileSync('openssl', ['crl', '-in', crl, '-noout', '-text', '-CAfile', caFile], { encoding: 'utf8' });
    expect(text).toMatch(/CRL Number:\s*\n\s*3/);
    expect(text.toUpperCase()).toContain(revoked.serial.toUpperCase());
  });

  it('an empty CRL is valid and revokes nothing', () => {
    const crl = write('crl0.pem', buildCrl(ca, [], { crlNumber: 1, nextUpdateDays: 7 }, ctx));
    const d = issueCertificate(ca, { profile: 'device', commonName: 'dev-e', publicKeyPem: deviceKey.publicKeyPem, validDays: 5 }, ctx);
    expect(openssl(['verify', '-crl_check', '-CAfile', join(dir, 'ca.pem'), '-CRLfile', crl, write('e.pem', d.certPem)]).status).toBe(0);
  });
});
