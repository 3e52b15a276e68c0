import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UniotaError } from '@uniota/errors';
import { clientOf, out, table, withServer } from './server-client.ts';

interface RootView {
  version: number;
  expiresAt: string;
  source: string;
  uploadedAt: number | null;
  devices: number;
}

function addServerRootCommands(root: Command): void {
  withServer(
    root
      .command('upload')
      .description('rotate the fleet: give the server root.json version N+1 (signed by the old and the new root keys); devices receive it with their next offer')
      .argument('<file>', 'root.json of the next version (from `uniota root rotate`)')
      .option('--json', 'print JSON'),
  ).action(async (file: string, o: { server: string; token?: string; ca?: string; json?: boolean }) => {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new UniotaError('CLI_USAGE', `${file}: not a readable JSON file (${(err as Error).message})`, { cause: err });
    }
    const v = await clientOf(o).request<RootView>('POST', '/api/v1/roots', doc);
    out(o.json === true, v, () => [`root version ${v.version} stored (expires ${v.expiresAt}); devices take it with their next offer`]);
  });
  withServer(root.command('list').description('the server\'s root chain and how many devices reported each version').option('--json', 'print JSON')).action(
    async (o: { server: string; token?: string; ca?: string; json?: boolean }) => {
      const v = await clientOf(o).request<{ items: RootView[] }>('GET', '/api/v1/roots');
      out(o.json === true, v, () =>
        table([['VERSION', 'EXPIRES', 'SOURCE', 'DEVICES'], ...v.items.map((r) => [String(r.version), r.expiresAt, r.source, String(r.devices)])]),
      );
    },
  );
}

/**
 * `uniota root upload <file>` and `uniota root list` (server side of root
 * rotation). The `root` group lives in root.ts, which loads after this file
 * (name order), so the subcommands attach when `root` is dispatched.
 */
export function register(program: Command): void {
  const existing = program.commands.find((c) => c.name() === 'root');
  if (existing !== undefined) {
    addServerRootCommands(existing);
    return;
  }
  let added = false;
  program.hook('preSubcommand', (_root, sub) => {
    if (added || sub.name() !== 'root') return;
    added = true;
    addServerRootCommands(sub);
  });
}
