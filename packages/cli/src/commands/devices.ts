import type { Command } from 'commander';
import type { Device } from '@uniota/update-server';
import { clientOf, out, table, withServer } from './server-client.ts';

/** `uniota devices`: list the fleet as the update server sees it. */
export function register(program: Command): void {
  withServer(program.command('devices').description('list devices known to the update server'))
    .option('--hardware <type>', 'only this hardware type')
    .option('--tag <tag>', 'only devices with this tag')
    .option('--version <v>', 'only devices running this version')
    .option('--online', 'only connected devices')
    .option('--limit <n>', 'page size', '100')
    .option('--offset <n>', 'skip this many', '0')
    .option('--json', 'print JSON')
    .action(async (o: { server: string; token?: string; hardware?: string; tag?: string; version?: string; online?: boolean; limit: string; offset: string; json?: boolean }) => {
      const q = new URLSearchParams({ limit: o.limit, offset: o.offset });
      if (o.hardware !== undefined) q.set('hardware', o.hardware);
      if (o.tag !== undefined) q.set('tag', o.tag);
      if (o.version !== undefined) q.set('version', o.version);
      if (o.online === true) q.set('online', 'true');
      const res = await clientOf(o).request<{ items: Device[]; total: number }>('GET', `/api/v1/devices?${q}`);
      out(o.json === true, res, () => [
        ...table([
          ['ID', 'HARDWARE', 'VERSION', 'SLOT', 'ONLINE', 'TAGS'],
          ...res.items.map((d) => [d.id, d.hardware, d.currentVersion ?? '-', d.bootedSlot ?? '-', d.online ? 'yes' : 'no', d.tags.join(',')]),
        ]),
        `${res.items.length} of ${res.total}`,
      ]);
    });
}
