/**
 * What a QEMU-tier run shares between its cases, made once in the main thread:
 * healthy bootable payloads for the generated images (factory, downgrade) and,
 * for U-Boot, the read-only flash with the boot script. Adapter file: it
 * builds payloads with the host toolchain and writes a temp dir.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaultTestError } from './errors.ts';
import type { QemuTier } from './qemu-probe.ts';
import { GENERATED_VERSIONS } from './test-inputs.ts';

/** The shared assets of one QEMU-tier run; `dispose` removes them. */
export interface QemuAssets {
  generatedPayloads: { factory: Uint8Array; downgrade: Uint8Array };
  ubootFlash: string | null;
  dispose(): Promise<void>;
}

/** Builds the assets of `tier`; QEMU_UNAVAILABLE when its toolchain is missing. */
export async function prepareQemuAssets(tier: QemuTier): Promise<QemuAssets> {
  const q = await import('@uniota/bootloader-sim/qemu');
  const arch = tier === 'microvm' ? 'x86' : 'aarch64';
  const dir = await mkdtemp(join(tmpdir(), `uniota-fault-${tier}-assets-`));
  const dispose = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    const healthy = (version: string): Promise<Uint8Array> => q.buildPayload({ arch, version, behaviour: 'healthy' });
    const generatedPayloads = { factory: await healthy(GENERATED_VERSIONS.factory), downgrade: await healthy(GENERATED_VERSIONS.downgrade) };
    let ubootFlash: string | null = null;
    if (tier === 'uboot') {
      ubootFlash = join(dir, 'uboot-flash.img');
      await q.buildUbootFlash(ubootFlash, { runner: new q.NodeProcessRunner(), files: new q.NodeHostFiles() });
    }
    return { generatedPayloads, ubootFlash, dispose };
  } catch (err) {
    await dispose();
    throw new FaultTestError('QEMU_UNAVAILABLE', `cannot prepare the QEMU ${tier} tier: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
