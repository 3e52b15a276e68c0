/**
 * The fleet simulator: N simulated devices (in-process bootloader, disk and
 * the real agent over MQTT) in one process. Every device starts as a
 * copy-on-write clone of one provisioned template disk, and pages that
 * devices write alike (the new image) are shared again on flush
 * (SharedPageDisk), so a device's disk costs a few private KiB, not its slots.
 *
 * Faults are a mix given as data: power cuts at random moments (the device
 * drops off the broker without a goodbye and boots again from its disk) and
 * network drops (connection lost, agent state kept).
 */
import type { RootSigned } from '@uniota/image';
import type { ProtocolLogger } from '@uniota/protocol';
import { NetworkedSimDevice } from '../backends/networked-sim-device.ts';
import { SharedPageDisk } from '../backends/shared-page-disk.ts';
import { FleetChunkHasher } from '../backends/fleet-chunk-hasher.ts';
import { SimDevice, provisionSimDisk, smallDeviceSpec } from '../backends/sim-device.ts';
import type { SimDeviceSpec } from '../backends/sim-device.ts';

/**
 * The fleet's device: smallDeviceSpec with a boot env and a data partition
 * sized to what they hold. Every env access reads and CRCs both copies, and
 * every journal load reads both halves of the data partition, so a 16 KiB env
 * and a 1 MiB data partition made each simulated boot copy about 1 MiB (two
 * journal loads) plus 32 KiB per env read: a third of a device's bytes read
 * per update. A 4 KiB env (the variables take a few hundred bytes) and
 * 128 KiB journal copies (a record, trusted roots included, is a few KiB)
 * keep room to spare.
 */
export function fleetDeviceSpec(root: RootSigned, hardware = 'sim-board-1'): SimDeviceSpec {
  return { ...smallDeviceSpec(root, hardware), envSize: 0x1000, dataSize: 256 * 1024 };
}

export interface FleetFaults {
  /** Chance per device per fault tick of a power cut (device off, then on again). */
  powerCut: number;
  /** Chance per device per fault tick of a dropped connection. */
  networkDrop: number;
  /** Period of the fault ticks. */
  everyMs: number;
}

/** Parses `powercut=0.05,drop=0.02,every=500` (missing keys are 0 / 1000 ms). */
export function parseFaults(spec: string): FleetFaults {
  const f: FleetFaults = { powerCut: 0, networkDrop: 0, everyMs: 1000 };
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [k, v] = part.split('=');
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`fault ${part}: value must be a non-negative number`);
    if (k === 'powercut') f.powerCut = Math.min(1, n);
    else if (k === 'drop') f.networkDrop = Math.min(1, n);
    else if (k === 'every') f.everyMs = Math.max(10, n);
    else throw new Error(`unknown fault '${k}' (known: powercut, drop, every)`);
  }
  return f;
}

export interface FleetSimOptions {
  count: number;
  brokerUrl: string;
  protocolVersion?: 4 | 5;
  root: RootSigned;
  /** The signed bundle every device runs from the factory (slot A). */
  factoryBundle: Uint8Array;
  hardware?: string;
  idPrefix?: string;
  /**
   * Device numbers (1-based) this fleet runs, instead of 1..count: a fleet
   * split over several processes gives each every P-th number, so devices
   * taken in id order (a campaign's waves) are spread over the processes.
   */
  numbers?: readonly number[];
  /** Digits of a device number in its id (default: those of the largest number). */
  idWidth?: number;
  spec?: Partial<SimDeviceSpec>;
  faults?: FleetFaults;
  /** Devices powered on at once while starting (connection storms hurt brokers). */
  startParallelism?: number;
  random?: () => number;
  logger?: ProtocolLogger;
  transfer?: ConstructorParameters<typeof NetworkedSimDevice>[1]['transfer'];
}

export class FleetSim {
  readonly devices: NetworkedSimDevice[] = [];
  /** Counters of what happened to the fleet. */
  readonly counters = { boots: 0, resets: 0, bricked: 0, powerCuts: 0, networkDrops: 0 };
  #faultTimer: NodeJS.Timeout | null = null;
  /** One hasher for every device: identical chunks are hashed once per process (see FleetChunkHasher). */
  readonly hasher = new FleetChunkHasher();

  private constructor(private readonly o: FleetSimOptions) {}

