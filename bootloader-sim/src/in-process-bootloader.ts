/**
 * The in-process bootloader: what runs at every (simulated) power-on.
 *
 * It reads the same redundant U-Boot environment the agent writes, applies
 * the bootcount table (boot-decision.ts), stores the new count BEFORE booting,
 * then verifies the chosen slot (signature and every payload byte) and falls
 * back to the other slot if it does not verify. Only if neither verifies is the
 * device bricked — the state every test asserts never happens.
 */
import type { BlockDevice, DiskLayout } from '@uniota/block-device';
import { PartitionView } from '@uniota/block-device';
import { UBootEnvStore, otherSlot } from '@uniota/boot-control';
import type { SlotName } from '@uniota/boot-control';
import { ImageError, verifySlot } from '@uniota/image';
import type { ChunkHasher } from '@uniota/image';
import type { Manifest, RootSigned } from '@uniota/image';
import { decideBoot, fallbackEnv } from './boot-decision.ts';
import type { BootPath } from './boot-decision.ts';
import { parseSimImage } from './sim-image.ts';
import type { SimImageInfo } from './sim-image.ts';

export interface BootloaderConfig {
  /** Hardware type burnt into the device; images for other hardware never boot. */
  hardware: string;
  /** Trust root baked into the bootloader. */
  root: RootSigned;
  layout: DiskLayout;
  trailerSize: number;
  /** Where the slot's chunk hashes are computed; worker threads unless the device says otherwise (a simulated fleet shares one hasher). */
  hasher?: ChunkHasher;
  /** Deliberate defects for the fault tester's self-test only (see BootloaderQuirks); default none. */
  quirks?: BootloaderQuirks;
}

/**
 * Deliberately broken bootloader behaviours. They exist ONLY so `uniota
 * fault-test` can prove it reports violations; every flag defaults off.
 */
export interface BootloaderQuirks {
  /** Boot a slot on trial without storing the incremented bootcount first. */
  skipBootcountStore?: boolean;
}

export type BootResult =
  | {
      kind: 'booted';
      slot: SlotName;
      path: BootPath;
      /** True when the chosen slot failed verification and the other one booted. */
      fellBack: boolean;
      manifest: Manifest;
      image: SimImageInfo | null;
    }
  | { kind: 'bricked'; reasons: Record<SlotName, string> };

/** Runs one boot of a simulated device whose disk is `disk`. Storage errors (a power cut) propagate. */
export async function bootOnce(disk: BlockDevice, cfg: BootloaderConfig): Promise<BootResult> {
  const { layout } = cfg;
  const env = new UBootEnvStore(disk, { offsets: layout.envOffsets, envSize: layout.envSize });
  const current = await env.read();
  const decision = decideBoot(current?.vars ?? null);
  const skipStore = decision.path === 'trial' && cfg.quirks?.skipBootcountStore === true;
  if (decision.store !== null && !skipStore) await env.write(decision.store);
  let vars = decision.store ?? current?.vars ?? new Map<string, string>();

  const slots: Record<SlotName, BlockDevice> = {
    A: new PartitionView(disk, layout.slotA.offset, layout.slotA.length),
    B: new PartitionView(disk, layout.slotB.offset, layout.slotB.length),
  };
  const reasons: Partial<Record<SlotName, string>> = {};
  for (const slot of [decision.slot, otherSlot(decision.slot)]) {
    try {
      // A bootloader has no trusted clock: expiry protects installation
      // (freeze attacks), it must never stop an installed image from booting.
      const verified = await verifySlot(slots[slot], cfg.trailerSize, cfg.root, {
        hardware: cfg.hardware,
        minSecurityCounter: 0,
        now: new Date(0),
        checkExpiry: false,
      }, cfg.hasher);
      const fellBack = slot !== decision.slot;
      if (fellBack) {
        vars = fallbackEnv(vars, slot);
        await env.write(vars);
      }
      const start = await slots[slot].read(0, Math.min(512, verified.manifest.payload.size));
      return { kind: 'booted', slot, path: decision.path, fellBack, manifest: verified.manifest, image: parseSimImage(start) };
    } catch (err) {
      // Only a verification failure sends us to the other slot; a storage
      // error (a power cut) is not the bootloader's to handle.
      if (!(err instanceof ImageError)) throw err;
      reasons[slot] = err instanceof Error ? err.message : String(err);
    }
  }
  return { kind: 'bricked', reasons: { A: reasons.A ?? '', B: reasons.B ?? '' } };
}
