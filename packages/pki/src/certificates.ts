import forge from 'node-forge';
import type { PkiContext } from './context.ts';
import { PkiError, PkiErrorCode } from './errors.ts';
import { commonName, keyId, parseCert, parsePrivateKey, parsePublicKey, randomSerial } from './forge-util.ts';
import { assertDeviceIdentity, SERVER_IDENTITY } from './identity.ts';

/** A CA as stored by its operator: certificate and private key, PEM. */
export interface CaMaterial {
  certPem: string;
  keyPem: string;
}

/** What kind of leaf certificate to issue; decides key usages and name rules. */
export type CertProfile = 'device' | 'server-client' | 'broker' | 'https';

/** A freshly issued certificate. */
export interface IssuedCertificate {
  certPem: string;
  /** Lower-case hex, as in CRLs and `openssl x509 -serial`. */
  serial: string;
  commonName: string;
  notAfter: Date;
}

// Extensions per profile: one table, so what a device may do with its
// certificate is visible in one place. Leaf certificates are never CAs and
// carry exactly one extended key usage, so a device certificate cannot serve
// as a broker certificate (or the reverse).
const profileExtensions: Record<CertProfile, object[]> = {
  device: [
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', clientAuth: true },
  ],
  'server-client': [
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', clientAuth: true },
  ],
  broker: [
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
  ],
  // The update server's HTTPS API and console. Same usages as the broker's,
  // but issued by its own CA (see README, "Three CAs").
  https: [
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
  ],
};

const DAY = 86_400_000;

function sign(cert: forge.pki.Certificate, key: forge.pki.rsa.PrivateKey): void {
  cert.sign(key, forge.md.sha256.create());
}

/**
 * Creates a self-signed CA certificate for `key`. Path length 0: this CA signs
 * leaves only, so a stolen device key can never mint further identities.
 */
export function createCa(
  opts: { commonName: string; keyPem: string; publicKeyPem: string; validDays: number },
  ctx: PkiContext,
): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = parsePublicKey(opts.publicKeyPem);
  cert.serialNumber = randomSerial(ctx.randomBytes(16));
  const now = ctx.now();
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + opts.validDays * DAY);
  const subject = [{ name: 'commonName', value: opts.commonName }, { name: 'organizationName', value: 'uniota' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', critical: true, cA: true, pathLenConstraint: 0 },
    { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  sign(cert, parsePrivateKey(opts.keyPem));
  return forge.pki.certificateToPem(cert);
}

function assertCa(ca: CaMaterial): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } {
  const cert = parseCert(ca.certPem);
  const key = parsePrivateKey(ca.keyPem);
  const bc = cert.getExtension('basicConstraints') as { cA?: boolean } | null;
  if (bc?.cA !== true) throw new PkiError(PkiErrorCode.NOT_A_CA, 'the issuer certificate is not a CA');
  const pub = cert.publicKey as forge.pki.rsa.PublicKey;
  if (pub.n.compareTo(key.n) !== 0) throw new PkiError(PkiErrorCode.KEY_MISMATCH, 'the CA key does not match the CA certificate');
  return { cert, key };
}

/**
 * Issues a leaf certificate for a public key (never a private key: the
 * holder generated it and keeps it). Device names are checked so the CN can
 * safely become a broker username substituted into `%u` ACL patterns.
 */
export function issueCertificate(
  ca: CaMaterial,
  opts: { profile: CertProfile; commonName: string; publicKeyPem: string; validDays: number; altNames?: readonly string[] },
  ctx: PkiContext,
): IssuedCertificate {
  const { cert: caCert, key: caKey } = assertCa(ca);
  if (opts.profile === 'device') assertDeviceIdentity(opts.commonName);
  if (opts.profile === 'server-client' && opts.commonName !== SERVER_IDENTITY) {
    throw new PkiError(PkiErrorCode.BAD_IDENTITY, `the server's client certificate must be named ${SERVER_IDENTITY}`);
  }
  const cert = forge.pki.createCertificate();
  cert.publicKey = parsePublicKey(opts.publicKeyPem);
  cert.serialNumber = randomSerial(ctx.randomBytes(16));
  const now = ctx.now();
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + opts.validDays * DAY);
  const ou = opts.profile === 'device' ? 'devices' : 'infrastructure';
  cert.setSubject([
    { name: 'commonName', value: opts.commonName },
    { name: 'organizationalUnitName', value: ou },
    { name: 'organizationName', value: 'uniota' },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  const ext: object[] = [
    { name: 'basicConstraints', critical: true, cA: false },
    ...profileExtensions[opts.profile],
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: forge.util.hexToBytes(keyId(caCert.publicKey)) },
  ];
  if (opts.profile === 'broker' || opts.profile === 'https') {
    const names = opts.altNames ?? ['127.0.0.1', 'localhost'];
    ext.push({
      name: 'subjectAltName',
      altNames: names.map((n) => (/^[\d.]+$|:/.test(n) ? { type: 7, ip: n } : { type: 2, value: n })),
    });
  }
  cert.setExtensions(ext);
  sign(cert, caKey);
  return {
    certPem: forge.pki.certificateToPem(cert),
    serial: cert.serialNumber.toLowerCase(),
    commonName: commonName(cert.subject) ?? opts.commonName,
    notAfter: cert.validity.notAfter,
  };
}

/** Serial (lower-case hex) and CN of a certificate PEM. */
export function describeCertificate(pem: string): { serial: string; commonName: string | undefined; notAfter: Date } {
  const cert = parseCert(pem);
  return { serial: cert.serialNumber.toLowerCase(), commonName: commonName(cert.subject), notAfter: cert.validity.notAfter };
}
