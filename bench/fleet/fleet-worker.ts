/**
 * Child process of bench/fleet.bench.ts: runs the simulated fleet apart from
 * the server, as it would be in production (the server's RSS and CPU are then
 * its own). Talks to the parent over the fork IPC channel.
 *
 *   parent → { cmd: 'stop' }            child → { ready: true, startSeconds }
 *   parent → { cmd: 'versions' }        child → { versions }
 *   parent → { cmd: 'cpu' }             child → { cpuMs }  (this process's CPU time so far, user + system)
 *   parent → { cmd: 'busy' }            child → { busy }   (devices not idle, grouped by what they wait for)
 */
import { readFileSync } from 'node:fs';
import { FleetSim } from '@uniota/device-agent';
import { ed25519Stats } from '@uniota/image';
import type { RootSigned } from '@uniota/image';

interface WorkerArgs {
  count: number;
  /** Device ids are `<idPrefix>-<n>`. */
  idPrefix?: string;
  /** The device numbers n this process runs (every P-th of the fleet), and their digits. */
  numbers?: number[];
  idWidth?: number;
  brokerUrl: string;
  rootPath: string;
  bundlePath: string;
  window: number;
}

/** CPU time of this process (every thread), in ms. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const args = JSON.parse(process.argv[2] ?? '{}') as WorkerArgs;
const send = (m: unknown) => process.send?.(m);

// Peak as well as current RSS: a wave's downloads, not the idle fleet, set the memory a fleet needs.
let peak = 0;
setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 200).unref();
const t0 = performance.now();
const fleet = await FleetSim.create({
  count: args.count,
  brokerUrl: args.brokerUrl,
  root: JSON.parse(readFileSync(args.rootPath, 'utf8')) as RootSigned,
  factoryBundle: new Uint8Array(readFileSync(args.bundlePath)),
  transfer: { window: args.window, requestTimeoutMs: 5000 },
  startParallelism: 100,
  ...(args.idPrefix === undefined ? {} : { idPrefix: args.idPrefix }),
  ...(args.numbers === undefined ? {} : { numbers: args.numbers }),
  ...(args.idWidth === undefined ? {} : { idWidth: args.idWidth }),
});
await fleet.start();
send({ ready: true, startSeconds: (performance.now() - t0) / 1000, rssMiB: process.memoryUsage().rss / 1048576 });

process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'versions') send({ versions: fleet.versions(), rssMiB: process.memoryUsage().rss / 1048576, peakMiB: peak / 1048576, hashed: fleet.hasher.stats, ed25519: ed25519Stats });
  if (m.cmd === 'cpu') send({ cpuMs: cpuMs() });
  if (m.cmd === 'busy') send({ busy: fleet.busy() });
  if (m.cmd === 'stop') void fleet.stop().then(() => process.exit(0));
});
