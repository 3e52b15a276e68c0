/**
 * A simulated device: a disk, the in-process bootloader and the agent, run
 * through power-on -> boot -> agent -> reboot cycles until the device settles.
 *
 * The disk is the only thing that survives a power cut; everything else
 * (bootloader state, agent object, transport) is rebuilt at each power-on,
 * exactly as on hardware. Power cuts come from a FaultyBlockDevice wrapped
 * around the disk.
 */
import {
  FaultyBlockDevice,
  MemoryBlockDevice,
  PartitionView,
  planDiskLayout,
  writeGpt,
} from '@uniota/block-device';
import type { BlockDevice, DiskLayout, FaultPlan } from '@uniota/block-device';
import { UBootEnvBootControl, UBootEnvStore, initialBootEnv } from '@uniota/boot-control';
import type { SlotName } from '@uniota/boot-control';
import { encodeSlotTrailer, parseBundleHeader, verifyManifest } from '@uniota/image';
import type { ChunkHasher, RootSigned } from '@uniota/image';
import { bootOnce } from '@uniota/bootloader-sim';
import type { BootResult, BootloaderQuirks, SimBehaviour } from '@uniota/bootloader-sim';
import type { Manifest } from '@uniota/image';
import { UpdateAgent } from '../agent.ts';
import type { AgentDeps, RunResult, UnsafeAgentOptions } from '../agent.ts';
import type { JournalState } from '../agent-state.ts';
import { fixedHealthCheck } from '../health-check.ts';
import type { ImageSource } from '../image-source.ts';
import { Journal } from '../journal.ts';
import { bootRootOf } from './boot-root.ts';
import type { AgentTransport, UpdateOffer } from '../transport.ts';

export interface SimDeviceSpec {
  hardware: string;
  root: RootSigned;
  slotSize: number;
  trailerSize: number;
  envSize: number;
  dataSize: number;
  bootLimit: number;
}

/** A small device: fast enough to clone and sweep thousands of times. */
export function smallDeviceSpec(root: RootSigned, hardware = 'sim-board-1'): SimDeviceSpec {
  return { hardware, root, slotSize: 1024 * 1024, trailerSize: 16 * 1024, envSize: 0x4000, dataSize: 1024 * 1024, bootLimit: 3 };
}

/**
 * Builds a factory-fresh disk: GPT, boot env (slot A, no trial),
 * `factoryBundle` installed in slot A. `makeDisk` picks the storage (a fleet
 * uses a SharedPageDisk); a MemoryBlockDevice by default.
 */
export async function provisionSimDisk(spec: SimDeviceSpec, factoryBundle: Uint8Array): Promise<{ disk: MemoryBlockDevice; layout: DiskLayout }>;
export async function provisionSimDisk<D extends BlockDevice>(spec: SimDeviceSpec, factoryBundle: Uint8Array, makeDisk: (size: number) => D): Promise<{ disk: D; layout: DiskLayout }>;
export async function provisionSimDisk(
  spec: SimDeviceSpec,
  factoryBundle: Uint8Array,
  makeDisk: (size: number) => BlockDevice = (size) => new MemoryBlockDevice(size),
): Promise<{ disk: BlockDevice; layout: DiskLayout }> {
  const layout = planDiskLayout({ envSize: spec.envSize, slotSize: spec.slotSize, dataSize: spec.dataSize });
  const disk = makeDisk(layout.diskSize);
  await writeGpt(disk, layout);
  const header = parseBundleHeader(factoryBundle);
  const manifest = verifyManifest(header, spec.root, { hardware: spec.hardware, minSecurityCounter: 0, now: new Date(0), checkExpiry: false });
  const slotA = new PartitionView(disk, layout.slotA.offset, layout.slotA.length);
  await slotA.write(0, factoryBundle.subarray(header.headerLength, header.headerLength + manifest.payload.size));
  await slotA.write(slotA.size - spec.trailerSize, encodeSlotTrailer(factoryBundle.subarray(0, header.headerLength), spec.trailerSize));
  const env = new UBootEnvStore(disk, { offsets: layout.envOffsets, envSize: layout.envSize });
  await env.write(initialBootEnv({ bootPart: 'A', bootLimit: spec.bootLimit }));
  await disk.flush();
  return { disk, layout };
}

