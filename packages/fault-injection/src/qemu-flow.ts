/**
 * The QEMU tiers of a case: the prepared device's disk is copied into a fresh
 * VM disk image, the real agent drives the VM through the QEMU backend, and
 * faults are injected where they happen on a real device:
 *  - a cut at a block write: the agent writes the disk through the same
 *    FaultyBlockDevice the in-process tier uses, host-side;
 *  - a cut during a trial boot: QEMU is killed once the new image runs,
 *    after the bootloader (real U-Boot, or the host-side decision for
 *    microvm) stored its bootcount on the disk.
 * Power comes back as a real QEMU boot whose bootloader reads the env from
 * the disk. Adapter file: it creates temp dirs and runs QEMU.
 */
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaultyBlockDevice, FileBlockDevice, PartitionView, isPowerCut } from '@uniota/block-device';
import type { BlockDevice, DiskLayout, FaultPlan } from '@uniota/block-device';
import { UBootEnvStore } from '@uniota/boot-control';
import type { SlotName } from '@uniota/boot-control';
import { QemuVmDevice, RecordingTransport } from '@uniota/device-agent';
import type { PowerOnResult, VmRunResult } from '@uniota/device-agent';
import { verifySlot } from '@uniota/image';
import { FaultTestError } from './errors.ts';
import { checkAtCut, describeCut, nextOfferFor } from './flow-runner.ts';
import { OpRecorder } from './op-recorder.ts';
import type { OpTarget } from './op-recorder.ts';
import type { CheckedDevice, PreparedRun, RunRecord } from './flow-runner.ts';
import type { QemuTier } from './qemu-probe.ts';

/** Where a QEMU case runs: the tier and, for U-Boot, the shared read-only flash image. */
export interface QemuSetup {
  tier: QemuTier;
  ubootFlash: string | null;
}

// The VM disks live in RAM when it can: a case flushes after every agent write
// and a host power cut is simulated, so the host file system's durability buys nothing.
let scratchRoot: Promise<string> | null = null;
function scratch(): Promise<string> {
  scratchRoot ??= access('/dev/shm').then(
    () => '/dev/shm',
    () => tmpdir(),
  );
  return scratchRoot;
}

/** A cut of a QEMU case: at the agent's n-th block operation, or during the next trial boot. */
export type QemuCut = FaultPlan | 'trial-boot';

// A boot still running after this long is the watchdog's: real U-Boot takes
// about a second, so its margin covers a loaded CI machine.
const WATCHDOG_MS: Record<QemuTier, number> = { microvm: 3000, uboot: 15_000 };
// Killed once the new image printed its banner: the bootloader has stored its count by then.
const TRIAL_BOOT_CUT = { onSerial: 'UNIOTA-PAYLOAD' } as const;
const MAX_BOOTS = 8;

type Machine = ConstructorParameters<typeof QemuVmDevice>[0] & { close(): Promise<void> };

async function createMachine(setup: QemuSetup, dir: string, p: PreparedRun): Promise<Machine> {
  const q = await import('@uniota/bootloader-sim/qemu');
  const { slotSize, dataSize, envSize } = p.device.spec;
  const sizes = { dir, slotSize, dataSize, envSize, watchdogMs: WATCHDOG_MS[setup.tier] };
  if (setup.tier === 'microvm') return q.QemuMicrovmMachine.create(sizes);
  if (setup.ubootFlash === null) throw new FaultTestError('QEMU_UNAVAILABLE', 'the U-Boot tier needs its flash image');
  return q.QemuUbootMachine.create({ ...sizes, flashPath: setup.ubootFlash });
}

function sameLayout(a: DiskLayout, b: DiskLayout): boolean {
  return a.diskSize === b.diskSize && a.slotA.offset === b.slotA.offset && a.slotB.offset === b.slotB.offset && a.data.offset === b.data.offset && a.envOffsets.join() === b.envOffsets.join();
}

/** True when the env on `disk` has a trial pending: the next boot is a trial boot. */
async function trialPending(disk: BlockDevice, layout: DiskLayout): Promise<boolean> {
  const env = await new UBootEnvStore(disk, { offsets: layout.envOffsets, envSize: layout.envSize }).read();
  return env?.vars.get('upgrade_available') === '1';
}

/** The version in the slot's verified trailer: what the bootloader booted, independently of the banner. */
async function slotVersion(device: CheckedDevice, slot: SlotName, now: Date): Promise<string | null> {
  const part = slot === 'A' ? device.layout.slotA : device.layout.slotB;
  try {
    const v = await verifySlot(new PartitionView(device.storage, part.offset, part.length), device.spec.trailerSize, device.spec.root, { hardware: device.spec.hardware, minSecurityCounter: 0, now, checkExpiry: false });
    return v.manifest.version;
  } catch {
    return null;
  }
}

