import { join } from 'node:path';
import type { Command } from 'commander';
import { UniotaError } from '@uniota/errors';
import {
  buildCrl,
  createCa,
  createCsr,
  generateKeyPair,
  issueCertificate,
  signCsr,
  systemPkiContext,
  type CertProfile,
  type IssuedCertificate,
} from '@uniota/pki';
import { PkiStore, readText, writeOut, type CaName, type PkiIndex } from './pki-store.ts';
import { safeFileName } from '../safe-name.ts';

const DEFAULT_DIR = process.env['UNIOTA_PKI_DIR'] ?? './uniota-pki';
const CRL_DAYS = 30;

function profileOf(s: string): CertProfile {
  const map: Record<string, CertProfile> = { device: 'device', server: 'server-client', broker: 'broker', https: 'https' };
  const p = map[s];
  if (p === undefined) throw new UniotaError('PKI_BAD_PROFILE', `unknown profile ${JSON.stringify(s)} (device | server | broker | https)`);
  return p;
}

// Which CA signs each profile: devices and the server's broker account share
// the device CA (the broker's cafile); the broker and the HTTPS API each have
// their own, so a leaked HTTPS key cannot impersonate the broker to devices.
const issuerOf: Record<CertProfile, CaName> = { device: 'device', 'server-client': 'device', broker: 'broker', https: 'api' };

const CA_NAMES: ReadonlyArray<readonly [CaName, string]> = [
  ['device', 'uniota device CA'],
  ['broker', 'uniota broker CA'],
  ['api', 'uniota API CA'],
];

function record(store: PkiStore, c: IssuedCertificate, profile: CertProfile): void {
  const i = store.index();
  i.issued.push({ serial: c.serial, commonName: c.commonName, profile, issuedAt: new Date().toISOString(), notAfter: c.notAfter.toISOString() });
  store.writeIndex(i);
}

// Re-issues the CRL from the index with the next CRL number (RFC 5280: numbers only grow).
function reissueCrl(store: PkiStore, i: PkiIndex): string {
  i.crlNumber += 1;
  const revoked = i.issued.filter((r) => r.revokedAt !== undefined).map((r) => ({ serial: r.serial, revokedAt: new Date(r.revokedAt!) }));
  const path = store.writeCrl(buildCrl(store.ca('device'), revoked, { crlNumber: i.crlNumber, nextUpdateDays: CRL_DAYS }, systemPkiContext));
  store.writeIndex(i);
  return path;
}