export interface PowerOnOptions {
  transport: AgentTransport;
  source: ImageSource;
  /** Asked whenever the agent is idle: the next offer the "server" would send, or null. */
  nextOffer: (state: JournalState) => UpdateOffer | null;
  plan?: FaultPlan;
  /** Resets (boots) allowed before the run is declared a boot loop. */
  maxBoots?: number;
  progressEvery?: number;
  clock?: () => Date;
  log?: (line: string) => void;
  /**
   * How an image that is not a simulated one behaves: the in-process tier
   * cannot run a real unikernel, so the caller says (null: it cannot run,
   * treated as a panic, the default).
   */
  behaviourOf?: (manifest: Manifest) => SimBehaviour | null;
  /** Deliberate defects for the fault tester's self-test only; default none. */
  bootloaderQuirks?: BootloaderQuirks;
  /** Deliberate defects for the fault tester's self-test only; default none. */
  unsafeAgent?: UnsafeAgentOptions;
}

export type PowerOnResult =
  | { kind: 'settled'; slot: SlotName; version: string; boots: number; state: JournalState }
  | { kind: 'bricked'; boots: number; reasons: Record<SlotName, string> }
  | { kind: 'boot-loop'; boots: number };

/** One simulated device over persistent storage. */
export class SimDevice {
  /** Boot results of the last power-on, oldest first (for assertions and the demo). */
  readonly bootLog: BootResult[] = [];
  private faulty: FaultyBlockDevice | null = null;

  constructor(
    readonly storage: BlockDevice,
    readonly spec: SimDeviceSpec,
    readonly layout: DiskLayout,
    /** Where the agent hashes chunks (a fleet shares one FleetChunkHasher); default the agent's own. */
    readonly hasher?: ChunkHasher,
  ) {}

  /**
   * Powers the device on and runs it until it settles (agent idle with no
   * offer pending, or waiting for an install command). A power cut from
   * `plan` propagates as PowerCutError: the caller decides to power on again.
   */
  async powerOn(opts: PowerOnOptions): Promise<PowerOnResult> {
    this.faulty = opts.plan === undefined ? null : new FaultyBlockDevice(this.storage, opts.plan);
    const disk: BlockDevice = this.faulty ?? this.storage;
    const maxBoots = opts.maxBoots ?? 20;
    const clock = opts.clock ?? (() => new Date());
    this.bootLog.length = 0;
    for (let boots = 1; boots <= maxBoots; boots++) {
      const booted = await this.bootOnce(disk, clock, opts.log, opts);
      if (booted.kind === 'bricked') return { kind: 'bricked', boots, reasons: booted.reasons };
      if (booted.kind === 'reset') continue;
      const boot = booted.boot;
      const agent = await UpdateAgent.open({
        ...booted.deps,
        transport: opts.transport,
        source: opts.source,
        ...(opts.progressEvery === undefined ? {} : { progressEvery: opts.progressEvery }),
        ...(opts.log === undefined ? {} : { log: opts.log }),
        ...(opts.unsafeAgent === undefined ? {} : { unsafe: opts.unsafeAgent }),
      });
      let result: RunResult = await agent.start();
      while (result.kind !== 'reboot') {
        const offer = opts.nextOffer(agent.state);
        if (offer === null) break;
        const before = JSON.stringify(agent.state);
        result = await agent.offer(offer);
        // An offer that changed nothing (rejected, already done) would loop forever.
        if (result.kind !== 'reboot' && JSON.stringify(agent.state) === before) break;
      }
      if (result.kind === 'reboot') continue;
      const state = agent.state;
      return { kind: 'settled', slot: boot.slot, version: boot.manifest.version, boots, state };
    }
    return { kind: 'boot-loop', boots: maxBoots };
  }

