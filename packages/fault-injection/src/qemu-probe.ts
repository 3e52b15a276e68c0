/**
 * The QEMU tiers' part of a fault test: boot an image's payload for real
 * (x86 microvm, or real U-Boot on arm64) and judge what it does from its
 * serial output. Adapter file: it creates temp dirs and runs QEMU.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SimBehaviour } from '@uniota/bootloader-sim';
import { FaultTestError } from './errors.ts';

/** Which QEMU tier boots the images. */
export type QemuTier = 'microvm' | 'uboot';

/** What one real boot showed. */
export interface QemuVerdict {
  behaviour: SimBehaviour;
  outcome: string;
  durationMs: number;
}

// Serial verdicts -> what the in-process device does with the image. A payload
// that never printed its banner cannot run: the bootloader counts it like a panic.
const OUTCOME_TO_BEHAVIOUR: Record<string, SimBehaviour> = { healthy: 'ok', unhealthy: 'unhealthy', panic: 'panic', hang: 'hang', 'no-payload': 'panic' };

/** Boots `payload` once from slot A of a fresh QEMU device and returns its verdict (`flashPath`: a shared U-Boot flash). */
export async function probeUnderQemu(payload: Uint8Array, tier: QemuTier, opts: { watchdogMs?: number; flashPath?: string } = {}): Promise<QemuVerdict> {
  // Loaded only when a QEMU tier is asked for.
  const q = await import('@uniota/bootloader-sim/qemu');
  const dir = await mkdtemp(join(tmpdir(), 'uniota-fault-test-qemu-'));
  const env = new Map([['boot_part', 'A'], ['upgrade_available', '0'], ['bootcount', '0'], ['bootlimit', '3']]);
  try {
    const machine =
      tier === 'microvm'
        ? await q.QemuMicrovmMachine.create({ dir, env, slotSize: Math.max(1024 * 1024, Math.ceil(payload.length / 65536) * 65536), watchdogMs: opts.watchdogMs ?? 3000 })
        : await q.QemuUbootMachine.create({ dir, env, watchdogMs: opts.watchdogMs ?? 15_000, ...(opts.flashPath === undefined ? {} : { flashPath: opts.flashPath }) });
    try {
      await machine.disk.writeSlot('A', payload);
      const r = await machine.boot();
      return { behaviour: OUTCOME_TO_BEHAVIOUR[r.outcome] ?? 'panic', outcome: r.outcome, durationMs: r.durationMs };
    } finally {
      await machine.close();
    }
  } catch (err) {
    if (err instanceof FaultTestError) throw err;
    throw new FaultTestError('QEMU_UNAVAILABLE', `cannot boot the image under the QEMU ${tier} tier: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
