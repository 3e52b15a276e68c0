import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ImageRecord } from '@uniota/update-server';
import { clientOf, out, table, withServer } from './server-client.ts';

/** `uniota image upload|list`: put signed bundles on the update server and list them. */
export function register(program: Command): void {
  const image = program.command('image').description('images on the update server');
  withServer(image.command('upload <bundle>').description('upload a signed bundle (the server verifies it against its trust root)'))
    .option('--json', 'print JSON')
    .action(async (file: string, o: { server: string; token?: string; json?: boolean }) => {
      const img = await clientOf(o).request<ImageRecord>('POST', '/api/v1/images', new Uint8Array(readFileSync(file)));
      out(o.json === true, img, () => [`uploaded ${img.id}  version ${img.version}  for ${img.compatible.join(',')}  ${img.size} bytes`]);
    });
  withServer(image.command('dev-sign <payload>').description('DEVELOPMENT ONLY: have the server sign a raw payload with its dev key and store it'))
    .requiredOption('--version <v>', 'image version')
    .requiredOption('--hardware <types>', 'compatible hardware, comma-separated')
    .option('--product <name>', 'product name', 'dev')
    .option('--security-counter <n>', 'security counter', '0')
    .option('--json', 'print JSON')
    .action(async (file: string, o: { server: string; token?: string; version: string; hardware: string; product: string; securityCounter: string; json?: boolean }) => {
      const q = new URLSearchParams({ version: o.version, hardware: o.hardware, product: o.product, securityCounter: o.securityCounter });
      const img = await clientOf(o).request<ImageRecord>('POST', `/api/v1/images/dev-sign?${q}`, new Uint8Array(readFileSync(file)));
      out(o.json === true, img, () => [`DEV-SIGNED ${img.id}  version ${img.version}  for ${img.compatible.join(',')}  (not for production)`]);
    });
  withServer(image.command('list').description('list uploaded images'))
    .option('--json', 'print JSON')
    .action(async (o: { server: string; token?: string; json?: boolean }) => {
      const { items } = await clientOf(o).request<{ items: ImageRecord[] }>('GET', '/api/v1/images');
      out(o.json === true, items, () =>
        table([
          ['ID', 'VERSION', 'HARDWARE', 'SIZE', 'UPLOADED'],
          ...items.map((i) => [i.id, i.version + (i.devSigned ? ' (DEV-SIGNED)' : ''), i.compatible.join(','), String(i.size), new Date(i.uploadedAt).toISOString()]),
        ]),
      );
    });
}
