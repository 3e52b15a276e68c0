/**
 * The boot decision: U-Boot bootcount semantics as one pure function.
 *
 * Both bootloaders we ship follow exactly this table: the in-process
 * simulator (in-process-bootloader.ts) calls it, and the U-Boot script in
 * qemu/ implements the same rows in hush; a differential test holds them equal.
 *
 * Row order matters: an env that no copy vouches for is handled first (the
 * device must still boot), then the trial rows, because a slot on trial must
 * be counted BEFORE it boots — a hang or panic after that must not be able to
 * skip the count (field failure: endless boot loops on the new slot).
 */
import type { SlotName } from '@uniota/boot-control';

/** Values U-Boot falls back to when the stored env is unusable. */
export const DEFAULT_BOOT_LIMIT = 3;

/** Why the bootloader chose what it chose (shown in serial logs and tests). */
export type BootPath = 'no-valid-env' | 'normal' | 'trial' | 'altboot';

export interface BootDecision {
  path: BootPath;
  /** Slot to boot. */
  slot: SlotName;
  /** The env to store before booting, or null when nothing changes. */
  store: Map<string, string> | null;
}

/** Parses boot_part; anything but A or B reads as A, the factory slot. */
function slotOf(value: string | undefined): SlotName {
  return value === 'B' ? 'B' : 'A';
}

/** Parses a non-negative decimal counter; garbage reads as `fallback`. */
function counterOf(value: string | undefined, fallback: number): number {
  if (value === undefined || !/^\d{1,9}$/.test(value)) return fallback;
  return Number(value);
}

/** Decides which slot boots next and what to store first. `vars` is null when no env copy is valid. */
export function decideBoot(vars: ReadonlyMap<string, string> | null): BootDecision {
  if (vars === null) {
    const store = new Map([
      ['boot_part', 'A'],
      ['upgrade_available', '0'],
      ['bootcount', '0'],
      ['bootlimit', String(DEFAULT_BOOT_LIMIT)],
    ]);
    return { path: 'no-valid-env', slot: 'A', store };
  }
  const slot = slotOf(vars.get('boot_part'));
  if (vars.get('upgrade_available') !== '1') return { path: 'normal', slot, store: null };
  const limit = counterOf(vars.get('bootlimit'), DEFAULT_BOOT_LIMIT);
  const count = counterOf(vars.get('bootcount'), 0) + 1;
  const store = new Map(vars);
  if (count > limit) {
    const other: SlotName = slot === 'A' ? 'B' : 'A';
    store.set('boot_part', other);
    store.set('upgrade_available', '0');
    store.set('bootcount', '0');
    return { path: 'altboot', slot: other, store };
  }
  store.set('bootcount', String(count));
  return { path: 'trial', slot, store };
}

/**
 * The env after the chosen slot failed verification and the bootloader falls
 * back to `fallback`: the trial (if any) is over, so the agent sees a rollback.
 */
export function fallbackEnv(vars: ReadonlyMap<string, string>, fallback: SlotName): Map<string, string> {
  const store = new Map(vars);
  store.set('boot_part', fallback);
  store.set('upgrade_available', '0');
  store.set('bootcount', '0');
  return store;
}
