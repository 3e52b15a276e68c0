/**
 * An in-process simulated device for the agent fuzz targets: the provisioned
 * disk of a SimDevice behind a write recorder, booted once by the in-process
 * bootloader, with the real AgentService connected through the fake MQTT
 * client. Any write or flush to the disk is visible per input.
 */
import { createHash } from 'node:crypto';
import type { BlockDevice, DiskLayout } from '@uniota/block-device';
import { AgentService, SimDevice, provisionSimDisk, smallDeviceSpec } from '@uniota/device-agent';
import type { JournalState } from '@uniota/device-agent';
import { TEST_NOW, makeBundle } from '../../helpers/fixtures.ts';
import type { TrustFixture } from '../../helpers/fixtures.ts';
import { clients } from './fake-mqtt.ts';
import type { FakeMqttClient } from './fake-mqtt.ts';

/** Records every write and flush that reaches the disk. */
export class RecordingDisk implements BlockDevice {
  readonly writes: { offset: number; length: number }[] = [];
  flushes = 0;
  constructor(private readonly inner: BlockDevice) {}
  get size(): number {
    return this.inner.size;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(offset, length);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    this.writes.push({ offset, length: data.length });
    return this.inner.write(offset, data);
  }
  flush(): Promise<void> {
    this.flushes += 1;
    return this.inner.flush();
  }
}

/** A running fuzz device. */
export interface FuzzDevice {
  deviceId: string;
  disk: RecordingDisk;
  layout: DiskLayout;
  service: AgentService;
  client: FakeMqttClient;
  /** Warnings that mean something escaped a handler or a queued step. */
  failures: string[];
  reboots: number;
  /** sha256 of each region of the disk. */
  digest(): Promise<{ slotA: string; slotB: string; env: string; data: string }>;
  /** The journal state without the replay guard's sequence number. */
  stateWithoutSeq(): string;
}

/** Log messages of the agent and its link that mean a handler failed instead of refusing cleanly. */
const FAILURE_MESSAGES = new Set(['agent step failed', 'agent handler failed']);

/** Provisions, boots and connects one device running 1.0.0 from slot A. */
export async function startFuzzDevice(trust: TrustFixture, deviceId: string): Promise<FuzzDevice> {
  const spec = smallDeviceSpec(trust.root);
  const { disk: mem, layout } = await provisionSimDisk(spec, makeBundle(trust, { version: '1.0.0', behaviour: 'ok', securityCounter: 1 }));
  const disk = new RecordingDisk(mem);
  const sim = new SimDevice(disk, spec, layout);
  const booted = await sim.bootOnce(disk, () => TEST_NOW);
  if (booted.kind !== 'running') throw new Error(`fuzz device did not boot: ${booted.kind}`);
  const failures: string[] = [];
  const dev: FuzzDevice = {
    deviceId,
    disk,
    layout,
    failures,
    reboots: 0,
    service: null as unknown as AgentService,
    client: null as unknown as FakeMqttClient,
    async digest() {
      const region = async (offset: number, length: number) => createHash('sha256').update(await mem.read(offset, length)).digest('hex');
      const [a, b] = layout.envOffsets;
      return {
        slotA: await region(layout.slotA.offset, layout.slotA.length),
        slotB: await region(layout.slotB.offset, layout.slotB.length),
        env: (await region(a, layout.envSize)) + (await region(b, layout.envSize)),
        data: await region(layout.data.offset, layout.data.length),
      };
    },
    stateWithoutSeq() {
      const s: Partial<JournalState> = this.service.agent.state;
      delete s.lastCommandSeq;
      return JSON.stringify(s);
    },
  };
  dev.service = await AgentService.start({
    deviceId,
    brokerUrl: 'mqtt://in-process',
    deps: booted.deps,
    reboot: async () => void (dev.reboots += 1),
    logger: { warn: (_obj, msg) => void (FAILURE_MESSAGES.has(msg) ? failures.push(`${msg}: ${JSON.stringify(_obj)}`) : undefined) },
    now: () => TEST_NOW.getTime(),
    reportTimeoutMs: 1,
    // No re-request timer fires during a run: a fuzz input must not be able to
    // look harmless only because a timeout ended the download first.
    transfer: { window: 4, requestTimeoutMs: 3_600_000, maxRetries: 1000 },
  });
  await dev.service.idle();
  const client = clients.get(deviceId);
  if (client === undefined) throw new Error('the agent did not connect through the fake MQTT client');
  dev.client = client;
  return dev;
}
