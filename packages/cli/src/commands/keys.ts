import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UniotaError } from '@uniota/errors';
import { generateKeyPair } from '@uniota/image';

/** `uniota keygen`: writes <name>.key (PKCS#8 PEM, 0600) and <name>.pub (SPKI PEM), prints the keyid. */
export function register(program: Command): void {
  program
    .command('keygen')
    .description('generate an ed25519 signing key pair (PEM files readable by openssl)')
    .requiredOption('--out <dir>', 'directory to write the key files into')
    .requiredOption('--name <name>', 'base name: writes <name>.key and <name>.pub')
    .action((opts: { out: string; name: string }) => {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(opts.name)) {
        throw new UniotaError('CLI_USAGE', `key name ${JSON.stringify(opts.name)} must be letters, digits, ".", "_" or "-"`);
      }
      mkdirSync(opts.out, { recursive: true });
      const k = generateKeyPair();
      const keyPath = join(opts.out, `${opts.name}.key`);
      // 'wx': never overwrite an existing private key, losing it would orphan
      // every root and bundle it signed.
      try {
        writeFileSync(keyPath, k.privateKeyPem, { mode: 0o600, flag: 'wx' });
        writeFileSync(join(opts.out, `${opts.name}.pub`), k.publicKeyPem, { flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new UniotaError('CLI_USAGE', `${(err as NodeJS.ErrnoException).path ?? keyPath} already exists; refusing to overwrite a key`);
        }
        throw err;
      }
      process.stdout.write(`${k.keyid}\n`);
    });
}
