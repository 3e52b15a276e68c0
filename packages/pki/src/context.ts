import { generateKeyPairSync, randomBytes } from 'node:crypto';

/** Injected side effects: time and randomness (serial numbers). */
export interface PkiContext {
  now(): Date;
  randomBytes(n: number): Uint8Array;
}

/** Wall clock and the OS CSPRNG. */
export const systemPkiContext: PkiContext = {
  now: () => new Date(),
  randomBytes: (n) => randomBytes(n),
};

/** A key pair in PEM (PKCS#8 private, SPKI public). */
export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

/**
 * Generates an RSA key with node's native crypto. RSA rather than ECDSA P-256
 * because node-forge (the only X.509 *writer* available: node:crypto can only
 * parse and verify certificates) signs and embeds RSA keys only; RSA-2048 is
 * accepted for TLS client auth by every mosquitto/OpenSSL build. Native
 * generation because forge's pure-JS prime search takes seconds per key.
 */
export function generateKeyPair(bits = 2048): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}
