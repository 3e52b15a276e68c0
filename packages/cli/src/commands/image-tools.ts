import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UniotaError } from '@uniota/errors';
import { createBundle, inspectBundle, parseRootDocument, signerFromPem, verifyBundle, verifyRoot } from '@uniota/image';

const DAY_MS = 86_400_000;

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new UniotaError('CLI_USAGE', `expected a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

function positiveInt(value: string): number {
  const n = nonNegativeInt(value);
  if (n === 0) throw new UniotaError('CLI_USAGE', 'expected a positive integer, got 0');
  return n;
}

/** `uniota sign|verify|inspect`: build, check and display signed bundles. */
export function register(program: Command): void {
  program
    .command('sign')
    .description('build a signed bundle from a payload (sign with images-role keys)')
    .requiredOption('--payload <file>', 'the unikernel image')
    .requiredOption('--product <name>', 'product name')
    .requiredOption('--version <semver>', 'image version (semver)')
    .requiredOption('--security-counter <n>', 'anti-rollback counter; devices refuse lower ones', nonNegativeInt)
    .requiredOption('--hardware <hw...>', 'compatible board names')
    .requiredOption('--expires <days>', 'days until this bundle expires', positiveInt)
    .option('--release-notes <file>', 'text file of release notes')
    .option('--chunk-size <bytes>', 'payload chunk size (default 64 KiB)', positiveInt)
    .requiredOption('--key <pem...>', 'images-role private keys')
    .requiredOption('--out <file>', 'bundle to write')
    .action(
      (opts: {
        payload: string;
        product: string;
        version: string;
        securityCounter: number;
        hardware: string[];
        expires: number;
        releaseNotes?: string;
        chunkSize?: number;
        key: string[];
        out: string;
      }) => {
        const signers = new Map(opts.key.map((p) => signerFromPem(readFileSync(p, 'utf8'))).map((s) => [s.keyid, s]));
        const payload = new Uint8Array(readFileSync(opts.payload));
        const bundle = createBundle(
          {
            product: opts.product,
            version: opts.version,
            securityCounter: opts.securityCounter,
            compatibleHardware: opts.hardware,
            expiresAt: new Date(Date.now() + opts.expires * DAY_MS),
            ...(opts.releaseNotes === undefined ? {} : { releaseNotes: readFileSync(opts.releaseNotes, 'utf8') }),
            ...(opts.chunkSize === undefined ? {} : { chunkSize: opts.chunkSize }),
          },
          payload,
          [...signers.values()],
        );
        writeFileSync(opts.out, bundle);
        process.stdout.write(
          `${opts.out}: ${opts.product} ${opts.version}, ${payload.byteLength} payload bytes, ${signers.size} signature(s)\n`,
        );
      },
    );

  program
    .command('verify <bundle>')
    .description('verify a bundle against a trust root as a device would')
    .requiredOption('--root <file>', 'trusted root.json')
    .requiredOption('--hardware <hw>', 'this device\'s board name')
    .option('--min-security-counter <n>', 'the device\'s committed security counter', nonNegativeInt, 0)
    .action((bundlePath: string, opts: { root: string; hardware: string; minSecurityCounter: number }) => {
      const now = new Date();
      const root = verifyRoot(parseRootDocument(readFileSync(opts.root, 'utf8')), now);
      const { manifest } = verifyBundle(new Uint8Array(readFileSync(bundlePath)), root, {
        hardware: opts.hardware,
        minSecurityCounter: opts.minSecurityCounter,
        now,
      });
      process.stdout.write(
        [
          `OK ${bundlePath}: verified against root version ${root.version}`,
          `  product          ${manifest.product} ${manifest.version}`,
          `  security counter ${manifest.securityCounter}`,
          `  hardware         ${manifest.compatibleHardware.join(', ')}`,
          `  payload          ${manifest.payload.size} bytes, sha256 ${manifest.payload.sha256}`,
          `  expires          ${manifest.expiresAt}`,
          '',
        ].join('\n'),
      );
    });

  program
    .command('inspect <bundle>')
    .description('show what a bundle claims, WITHOUT verifying it')
    .action((bundlePath: string) => {
      const info = inspectBundle(new Uint8Array(readFileSync(bundlePath)));
      process.stdout.write(
        `UNVERIFIED: nothing below has been checked against a trust root; use \`uniota verify\`.\n${JSON.stringify(info, null, 2)}\n`,
      );
    });
}
