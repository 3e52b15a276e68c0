import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseRootDocument, verifyRoot } from '@uniota/image';
import { FleetSim, parseFaults } from '@uniota/device-agent';

/** `uniota fleet-sim`: N simulated devices (bootloader + disk + real agent) on a broker. */
export function register(program: Command): void {
  program
    .command('fleet-sim')
    .description('run N simulated devices against a broker, each with its own disk, in-process bootloader and the real agent')
    .requiredOption('--broker <url>', 'MQTT broker URL')
    .requiredOption('--root <file>', 'trust root (root.json) baked into the devices')
    .requiredOption('--factory <bundle>', 'signed bundle every device runs from the factory')
    .option('--devices <n>', 'how many devices', (v) => Number(v), 100)
    .option('--hardware <type>', 'hardware type of the devices', 'sim-board-1')
    .option('--id-prefix <prefix>', 'device ids are <prefix>-0001, …', 'sim')
    .option('--mqtt <level>', 'MQTT protocol level: 5, or 4 for the embedded broker', (v) => Number(v), 5)
    .option('--faults <spec>', 'fault mix, e.g. powercut=0.01,drop=0.02,every=1000')
    .action(async (o: { broker: string; root: string; factory: string; devices: number; hardware: string; idPrefix: string; mqtt: number; faults?: string }) => {
      if (!Number.isInteger(o.devices) || o.devices < 1) throw new Error('--devices must be a positive integer');
      if (o.mqtt !== 4 && o.mqtt !== 5) throw new Error('--mqtt must be 4 or 5');
      const root = verifyRoot(parseRootDocument(readFileSync(o.root, 'utf8')), new Date());
      const fleet = await FleetSim.create({
        count: o.devices,
        brokerUrl: o.broker,
        protocolVersion: o.mqtt,
        root,
        factoryBundle: new Uint8Array(readFileSync(o.factory)),
        hardware: o.hardware,
        idPrefix: o.idPrefix,
        ...(o.faults === undefined ? {} : { faults: parseFaults(o.faults) }),
      });
      await fleet.start();
      process.stdout.write(`${o.devices} simulated devices online on ${o.broker}\n`);
      const timer = setInterval(() => process.stdout.write(`versions ${JSON.stringify(fleet.versions())} ${JSON.stringify(fleet.counters)}\n`), 5000);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      clearInterval(timer);
      await fleet.stop();
    });
}