  /**
   * One boot: the bootloader picks and verifies a slot; a panicking or hanging
   * image resets (the watchdog); otherwise returns the agent's side effects
   * for the booted image, ready for UpdateAgent.open.
   */
  async bootOnce(
    disk: BlockDevice,
    clock: () => Date,
    log?: (line: string) => void,
    extra: Pick<PowerOnOptions, 'behaviourOf' | 'bootloaderQuirks'> = {},
  ): Promise<
    | { kind: 'running'; boot: Extract<BootResult, { kind: 'booted' }>; deps: Omit<AgentDeps, 'transport' | 'source'> }
    | { kind: 'reset'; boot: BootResult }
    | { kind: 'bricked'; reasons: Record<SlotName, string> }
  > {
    const boot = await bootOnce(disk, {
      hardware: this.spec.hardware,
      root: await bootRootOf(new Journal(new PartitionView(disk, this.layout.data.offset, this.layout.data.length)), this.spec.root),
      layout: this.layout,
      trailerSize: this.spec.trailerSize,
      ...(this.hasher === undefined ? {} : { hasher: this.hasher }),
      ...(extra.bootloaderQuirks === undefined ? {} : { quirks: extra.bootloaderQuirks }),
    });
    this.bootLog.push(boot);
    log?.(boot.kind === 'booted' ? `boot ${this.bootLog.length}: slot ${boot.slot} (${boot.path}${boot.fellBack ? ', fell back' : ''}) version ${boot.manifest.version} ${boot.image?.behaviour ?? 'unknown'}` : `boot ${this.bootLog.length}: BRICKED`);
    if (boot.kind === 'bricked') return { kind: 'bricked', reasons: boot.reasons };
    // A real unikernel cannot run in-process: the caller says how it behaves
    // (null: it cannot run at all, like a panic).
    const behaviour = boot.image?.behaviour ?? extra.behaviourOf?.(boot.manifest) ?? 'panic';
    // A panic resets at once; a hang is reset by the watchdog. Either way
    // the agent never runs and the bootloader counts the next boot.
    if (behaviour === 'panic' || behaviour === 'hang') return { kind: 'reset', boot };
    return {
      kind: 'running',
      boot,
      deps: {
        bootControl: new UBootEnvBootControl(new UBootEnvStore(disk, { offsets: this.layout.envOffsets, envSize: this.layout.envSize }), { defaultBootLimit: this.spec.bootLimit }),
        slots: this.slotViews(disk),
        journal: new Journal(new PartitionView(disk, this.layout.data.offset, this.layout.data.length)),
        runningSlot: boot.slot,
        hardware: this.spec.hardware,
        root: this.spec.root,
        trailerSize: this.spec.trailerSize,
        clock,
        ...(this.hasher === undefined ? {} : { hasher: this.hasher }),
        healthCheck: fixedHealthCheck(
          behaviour === 'ok' ? { healthy: true, reason: 'image reports healthy' } : { healthy: false, reason: 'image reports unhealthy' },
        ),
      },
    };
  }

  /** Writes and flushes the last power-on performed (when it ran with a fault plan). */
  get operations(): number {
    return this.faulty?.operations ?? 0;
  }

  /** A copy of this device whose disk evolves independently (for sweeps). */
  clone(): SimDevice {
    if (!(this.storage instanceof MemoryBlockDevice)) throw new Error('only memory-backed devices can be cloned');
    return new SimDevice(this.storage.clone(), this.spec, this.layout, this.hasher);
  }

  private slotViews(disk: BlockDevice): Record<SlotName, BlockDevice> {
    return {
      A: new PartitionView(disk, this.layout.slotA.offset, this.layout.slotA.length),
      B: new PartitionView(disk, this.layout.slotB.offset, this.layout.slotB.length),
    };
  }
}
