import type { Command } from 'commander';
import { ApiClient } from '@uniota/update-server';

// Shared by the server-facing command files (server, image, campaign,
// devices, audit); it has no register() so the loader skips it.

/** Default API address: UNIOTA_SERVER or the server's default port on loopback. */
export const DEFAULT_SERVER = process.env['UNIOTA_SERVER'] ?? 'http://127.0.0.1:8080';

/** Adds the shared --server and --token options. */
export function withServer(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'update server base URL', DEFAULT_SERVER)
    .option('--token <token>', 'API token (default UNIOTA_TOKEN); make one in the console or with `uniota user token`');
}

/** A client for the options of a command built with withServer (the token falls back to UNIOTA_TOKEN). */
export function clientOf(opts: { server: string; token?: string }): ApiClient {
  return new ApiClient(opts.server, opts.token ?? process.env['UNIOTA_TOKEN']);
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
