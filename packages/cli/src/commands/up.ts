import type { Command } from 'commander';
import { up } from '../up/up.ts';

/** `uniota up`: server + embedded broker + simulated fleet + console, on embedded defaults. */
export function register(program: Command): void {
  program
    .command('up')
    .description('run everything on embedded defaults: update server, console, embedded MQTT broker and a simulated fleet')
    .option('--data-dir <dir>', 'server data (database, images, demo keys)', process.env['UNIOTA_DATA_DIR'] ?? './uniota-data')
    .option('--host <host>', 'HTTP listen address', '127.0.0.1')
    .option('--port <port>', 'HTTP port (console and API)', (v) => Number(v), Number(process.env['UNIOTA_PORT'] ?? 8080))
    .option('--broker-port <port>', 'embedded MQTT broker port', (v) => Number(v), 1883)
    .option('--devices <n>', 'simulated devices', (v) => Number(v), 100)
    .option('--faults <spec>', 'fault mix for the fleet, e.g. powercut=0.01,drop=0.02,every=1000')
    .option('--exit-after <seconds>', 'stop after this long (for scripted runs)', (v) => Number(v))
    .action(async (o: { dataDir: string; host: string; port: number; brokerPort: number; devices: number; faults?: string; exitAfter?: number }) => {
      const log = (l: string) => process.stdout.write(`${l}\n`);
      const h = await up({ ...o, log, ...(o.faults === undefined ? {} : { faults: o.faults }) });
      log(`uniota is up`);
      log(`  console and API: ${h.server.address}/`);
      log(`  MQTT broker:     ${h.server.brokerUrl} (embedded)`);
      log(`  fleet:           ${h.fleet.devices.length} simulated devices running ${Object.keys(h.fleet.versions()).join(', ')}`);
      log(`  images ready:    ${h.imageIds.map((id) => id.slice(0, 12)).join(', ')} (start a campaign from the console or with \`uniota campaign create\`)`);
      log(`  data:            ${o.dataDir}`);
      log('press Ctrl-C to stop');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
        if (o.exitAfter !== undefined) setTimeout(resolve, o.exitAfter * 1000).unref();
      });
      await h.close();
    });
}
