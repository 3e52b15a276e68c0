/**
 * The QEMU device backend: the agent runs on the host and manages a unikernel
 * VM booted by real U-Boot from an A/B disk image (the realistic deployment
 * of a unikernel gateway). It writes the inactive slot of the VM's disk,
 * "reboots" by starting QEMU again, and judges health from the serial
 * console: only a banner followed by `UNIOTA-HEALTH ok` within the watchdog
 * counts as healthy. The bootcount and rollback are the bootloader's own
 * (real U-Boot, or the host-side decision of the x86 microvm tier).
 *
 * The fault tester drives the same backend: it hands in the disk the agent
 * writes through (a fault-injecting wrapper cuts power at a chosen write) and
 * may cut power during a boot by killing QEMU.
 */
import { FileBlockDevice, PartitionView, PowerCutError } from '@uniota/block-device';
import type { BlockDevice } from '@uniota/block-device';
import { UBootEnvBootControl, UBootEnvStore } from '@uniota/boot-control';
import type { SlotName } from '@uniota/boot-control';
import type { RootSigned } from '@uniota/image';
import type { BootOptions, BootResult, DeviceDisk, PowerCut, QemuUbootMachine } from '@uniota/bootloader-sim/qemu';
import { UpdateAgent } from '../agent.ts';
import type { RunResult, UnsafeAgentOptions } from '../agent.ts';
import type { JournalState } from '../agent-state.ts';
import { fixedHealthCheck } from '../health-check.ts';
import type { ImageSource } from '../image-source.ts';
import { Journal } from '../journal.ts';
import type { AgentTransport, UpdateOffer } from '../transport.ts';

export interface QemuVmDeviceOptions {
  hardware: string;
  root: RootSigned;
  trailerSize: number;
  bootLimit?: number;
  clock?: () => Date;
  log?: (line: string) => void;
}

export type VmRunResult =
  | { kind: 'settled'; boot: BootResult; agent: UpdateAgent; boots: number }
  | { kind: 'no-boot'; boot: BootResult; boots: number };

/** What the backend needs of a QEMU machine: QemuUbootMachine and QemuMicrovmMachine both fit. */
export interface QemuVmMachine {
  readonly disk: Pick<DeviceDisk, 'path' | 'layout'>;
  boot(options?: BootOptions): Promise<BootResult>;
}

/** Options of one QemuVmDevice.run (one power-on until the device settles). */
export interface VmRunOptions {
  transport: AgentTransport;
  source: ImageSource;
  /** One offer handled once in this run (the simple case). */
  offer?: UpdateOffer;
  /** Asked whenever the agent is idle: the next offer the server would send, or null (instead of `offer`). */
  nextOffer?: (state: JournalState) => UpdateOffer | null;
  maxBoots?: number;
  /**
   * The disk the agent reads and writes, kept for the whole run (a fault
   * injector wraps the VM's disk file here); default the VM's disk file,
   * opened at each boot.
   */
  storage?: BlockDevice;
  /**
   * Asked before boot `n` (1-based) of this run: a power cut for that boot
   * (QEMU killed), or undefined. A cut that strikes throws PowerCutError,
   * exactly like a cut at a block write.
   */
  cutBoot?: (n: number) => Promise<PowerCut | undefined>;
  progressEvery?: number;
  /** Deliberate defects for the fault tester's self-test only; default none. */
  unsafeAgent?: UnsafeAgentOptions;
}

/** The agent managing one QEMU VM; `M` keeps the concrete machine type for callers. */
export class QemuVmDevice<M extends QemuVmMachine = QemuUbootMachine> {
  /** Every boot of the VM, oldest first. */
  readonly boots: BootResult[] = [];

  constructor(
    readonly machine: M,
    private readonly o: QemuVmDeviceOptions,
  ) {}

  /**
   * Boots the VM and runs the agent on the host until it settles: offers are
   * handled while the agent is idle, every reboot the agent asks for restarts
   * QEMU. A boot whose image never got healthy is still handed to the agent,
   * which rolls back (on trial) or reports it; the bootcount backs this up.
   */
  async run(opts: VmRunOptions): Promise<VmRunResult> {
    let offered = opts.offer === undefined;
    const nextOffer =
      opts.nextOffer ??
      (() => {
        if (offered || opts.offer === undefined) return null;
        offered = true;
        return opts.offer;
      });
    const max = opts.maxBoots ?? 8;
    for (let n = 1; n <= max; n++) {
      const cut = await opts.cutBoot?.(n);
      const boot = await this.machine.boot(cut === undefined ? {} : { powerCut: cut });
      this.boots.push(boot);
      this.o.log?.(`vm boot ${n}: slot ${boot.bootedSlot ?? '-'} version ${boot.version ?? '-'} ${boot.outcome}`);
      // Killed on purpose: the host (and its agent) lost power with the VM.
      if (cut !== undefined && (boot.outcome === 'power-cut' || (cut.onSerial !== undefined && boot.serial.includes(cut.onSerial)))) {
        throw new PowerCutError(`power cut during boot ${n} (slot ${boot.bootedSlot ?? '-'})`);
      }
      if (boot.bootedSlot === null) return { kind: 'no-boot', boot, boots: n };
      let own: FileBlockDevice | undefined;
      const dev = opts.storage ?? (own = await FileBlockDevice.open(this.machine.disk.path));
      try {
        const agent = await UpdateAgent.open({
          ...this.deps(dev, boot.bootedSlot, boot),
          transport: opts.transport,
          source: opts.source,
          ...(this.o.log === undefined ? {} : { log: this.o.log }),
          ...(opts.progressEvery === undefined ? {} : { progressEvery: opts.progressEvery }),
          ...(opts.unsafeAgent === undefined ? {} : { unsafe: opts.unsafeAgent }),
        });
        let result: RunResult = await agent.start();
        while (result.kind !== 'reboot') {
          const offer = nextOffer(agent.state);
          if (offer === null) break;
          const before = JSON.stringify(agent.state);
          result = await agent.offer(offer);
          // An offer that changed nothing (refused, already done) would loop forever.
          if (result.kind !== 'reboot' && JSON.stringify(agent.state) === before) break;
        }
        if (result.kind !== 'reboot') return { kind: 'settled', boot, agent, boots: n };
      } finally {
        await own?.close();
      }
    }
    throw new Error(`VM did not settle within ${max} boots`);
  }

  private deps(dev: BlockDevice, running: SlotName, boot: BootResult) {
    const layout = this.machine.disk.layout;
    return {
      bootControl: new UBootEnvBootControl(new UBootEnvStore(dev, { offsets: layout.envOffsets, envSize: layout.envSize }), { defaultBootLimit: this.o.bootLimit ?? 3 }),
      slots: {
        A: new PartitionView(dev, layout.slotA.offset, layout.slotA.length),
        B: new PartitionView(dev, layout.slotB.offset, layout.slotB.length),
      },
      journal: new Journal(new PartitionView(dev, layout.data.offset, layout.data.length)),
      runningSlot: running,
      hardware: this.o.hardware,
      root: this.o.root,
      trailerSize: this.o.trailerSize,
      clock: this.o.clock ?? (() => new Date()),
      // Judged from the serial console, never from QEMU's exit code alone.
      healthCheck: fixedHealthCheck(
        boot.healthy ? { healthy: true, reason: `serial: ${boot.version} healthy` } : { healthy: false, reason: `serial: ${boot.outcome}${boot.watchdogFired ? ' (watchdog)' : ''}` },
      ),
    };
  }
}
