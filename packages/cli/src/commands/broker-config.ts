import { chmodSync, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { MOSQUITTO_PLUGIN_BUILD_PATH, mosquittoConfig } from '@uniota/protocol';
import { SERVER_IDENTITY } from '@uniota/pki';
import { writeOut } from './pki-store.ts';

/** `uniota broker-config`: the production mosquitto config (client certs, CRL, the uniota ACL plugin). */
export function register(program: Command): void {
  program
    .command('broker-config')
    .description('write a production mosquitto.conf (TLS client certificates, identity as username, CRL, per-device topics enforced and denials logged by the uniota ACL plugin)')
    .requiredOption('--out <dir>', 'directory for mosquitto.conf, the ACL plugin and the certificate files it names')
    .option('--port <n>', 'TLS listener port', '8883')
    .option('--host <addr>', 'interface to listen on', '0.0.0.0')
    .option('--pki <dir>', 'copy device-ca.pem and crl.pem from this PKI directory')
    .option('--persistence-dir <dir>', 'enable persistence in this directory')
    .option('--plugin <file>', 'the built ACL plugin to copy next to the config (scripts/build-mosquitto-plugin.sh)', MOSQUITTO_PLUGIN_BUILD_PATH)
    .action((o: { out: string; port: string; host: string; pki?: string; persistenceDir?: string; plugin: string }) => {
      const dir = resolve(o.out);
      const f = (n: string) => join(dir, n);
      mkdirSync(dir, { recursive: true });
      if (o.pki !== undefined) {
        copyFileSync(join(o.pki, 'device-ca.pem'), f('devices-ca.pem'));
        copyFileSync(join(o.pki, 'crl.pem'), f('crl.pem'));
        // For the update server's own connection (UNIOTA_BROKER_TLS_DIR can point here).
        copyFileSync(join(o.pki, 'broker-ca.pem'), f('broker-ca.pem'));
      }
      // Copied beside the config, so the broker host needs no checkout (and no compiler).
      if (existsSync(o.plugin)) {
        copyFileSync(o.plugin, f('uniota_acl.so'));
        chmodSync(f('uniota_acl.so'), 0o755);
      }
      const { conf } = mosquittoConfig({
        port: Number(o.port), host: o.host, deviceCaFile: f('devices-ca.pem'), certFile: f('broker.pem'), keyFile: f('broker.key'),
        crlFile: f('crl.pem'), pluginFile: f('uniota_acl.so'), serverUsername: SERVER_IDENTITY,
        ...(o.persistenceDir !== undefined ? { persistenceDir: resolve(o.persistenceDir) } : {}),
      });
      writeOut(f('mosquitto.conf'), conf);
      const missing = ['devices-ca.pem', 'crl.pem', 'broker.pem', 'broker.key'].filter((n) => !existsSync(f(n)));
      process.stdout.write(`${f('mosquitto.conf')}\n`);
      if (missing.length > 0) {
        process.stdout.write(`still needed in ${dir}: ${missing.join(', ')} (uniota pki issue broker --profile broker --out ${dir}; --pki <dir> copies the CA and CRL)\n`);
      }
      if (!existsSync(f('uniota_acl.so'))) {
        process.stdout.write(`still needed in ${dir}: uniota_acl.so, the ACL plugin (bash scripts/build-mosquitto-plugin.sh, then --plugin <file>); mosquitto does not start without it\n`);
      }
    });
}
