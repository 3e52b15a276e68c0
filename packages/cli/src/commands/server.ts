import type { Command } from 'commander';
import { loadConfig, startServer } from '@uniota/update-server';

/** `uniota server`: runs the update server (HTTP API + campaign engine) until interrupted. */
export function register(program: Command): void {
  program
    .command('server')
    .description('run the update server; settings come from UNIOTA_* environment variables, overridden by options')
    .option('--data-dir <dir>', 'database and bundle store (UNIOTA_DATA_DIR)')
    .option('--host <host>', 'listen address (UNIOTA_HOST)')
    .option('--port <port>', 'listen port (UNIOTA_PORT)', (v) => Number(v))
    .option('--trust-root <file>', 'root.json used to verify uploads (UNIOTA_TRUST_ROOT)')
    .option('--https-cert <file>', 'serve HTTPS only (TLS 1.2+) with this certificate, e.g. from `uniota pki issue --profile https` (UNIOTA_HTTPS_CERT)')
    .option('--https-key <file>', 'private key of --https-cert (UNIOTA_HTTPS_KEY)')
    .action(async (o: { dataDir?: string; host?: string; port?: number; trustRoot?: string; httpsCert?: string; httpsKey?: string }) => {
      const config = loadConfig(process.env, {
        ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
        ...(o.host !== undefined ? { host: o.host } : {}),
        ...(o.port !== undefined ? { port: o.port } : {}),
        ...(o.trustRoot !== undefined ? { trustRootPath: o.trustRoot } : {}),
        ...(o.httpsCert !== undefined ? { httpsCertPath: o.httpsCert } : {}),
        ...(o.httpsKey !== undefined ? { httpsKeyPath: o.httpsKey } : {}),
      });
      const server = await startServer(config);
      process.stderr.write(`uniota server listening on ${server.address} (data in ${config.dataDir})\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });
}