  /** Provisions the template disk and creates the devices (not yet powered on). */
  static async create(o: FleetSimOptions): Promise<FleetSim> {
    const fleet = new FleetSim(o);
    const spec = { ...fleetDeviceSpec(o.root, o.hardware ?? 'sim-board-1'), ...(o.spec ?? {}) };
    // One page pool for the fleet: devices that wrote the same bytes share them.
    const template = await provisionSimDisk(spec, o.factoryBundle, (size) => new SharedPageDisk(size));
    const numbers = o.numbers ?? Array.from({ length: o.count }, (_, i) => i + 1);
    if (numbers.length !== o.count) throw new RangeError(`${numbers.length} device numbers for a fleet of ${o.count}`);
    const width = o.idWidth ?? String(Math.max(0, ...numbers)).length;
    for (const number of numbers) {
      const id = `${o.idPrefix ?? 'sim'}-${String(number).padStart(width, '0')}`;
      const device = new SimDevice(template.disk.clone(), spec, template.layout, fleet.hasher);
      fleet.devices.push(
        new NetworkedSimDevice(device, {
          deviceId: id,
          brokerUrl: o.brokerUrl,
          ...(o.protocolVersion === undefined ? {} : { protocolVersion: o.protocolVersion }),
          ...(o.logger === undefined ? {} : { logger: o.logger }),
          ...(o.transfer === undefined ? {} : { transfer: o.transfer }),
          onBoot: (e) => {
            fleet.counters.boots += 1;
            if (e.state === 'reset') fleet.counters.resets += 1;
            if (e.state === 'bricked') fleet.counters.bricked += 1;
          },
        }),
      );
    }
    return fleet;
  }

  /** Powers every device on (bounded parallelism), then starts the fault mix if any. */
  async start(): Promise<void> {
    const width = this.o.startParallelism ?? 50;
    for (let i = 0; i < this.devices.length; i += width) {
      await Promise.all(this.devices.slice(i, i + width).map((d) => d.powerOn()));
    }
    const f = this.o.faults;
    if (f !== undefined && (f.powerCut > 0 || f.networkDrop > 0)) {
      this.#faultTimer = setInterval(() => this.#injectFaults(f), f.everyMs);
      this.#faultTimer.unref();
    }
  }

  /** Stops the faults and powers every device off. */
  async stop(): Promise<void> {
    if (this.#faultTimer !== null) clearInterval(this.#faultTimer);
    await Promise.all(this.devices.map((d) => d.powerOff()));
  }

  /** How many devices run each version (their committed image), and how many are offline. */
  versions(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const d of this.devices) {
      const v = d.service?.agent.state.committed?.version ?? 'offline';
      out[v] = (out[v] ?? 0) + 1;
    }
    return out;
  }

  /**
   * Devices that are not idle, grouped by what they are doing: agent state,
   * download phase, link up or down (booting: no agent running yet). A
   * campaign that stops moving is diagnosed from this: where its devices wait.
   */
  busy(sampleSize = 3): Record<string, { count: number; sample: string[]; detail?: unknown }> {
    const out: Record<string, { count: number; sample: string[]; detail?: unknown }> = {};
    for (const d of this.devices) {
      const s = d.service;
      let key: string;
      let detail: unknown;
      if (s === null) key = 'booting-or-off';
      else {
        const state = s.agent.state.state;
        const dl = s.download;
        if (state === 'idle' && dl === null) continue;
        key = `${state}${dl === null ? '' : `/${dl.mode}-${dl.phase}`}${s.connected ? '' : '/link-down'}`;
        if (dl !== null) detail = { next: dl.next, of: dl.chunkCount, ...dl.stats };
      }
      const g = (out[key] ??= { count: 0, sample: [] });
      g.count += 1;
      if (g.sample.length < sampleSize) g.sample.push(d.deviceId);
      if (g.detail === undefined && detail !== undefined) g.detail = detail;
    }
    return out;
  }

  #injectFaults(f: FleetFaults): void {
    const rnd = this.o.random ?? Math.random;
    for (const d of this.devices) {
      if (d.service === null) continue;
      const r = rnd();
      if (r < f.powerCut) {
        this.counters.powerCuts += 1;
        void d.powerOff().then(() => setTimeout(() => void d.powerOn(), 50 + rnd() * 200));
      } else if (r < f.powerCut + f.networkDrop) {
        this.counters.networkDrops += 1;
        void d.service.dropConnection();
      }
    }
  }
}