/** `uniota pki`: device CA, certificates, CSR signing and revocation. */
export function register(program: Command): void {
  const pki = program.command('pki').description('device identity: CAs, certificates, CSRs, revocation (CRL)');
  const dirOpt = (c: Command) => c.option('--dir <dir>', 'PKI directory (keep it offline)', DEFAULT_DIR);

  dirOpt(pki.command('init').description('create the device, broker and API CAs and an empty CRL (on an existing PKI: only the CAs it lacks)'))
    .option('--days <n>', 'CA validity in days', '3650')
    .action((o: { dir: string; days: string }) => {
      const store = new PkiStore(o.dir);
      const existed = store.initialized();
      // A PKI made before the API CA existed gets just that CA; existing CA keys are never replaced.
      const missing = CA_NAMES.filter(([which]) => !store.hasCa(which));
      if (missing.length === 0) throw new UniotaError('PKI_EXISTS', `a PKI already exists in ${o.dir}; refusing to overwrite its CA keys`);
      for (const [which, name] of missing) {
        const k = generateKeyPair(3072);
        const certPem = createCa({ commonName: name, keyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem, validDays: Number(o.days) }, systemPkiContext);
        store.writeCa(which, { certPem, keyPem: k.privateKeyPem });
        process.stdout.write(`${which} CA ${join(o.dir, `${which}-ca.pem`)}\n`);
      }
      if (!existed) process.stdout.write(`CRL ${reissueCrl(store, { crlNumber: 0, issued: [] })}\n`);
    });

  dirOpt(pki.command('issue').description('generate a key HERE and issue its certificate (server, broker, https); to keep a key on its own host, and always for devices, use csr + sign'))
    .argument('<name>', 'device id, "uniota-server" for the server, a file name for the broker or the HTTPS API')
    .requiredOption('--out <dir>', 'where to write <name>.pem and <name>.key')
    .option('--profile <p>', 'device | server | broker | https (the update server\'s HTTPS API, signed by the API CA)', 'device')
    .option('--san <names...>', 'broker and https only: IPs/DNS names clients connect to (default 127.0.0.1 localhost)')
    .option('--days <n>', 'validity in days', '825')
    .action((name: string, o: { dir: string; out: string; profile: string; san?: string[]; days: string }) => {
      // The name becomes <out>/<name>.pem: refuse anything that could leave --out.
      safeFileName(name, 'certificate name');
      const store = new PkiStore(o.dir);
      const profile = profileOf(o.profile);
      const ca = store.ca(issuerOf[profile]);
      const k = generateKeyPair();
      const issued = issueCertificate(
        ca,
        { profile, commonName: name, publicKeyPem: k.publicKeyPem, validDays: Number(o.days), ...(o.san !== undefined ? { altNames: o.san } : {}) },
        systemPkiContext,
      );
      record(store, issued, profile);
      writeOut(join(o.out, `${name}.pem`), issued.certPem);
      writeOut(join(o.out, `${name}.key`), k.privateKeyPem, true);
      process.stdout.write(`${issued.serial} ${join(o.out, `${name}.pem`)}\n`);
    });

  pki
    .command('csr')
    .description('ON THE DEVICE (or the broker / API host): generate its private key and a certificate request (the key never leaves)')
    .argument('<name>', 'device id, or the broker / API certificate name')
    .requiredOption('--key-out <file>', 'private key (PEM, mode 0600)')
    .requiredOption('--out <file>', 'certificate request (PEM) to hand to the CA')
    .action((id: string, o: { keyOut: string; out: string }) => {
      const k = generateKeyPair();
      writeOut(o.keyOut, k.privateKeyPem, true);
      writeOut(o.out, createCsr({ commonName: id, keyPem: k.privateKeyPem }));
      process.stdout.write(`${o.out}\n`);
    });

  dirOpt(pki.command('sign').description('AT THE CA: sign a certificate request (device, server, broker or https) made where its key lives'))
    .argument('<csr-file>')
    .requiredOption('--out <file>', 'certificate (PEM) to send back to the requester')
    .option('--expect <name>', 'refuse unless the request is for this name')
    .option('--profile <p>', 'device | server | broker | https', 'device')
    .option('--san <names...>', 'broker and https only: IPs/DNS names clients connect to (default 127.0.0.1 localhost); never taken from the request')
    .option('--days <n>', 'validity in days', '825')
    .action((csrFile: string, o: { dir: string; out: string; expect?: string; profile: string; san?: string[]; days: string }) => {
      const store = new PkiStore(o.dir);
      const profile = profileOf(o.profile);
      if (o.san !== undefined && profile !== 'broker' && profile !== 'https') {
        throw new UniotaError('PKI_BAD_PROFILE', `--san is for broker and https certificates, not ${o.profile}`);
      }
      // The same CA as `pki issue` for the profile: a CSR changes where the
      // key is made, never who vouches for the certificate.
      const issued = signCsr(
        store.ca(issuerOf[profile]),
        readText(csrFile, 'certificate request'),
        { profile, validDays: Number(o.days), ...(o.expect !== undefined ? { expectedCommonName: o.expect } : {}), ...(o.san !== undefined ? { altNames: o.san } : {}) },
        systemPkiContext,
      );
      record(store, issued, profile);
      writeOut(o.out, issued.certPem);
      process.stdout.write(`${issued.serial} ${issued.commonName} ${o.out}\n`);
    });

  dirOpt(pki.command('revoke').description('revoke certificates by serial or by name (all of that name) and re-issue the CRL'))
    .argument('<serial-or-name>')
    .action((what: string, o: { dir: string }) => {
      const store = new PkiStore(o.dir);
      const i = store.index();
      const now = new Date().toISOString();
      const hits = i.issued.filter((r) => r.revokedAt === undefined && issuerOf[r.profile as CertProfile] === 'device' && (r.serial === what.toLowerCase() || r.commonName === what));
      if (hits.length === 0) throw new UniotaError('PKI_NOT_FOUND', `no unrevoked device-CA certificate with serial or name ${JSON.stringify(what)}`);
      for (const r of hits) r.revokedAt = now;
      const crl = reissueCrl(store, i);
      process.stdout.write(`${hits.map((r) => `revoked ${r.serial} ${r.commonName}`).join('\n')}\nCRL ${crl} (copy it to the broker's crlfile and reload)\n`);
    });

  dirOpt(pki.command('crl').description(`re-issue the CRL (it expires after ${CRL_DAYS} days; run this regularly)`)).action((o: { dir: string }) => {
    const store = new PkiStore(o.dir);
    process.stdout.write(`CRL ${reissueCrl(store, store.index())}\n`);
  });

  dirOpt(pki.command('list').description('certificates issued by this PKI'))
    .option('--json', 'print JSON')
    .action((o: { dir: string; json?: boolean }) => {
      const i = new PkiStore(o.dir).index();
      if (o.json === true) process.stdout.write(`${JSON.stringify(i.issued, null, 2)}\n`);
      else for (const r of i.issued) process.stdout.write(`${r.serial} ${r.profile} ${r.commonName} ${r.revokedAt !== undefined ? `REVOKED ${r.revokedAt}` : `until ${r.notAfter}`}\n`);
    });
}
