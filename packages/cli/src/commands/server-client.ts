import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UniotaError } from '@uniota/errors';
import { ApiClient } from '@uniota/update-server';

// Shared by the server-facing command files (server, image, campaign,
// devices, audit); it has no register() so the loader skips it.

/** Default API address: UNIOTA_SERVER or the server's default port on loopback. */
export const DEFAULT_SERVER = process.env['UNIOTA_SERVER'] ?? 'http://127.0.0.1:8080';

/** Adds the shared --server, --token and --ca options. */
export function withServer(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'update server base URL (UNIOTA_SERVER; https://… when the server has a certificate)', DEFAULT_SERVER)
    .option('--token <token>', 'API token (default UNIOTA_TOKEN); make one in the console or with `uniota user token`')
    .option('--ca <file>', 'CA certificate (PEM) that signed the server\'s HTTPS certificate, e.g. api-ca.pem (default UNIOTA_CA); trusted instead of the system CAs');
}

/** A client for the options of a command built with withServer (token and CA fall back to UNIOTA_TOKEN and UNIOTA_CA). */
export function clientOf(opts: { server: string; token?: string; ca?: string }): ApiClient {
  const caFile = opts.ca ?? process.env['UNIOTA_CA'];
  let ca: string | undefined;
  if (caFile !== undefined && caFile !== '') {
    if (!existsSync(caFile)) throw new UniotaError('CLI_USAGE', `--ca ${caFile}: no such file`);
    ca = readFileSync(caFile, 'utf8');
  }
  return new ApiClient(opts.server, opts.token ?? process.env['UNIOTA_TOKEN'], ca !== undefined ? { ca } : {});
}

/** Prints JSON when --json is set, else the given lines. */
export function out(json: boolean, value: unknown, lines: () => string[]): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${lines().join('\n')}\n`);
}

/** Fixed-width table for terminal output. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}