async function toPowerOnResult(r: VmRunResult, device: CheckedDevice, now: Date): Promise<PowerOnResult> {
  if (r.kind === 'no-boot') {
    const why = `no slot booted: ${r.boot.outcome}`;
    return { kind: 'bricked', boots: r.boots, reasons: { A: why, B: why } };
  }
  const slot = r.boot.bootedSlot ?? 'A';
  // A slot that does not verify is reported by the invariants; name what its serial console claimed.
  const version = (await slotVersion(device, slot, now)) ?? r.boot.version ?? '(unverifiable slot)';
  return { kind: 'settled', slot, version, boots: r.boots, state: r.agent.state };
}

/**
 * Runs the prepared flow on a fresh QEMU device: one power-on per cut (each
 * expected to cut), then one to completion; `use` sees the record while the
 * disk is still open (the invariants read it).
 */
export async function withQemuRun<T>(p: PreparedRun, setup: QemuSetup, cuts: QemuCut[], use: (run: RunRecord & { cutsHit: number; operations: OpTarget[] }) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(await scratch(), `uniota-fault-${setup.tier}-`));
  try {
    const machine = await createMachine(setup, dir, p);
    try {
      if (!sameLayout(machine.disk.layout, p.device.layout)) throw new FaultTestError('QEMU_UNAVAILABLE', 'the QEMU device disk is not laid out like the prepared device');
      const storage = await FileBlockDevice.open(machine.disk.path);
      try {
        // The provisioned factory state (GPT, env, slot A with its trailer), byte for byte.
        await storage.write(0, await p.device.storage.read(0, p.device.layout.diskSize));
        await storage.flush();
        const device: CheckedDevice = { storage, layout: p.device.layout, spec: p.device.spec };
        const vm = new QemuVmDevice(machine, { hardware: p.device.spec.hardware, root: p.device.spec.root, trailerSize: p.device.spec.trailerSize, bootLimit: p.device.spec.bootLimit, clock: () => p.now });
        const transport = new RecordingTransport();
        const base = {
          transport,
          source: p.source,
          nextOffer: nextOfferFor(p, transport),
          maxBoots: MAX_BOOTS,
          progressEvery: p.progressEvery ?? 2,
          ...(p.unsafeAgent === undefined ? {} : { unsafeAgent: p.unsafeAgent }),
        };
        const cutViolations: string[] = [];
        const cutsSeen: string[] = [];
        let cutsHit = 0;
        for (const cut of cuts) {
          try {
            if (cut === 'trial-boot') {
              await vm.run({ ...base, storage, cutBoot: async () => ((await trialPending(storage, device.layout)) ? TRIAL_BOOT_CUT : undefined) });
            } else {
              await vm.run({ ...base, storage: new FaultyBlockDevice(storage, cut) });
            }
          } catch (err) {
            if (!isPowerCut(err)) throw err;
            cutsHit += 1;
            cutsSeen.push(describeCut(err, device.layout));
            for (const v of await checkAtCut(device)) cutViolations.push(`after cut ${cutsHit}: ${v}`);
          }
        }
        // The last power-on records the agent's block operations (what a sweep cuts at, numbered as FaultyBlockDevice counts).
        const counting = new OpRecorder(storage, device.layout);
        let final: VmRunResult | null = null;
        let result: PowerOnResult;
        try {
          final = await vm.run({ ...base, storage: counting });
          result = await toPowerOnResult(final, device, p.now);
        } catch (err) {
          if (!(err instanceof Error) || !/did not settle within/.test(err.message)) throw err;
          result = { kind: 'boot-loop', boots: MAX_BOOTS };
        }
        const operations = counting.ops;
        const bootedVersions = vm.boots.flatMap((b) => (b.version === null ? [] : [b.version]));
        return await use({ result, transport, device, bootedVersions, cutViolations, cuts: cutsSeen, cutsHit, operations });
      } finally {
        await storage.close();
      }
    } finally {
      await machine.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What each block operation the agent makes in a clean run of the flow on a QEMU device touches. */
export async function qemuOperationTargets(p: PreparedRun, setup: QemuSetup): Promise<OpTarget[]> {
  return withQemuRun(p, setup, [], async (run) => {
    if (run.result.kind !== 'settled') throw new FaultTestError('FLOW_UNSETTLED', `the flow does not settle on a QEMU ${setup.tier} device without faults: ${run.result.kind}`);
    return run.operations;
  });
}
