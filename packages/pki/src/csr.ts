import forge from 'node-forge';
import type { PkiContext } from './context.ts';
import { PkiError, PkiErrorCode } from './errors.ts';
import { commonName, parsePrivateKey } from './forge-util.ts';
import { issueCertificate, type CaMaterial, type CertProfile, type IssuedCertificate } from './certificates.ts';

/** Creates a PKCS#10 request on the device: its private key stays where it was generated. */
export function createCsr(opts: { commonName: string; keyPem: string }): string {
  const key = parsePrivateKey(opts.keyPem);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  csr.setSubject([{ name: 'commonName', value: opts.commonName }]);
  csr.sign(key, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

/**
 * Signs a CSR after checking it is self-consistent (proof the requester holds
 * the key). Only the CN and public key are taken from the request; every
 * extension comes from the CA's profile, so a request asking for `CA:true`
 * or extra names gets nothing it asked for beyond its name.
 */
export function signCsr(
  ca: CaMaterial,
  csrPem: string,
  opts: { profile: CertProfile; validDays: number; altNames?: readonly string[]; expectedCommonName?: string },
  ctx: PkiContext,
): IssuedCertificate {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch (err) {
    throw new PkiError(PkiErrorCode.BAD_PEM, 'not a PEM certificate request (RSA keys only)', { cause: err });
  }
  let selfSigned = false;
  try {
    selfSigned = csr.verify();
  } catch {
    // forge throws on a signature that does not even decode under the key
  }
  if (!selfSigned) throw new PkiError(PkiErrorCode.BAD_CSR_SIGNATURE, 'the request is not signed by its own key');
  const cn = commonName(csr.subject);
  if (cn === undefined) throw new PkiError(PkiErrorCode.BAD_IDENTITY, 'the request has no common name');
  if (opts.expectedCommonName !== undefined && cn !== opts.expectedCommonName) {
    throw new PkiError(PkiErrorCode.BAD_IDENTITY, `the request is for ${JSON.stringify(cn)}, expected ${JSON.stringify(opts.expectedCommonName)}`);
  }
  const publicKeyPem = forge.pki.publicKeyToPem(csr.publicKey as forge.pki.PublicKey);
  const issue: Parameters<typeof issueCertificate>[1] = { profile: opts.profile, commonName: cn, publicKeyPem, validDays: opts.validDays };
  if (opts.altNames !== undefined) issue.altNames = opts.altNames;
  return issueCertificate(ca, issue, ctx);
}
