/**
 * The QEMU device backend: the agent runs on the host and manages a unikernel
 * VM booted by real U-Boot from an A/B disk image (the realistic deployment
 * of a unikernel gateway). It writes the inactive slot of the VM's disk,
 * "reboots" by starting QEMU again, and judges health from the serial
 * console: only a banner followed by `UNIOTA-HEALTH ok` within the watchdog
 * counts as healthy. The bootcount and rollback are U-Boot's own.
 */
import { FileBlockDevice, PartitionView } from '@uniota/block-device';
import type { BlockDevice } from '@uniota/block-device';
import { UBootEnvBootControl, UBootEnvStore } from '@uniota/boot-control';
import type { SlotName } from '@uniota/boot-control';
import type { RootSigned } from '@uniota/image';
import type { BootResult, QemuUbootMachine } from '@uniota/bootloader-sim/qemu';
import { UpdateAgent } from '../agent.ts';
import type { RunResult } from '../agent.ts';
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

export class QemuVmDevice {
  /** Every boot of the VM, oldest first. */
  readonly boots: BootResult[] = [];

  constructor(
    readonly machine: QemuUbootMachine,
    private readonly o: QemuVmDeviceOptions,
  ) {}

  /**
   * Boots the VM and runs the agent on the host until it settles: an offer
   * (if given) is handled once, every reboot the agent asks for restarts QEMU.
   * A boot whose image never got healthy is still handed to the agent, which
   * rolls back (on trial) or reports it; U-Boot's bootcount backs this up.
   */
  async run(opts: { transport: AgentTransport; source: ImageSource; offer?: UpdateOffer; maxBoots?: number }): Promise<VmRunResult> {
    let offered = opts.offer === undefined;
    const max = opts.maxBoots ?? 8;
    for (let n = 1; n <= max; n++) {
      const boot = await this.machine.boot();
      this.boots.push(boot);
      this.o.log?.(`vm boot ${n}: slot ${boot.bootedSlot ?? '-'} version ${boot.version ?? '-'} ${boot.outcome}`);
      if (boot.bootedSlot === null) return { kind: 'no-boot', boot, boots: n };
      const dev = await FileBlockDevice.open(this.machine.disk.path);
      try {
        const agent = await UpdateAgent.open({
          ...this.deps(dev, boot.bootedSlot, boot),
          transport: opts.transport,
          source: opts.source,
          ...(this.o.log === undefined ? {} : { log: this.o.log }),
        });
        let result: RunResult = await agent.start();
        if (result.kind !== 'reboot' && !offered && opts.offer !== undefined) {
          offered = true;
          result = await agent.offer(opts.offer);
        }
        if (result.kind !== 'reboot') return { kind: 'settled', boot, agent, boots: n };
      } finally {
        await dev.close();
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
