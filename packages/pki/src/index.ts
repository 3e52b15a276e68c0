// Public surface of @uniota/pki: device CA, leaf certificates, CSR flow, CRL.
export { PkiError, PkiErrorCode } from './errors.ts';
export { generateKeyPair, systemPkiContext, type KeyPairPem, type PkiContext } from './context.ts';
export { SERVER_IDENTITY, assertDeviceIdentity } from './identity.ts';
export {
  createCa,
  issueCertificate,
  describeCertificate,
  type CaMaterial,
  type CertProfile,
  type IssuedCertificate,
} from './certificates.ts';
export { createCsr, signCsr } from './csr.ts';
export { buildCrl, type RevokedEntry } from './crl.ts';
