import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UniotaError } from '@uniota/errors';
import {
  createRoot,
  parseRootDocument,
  publicKeyRawFromPem,
  signerFromPem,
  signRoot,
  verifyRoot,
  verifyRootRotation,
  type RootSigned,
  type Signer,
} from '@uniota/image';

const DAY_MS = 86_400_000;

/** Parses a positive integer option; commander passes the previous value as the second argument. */
function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new UniotaError('CLI_USAGE', `expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

function readKeys(paths: string[]): Uint8Array[] {
  return paths.map((p) => publicKeyRawFromPem(readFileSync(p, 'utf8')));
}

function readSigners(paths: string[]): Signer[] {
  // Deduplicated by keyid: the same key passed twice must not count twice.
  const byId = new Map<string, Signer>();
  for (const p of paths) {
    const s = signerFromPem(readFileSync(p, 'utf8'));
    byId.set(s.keyid, s);
  }
  return [...byId.values()];
}

function expiresIn(days: number): Date {
  return new Date(Date.now() + days * DAY_MS);
}

function writeRoot(path: string, doc: unknown): void {
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
}

function rawKeysOf(root: RootSigned, role: 'root' | 'images' | 'server'): Uint8Array[] {
  return root.roles[role].keyids.map((id) => new Uint8Array(Buffer.from(root.keys[id]?.public ?? '', 'base64')));
}

interface RoleKeyOptions {
  rootKey?: string[];
  imageKey?: string[];
  serverKey?: string[];
  thresholdRoot?: number;
  thresholdImages?: number;
  thresholdServer?: number;
  expires: number;
  out: string;
}

function roleKeyOptions(cmd: Command, required: boolean): Command {
  const opt = (flags: string, desc: string) => (required ? cmd.requiredOption(flags, desc) : cmd.option(flags, desc));
  opt('--root-key <pem...>', 'root role keys (PEM, public or private)');
  opt('--image-key <pem...>', 'images role keys: sign bundles, keep offline');
  opt('--server-key <pem...>', 'server role keys: the online server, can never sign images');
  return cmd
    .option('--threshold-root <k>', 'root signatures required', positiveInt)
    .option('--threshold-images <k>', 'image signatures required', positiveInt)
    .option('--threshold-server <k>', 'server signatures required', positiveInt)
    .requiredOption('--expires <days>', 'days until this root expires', positiveInt)
    .requiredOption('--out <file>', 'where to write the signed root document');
}

/** `uniota root init|rotate`: create and rotate the signed trust root. */
export function register(program: Command): void {
  const root = program.command('root').description('create and rotate the signed trust root (root.json)');

  roleKeyOptions(root.command('init').description('create root version 1, signed by the given root private keys'), true).action(
    (opts: RoleKeyOptions & { rootKey: string[]; imageKey: string[]; serverKey: string[] }) => {
      const signed = createRoot({
        version: 1,
        expiresAt: expiresIn(opts.expires),
        root: { keys: readKeys(opts.rootKey), threshold: opts.thresholdRoot ?? 1 },
        images: { keys: readKeys(opts.imageKey), threshold: opts.thresholdImages ?? 1 },
        server: { keys: readKeys(opts.serverKey), threshold: opts.thresholdServer ?? 1 },
      });
      const doc = signRoot(signed, readSigners(opts.rootKey));
      verifyRoot(doc, new Date());
      writeRoot(opts.out, doc);
      process.stdout.write(`root version 1 written to ${opts.out} (expires ${signed.expiresAt})\n`);
    },
  );

  roleKeyOptions(
    root
      .command('rotate')
      .description('create root version N+1, signed by the current AND the new root keys; roles left out keep their keys')
      .requiredOption('--current <file>', 'the currently trusted root.json')
      .requiredOption('--sign-old <pem...>', 'private keys of the current root role')
      .requiredOption('--sign-new <pem...>', 'private keys of the new root role'),
    false,
  ).action((opts: RoleKeyOptions & { current: string; signOld: string[]; signNew: string[] }) => {
    const currentDoc = parseRootDocument(readFileSync(opts.current, 'utf8'));
    const cur = currentDoc.signed;
    const role = (name: 'root' | 'images' | 'server', paths: string[] | undefined, threshold: number | undefined) => ({
      keys: paths === undefined ? rawKeysOf(cur, name) : readKeys(paths),
      // An unchanged role keeps its threshold; a new key set starts at 1 unless told.
      threshold: threshold ?? (paths === undefined ? cur.roles[name].threshold : 1),
    });
    const signed = createRoot({
      version: cur.version + 1,
      expiresAt: expiresIn(opts.expires),
      root: role('root', opts.rootKey, opts.thresholdRoot),
      images: role('images', opts.imageKey, opts.thresholdImages),
      server: role('server', opts.serverKey, opts.thresholdServer),
    });
    const doc = signRoot(signed, readSigners([...opts.signOld, ...opts.signNew]));
    // Refuse to write a root that devices would refuse.
    verifyRootRotation(currentDoc, doc, new Date());
    writeRoot(opts.out, doc);
    process.stdout.write(`root version ${signed.version} written to ${opts.out} (expires ${signed.expiresAt})\n`);
  });
}
