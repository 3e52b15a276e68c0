import forge from 'node-forge';
import type { PkiContext } from './context.ts';
import type { CaMaterial } from './certificates.ts';
import { PkiError, PkiErrorCode } from './errors.ts';
import { keyId, parseCert, parsePrivateKey } from './forge-util.ts';

/** One revoked certificate. */
export interface RevokedEntry {
  /** Lower-case hex serial. */
  serial: string;
  revokedAt: Date;
}

const { asn1 } = forge;
const U = asn1.Class.UNIVERSAL;
const T = asn1.Type;
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const DAY = 86_400_000;

function time(d: Date): forge.asn1.Asn1 {
  // RFC 5280: UTCTime through 2049, GeneralizedTime after.
  return d.getUTCFullYear() < 2050
    ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(d))
    : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

function integerFromHex(hex: string): forge.asn1.Asn1 {
  if (!/^[0-9a-f]+$/i.test(hex)) throw new PkiError(PkiErrorCode.BAD_PEM, `not a hex serial: ${JSON.stringify(hex.slice(0, 40))}`);
  let h = hex.length % 2 === 1 ? `0${hex}` : hex;
  // DER INTEGER is signed: a high first bit needs a leading zero byte.
  if (parseInt(h.slice(0, 2), 16) >= 0x80) h = `00${h}`;
  return asn1.create(U, T.INTEGER, false, forge.util.hexToBytes(h));
}

function algorithm(): forge.asn1.Asn1 {
  return asn1.create(U, T.SEQUENCE, true, [
    asn1.create(U, T.OID, false, asn1.oidToDer(SHA256_WITH_RSA).getBytes()),
    asn1.create(U, T.NULL, false, ''),
  ]);
}

function extension(oid: string, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  return asn1.create(U, T.SEQUENCE, true, [
    asn1.create(U, T.OID, false, asn1.oidToDer(oid).getBytes()),
    asn1.create(U, T.OCTETSTRING, false, asn1.toDer(value).getBytes()),
  ]);
}

/**
 * Builds a v2 X.509 CRL signed by the CA (node-forge writes certificates but
 * not CRLs, so the DER is assembled here per RFC 5280 §5). mosquitto loads it
 * with `crlfile` and then refuses TLS handshakes from any listed serial.
 * `crlNumber` must grow with every CRL issued (RFC 5280 §5.2.3).
 */
export function buildCrl(
  ca: CaMaterial,
  revoked: readonly RevokedEntry[],
  opts: { crlNumber: number; nextUpdateDays: number },
  ctx: PkiContext,
): string {
  const caCert = parseCert(ca.certPem);
  const key = parsePrivateKey(ca.keyPem);
  const now = ctx.now();
  const entries = revoked.map((r) => asn1.create(U, T.SEQUENCE, true, [integerFromHex(r.serial), time(r.revokedAt)]));
  const extensions = asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
    asn1.create(U, T.SEQUENCE, true, [
      // authorityKeyIdentifier: lets verifiers pick the right CA key.
      extension(
        '2.5.29.35',
        asn1.create(U, T.SEQUENCE, true, [
          asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, forge.util.hexToBytes(keyId(caCert.publicKey))),
        ]),
      ),
      extension('2.5.29.20', integerFromHex(opts.crlNumber.toString(16))),
    ]),
  ]);
  const tbsParts = [
    asn1.create(U, T.INTEGER, false, asn1.integerToDer(1).getBytes()), // v2
    algorithm(),
    forge.pki.distinguishedNameToAsn1(caCert.subject),
    time(now),
    time(new Date(now.getTime() + opts.nextUpdateDays * DAY)),
  ];
  if (entries.length > 0) tbsParts.push(asn1.create(U, T.SEQUENCE, true, entries));
  tbsParts.push(extensions);
  const tbs = asn1.create(U, T.SEQUENCE, true, tbsParts);
  const md = forge.md.sha256.create();
  md.update(asn1.toDer(tbs).getBytes());
  const signature = key.sign(md);
  const crl = asn1.create(U, T.SEQUENCE, true, [tbs, algorithm(), asn1.create(U, T.BITSTRING, false, `\u0000${signature}`)]);
  const der = asn1.toDer(crl).getBytes();
  return forge.pem.encode({ type: 'X509 CRL', body: der });
}
