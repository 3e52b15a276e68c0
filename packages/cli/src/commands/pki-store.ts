import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UniotaError } from '@uniota/errors';
import type { CaMaterial } from '@uniota/pki';

// File adapter for `uniota pki`: the only code of the command that touches
// the disk. Layout of a PKI directory (keep it offline; the *.key files are
// the CAs' private keys):
//   device-ca.pem/.key  issues device and server-client certificates
//   broker-ca.pem/.key  issues the broker's TLS certificate only
//   api-ca.pem/.key     issues the update server's HTTPS certificate only
//   issued.json         every certificate issued, with revocation marks
//   crl.pem             the device CA's current CRL

/** The CAs of one PKI directory. */
export type CaName = 'device' | 'broker' | 'api';

/** One issued certificate as recorded by the CA. */
export interface IssuedRecord {
  serial: string;
  commonName: string;
  profile: string;
  issuedAt: string;
  notAfter: string;
  revokedAt?: string;
}

/** The CA state on disk. */
export interface PkiIndex {
  crlNumber: number;
  issued: IssuedRecord[];
}

/** Reads and writes one PKI directory. */
export class PkiStore {
  constructor(readonly dir: string) {}

  private p(name: string): string {
    return join(this.dir, name);
  }

  /** True once `pki init` ran here. */
  initialized(): boolean {
    return existsSync(this.p('device-ca.pem'));
  }

  /** True when this CA's certificate is present (a PKI made before the API CA existed lacks `api`). */
  hasCa(which: CaName): boolean {
    return existsSync(this.p(`${which}-ca.pem`));
  }

  /** Reads a CA; throws a clear error if `pki init` did not run (or, for `api`, ran before that CA existed). */
  ca(which: CaName): CaMaterial {
    if (!this.initialized() || !this.hasCa(which)) throw new UniotaError('PKI_NOT_INITIALIZED', `no ${which} CA in ${this.dir} (run: uniota pki init --dir ${this.dir})`);
    return { certPem: readFileSync(this.p(`${which}-ca.pem`), 'utf8'), keyPem: readFileSync(this.p(`${which}-ca.key`), 'utf8') };
  }

  /** Writes a CA. */
  writeCa(which: CaName, ca: CaMaterial): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(this.p(`${which}-ca.pem`), ca.certPem);
    writeFileSync(this.p(`${which}-ca.key`), ca.keyPem, { mode: 0o600 });
  }

  /** The issue/revocation index. */
  index(): PkiIndex {
    const f = this.p('issued.json');
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as PkiIndex) : { crlNumber: 0, issued: [] };
  }

  /** Saves the index. */
  writeIndex(i: PkiIndex): void {
    writeFileSync(this.p('issued.json'), `${JSON.stringify(i, null, 2)}\n`);
  }

  /** Writes the CRL. */
  writeCrl(pem: string): string {
    writeFileSync(this.p('crl.pem'), pem);
    return this.p('crl.pem');
  }
}

/** Writes a file, creating its directory; private keys get mode 0600. */
export function writeOut(path: string, text: string, secret = false): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text, secret ? { mode: 0o600 } : {});
}

/** Reads a text file with a clear error. */
export function readText(path: string, what: string): string {
  if (!existsSync(path)) throw new UniotaError('PKI_FILE_NOT_FOUND', `${what} not found: ${path}`);
  return readFileSync(path, 'utf8');
}
