import forge from 'node-forge';
import { PkiError, PkiErrorCode } from './errors.ts';

// Internal helpers around node-forge; nothing here is exported from the package.

/** Parses a certificate PEM or throws PKI_BAD_PEM. */
export function parseCert(pem: string): forge.pki.Certificate {
  try {
    return forge.pki.certificateFromPem(pem);
  } catch (err) {
    throw new PkiError(PkiErrorCode.BAD_PEM, 'not a PEM certificate (RSA keys only)', { cause: err });
  }
}

/** Parses an RSA private key PEM (PKCS#1 or PKCS#8) or throws PKI_BAD_PEM. */
export function parsePrivateKey(pem: string): forge.pki.rsa.PrivateKey {
  try {
    return forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  } catch (err) {
    throw new PkiError(PkiErrorCode.BAD_PEM, 'not a PEM RSA private key', { cause: err });
  }
}

/** Parses an RSA public key PEM or throws PKI_BAD_PEM. */
export function parsePublicKey(pem: string): forge.pki.rsa.PublicKey {
  try {
    return forge.pki.publicKeyFromPem(pem) as forge.pki.rsa.PublicKey;
  } catch (err) {
    throw new PkiError(PkiErrorCode.BAD_PEM, 'not a PEM RSA public key', { cause: err });
  }
}

/**
 * A positive, non-zero 127-bit serial from injected randomness: RFC 5280
 * wants serials unique per CA and at most 20 bytes; random ones need no
 * counter file that two operators could race on.
 */
export function randomSerial(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.subarray(0, 16));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

/** SHA-1 key identifier (RFC 5280 method 1), hex. */
export function keyId(publicKey: forge.pki.PublicKey): string {
  return forge.pki.getPublicKeyFingerprint(publicKey, { md: forge.md.sha1.create(), encoding: 'hex' }) as string;
}

/** Common name of a certificate or CSR subject, or undefined. */
export function commonName(subject: forge.pki.Certificate['subject']): string | undefined {
  const f = subject.getField('CN') as { value?: unknown } | null;
  return typeof f?.value === 'string' ? f.value : undefined;
}
