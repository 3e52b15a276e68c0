import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { mosquittoConfig } from '@uniota/protocol';
import { SERVER_IDENTITY } from '@uniota/pki';
import { writeOut } from './pki-store.ts';

/** `uniota broker-config`: the production mosquitto config (client certs, CRL, ACL). */
export function register(program: Command): void {
  program
    .command('broker-config')
    .description('write a production mosquitto.conf + ACL file (TLS client certificates, identity as username, CRL, per-device topics)')
    .requiredOption('--out <dir>', 'directory for mosquitto.conf, acl and the certificate files it names')
    .option('--port <n>', 'TLS listener port', '8883')
    .option('--host <addr>', 'interface to listen on', '0.0.0.0')
    .option('--pki <dir>', 'copy device-ca.pem and crl.pem from this PKI directory')
    .option('--persistence-dir <dir>', 'enable persistence in this directory')
    .action((o: { out: string; port: string; host: string; pki?: string; persistenceDir?: string }) => {
      const dir = resolve(o.out);
      const f = (n: string) => join(dir, n);
      if (o.pki !== undefined) {
        mkdirSync(dir, { recursive: true });
        copyFileSync(join(o.pki, 'device-ca.pem'), f('devices-ca.pem'));
        copyFileSync(join(o.pki, 'crl.pem'), f('crl.pem'));
        // For the update server's own connection (UNIOTA_BROKER_TLS_DIR can point here).
        copyFileSync(join(o.pki, 'broker-ca.pem'), f('broker-ca.pem'));
      }
      const { conf, acl } = mosquittoConfig({
        port: Number(o.port), host: o.host, deviceCaFile: f('devices-ca.pem'), certFile: f('broker.pem'), keyFile: f('broker.key'),
        crlFile: f('crl.pem'), aclFile: f('acl'), serverUsername: SERVER_IDENTITY,
        ...(o.persistenceDir !== undefined ? { persistenceDir: resolve(o.persistenceDir) } : {}),
      });
      writeOut(f('mosquitto.conf'), conf);
      writeOut(f('acl'), acl);
      const missing = ['devices-ca.pem', 'crl.pem', 'broker.pem', 'broker.key'].filter((n) => !existsSync(f(n)));
      process.stdout.write(`${f('mosquitto.conf')}\n${f('acl')}\n`);
      if (missing.length > 0) {
        process.stdout.write(`still needed in ${dir}: ${missing.join(', ')} (uniota pki issue broker --profile broker --out ${dir}; --pki <dir> copies the CA and CRL)\n`);
      }
    });
}
