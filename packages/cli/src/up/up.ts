/**
 * `uniota up`: the whole system on embedded defaults in one process — the
 * update server (HTTP API, console, campaign engine, SQLite), its embedded
 * MQTT broker, and a simulated fleet whose devices each run the real agent
 * over their own disk and in-process bootloader.
 */
import { loadConfig, startServer } from '@uniota/update-server';
import type { RunningServer } from '@uniota/update-server';
import { FleetSim, parseFaults } from '@uniota/device-agent';
import { DEMO_HARDWARE, ensureDemoData } from './demo-data.ts';

export interface UpOptions {
  dataDir: string;
  host: string;
  port: number;
  brokerPort: number;
  devices: number;
  faults?: string;
  log: (line: string) => void;
}

export interface UpHandle {
  server: RunningServer;
  fleet: FleetSim;
  imageIds: string[];
  close(): Promise<void>;
}

/** Starts server, broker and fleet; uploads the demo images on first start. */
export async function up(o: UpOptions): Promise<UpHandle> {
  const demo = ensureDemoData(o.dataDir);
  if (demo.created) o.log(`created a demo trust root and keys in ${o.dataDir}/keys (production keeps root and image keys offline)`);
  const config = loadConfig(process.env, { dataDir: o.dataDir, host: o.host, port: o.port, embeddedBrokerPort: o.brokerPort, brokerUrl: '', logLevel: 'warn', tickMs: 250 });
  const server = await startServer(config);
  const imageIds: string[] = [];
  for (const u of demo.updates) {
    const img = server.app.images.upload(u.bundle, 'uniota-up');
    imageIds.push(img.id);
  }
  const fleet = await FleetSim.create({
    count: o.devices,
    brokerUrl: server.brokerUrl,
    protocolVersion: server.brokerProtocolVersion,
    root: demo.root,
    factoryBundle: demo.factoryBundle,
    hardware: DEMO_HARDWARE,
    ...(o.faults === undefined ? {} : { faults: parseFaults(o.faults) }),
  });
  await fleet.start();
  return {
    server,
    fleet,
    imageIds,
    close: async () => {
      await fleet.stop();
      await server.close();
    },
  };
}
