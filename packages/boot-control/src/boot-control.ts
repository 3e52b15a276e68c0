/**
 * Boot control: the agent's only view of the bootloader.
 *
 * The agent never knows which backend it runs on (U-Boot env on a block
 * device, a file, a QEMU disk). Each backend lives in its own file under
 * backends/ and implements these four operations; each mutating operation is
 * ONE atomic write of the boot state, because separate setenv calls are not
 * atomic and a power cut between them can brick a device.
 */
export type SlotName = 'A' | 'B';

/** The other slot. */
export function otherSlot(slot: SlotName): SlotName {
  return slot === 'A' ? 'B' : 'A';
}

/** Boot state in the Mender/U-Boot bootcount style. */
export interface BootState {
  /** Slot the bootloader boots next (env `boot_part`). */
  bootPart: SlotName;
  /** True while a freshly installed slot is on trial (env `upgrade_available=1`). */
  upgradeAvailable: boolean;
  /** Boots counted during the trial (env `bootcount`). */
  bootCount: number;
  /** Trial boots allowed before the bootloader rolls back (env `bootlimit`). */
  bootLimit: number;
}

export interface BootControl {
  /** Reads the current boot state (from the valid env copy with the newest flags). */
  readState(): Promise<BootState>;
  /** Arms `slot` for a trial boot: boot_part=slot, upgrade_available=1, bootcount=0, in one write. */
  setTrySlot(slot: SlotName): Promise<void>;
  /** Commits the running trial slot: upgrade_available=0, bootcount=0, in one write. */
  markGood(): Promise<void>;
  /** Abandons a trial: boot_part=`fallback`, upgrade_available=0, bootcount=0, in one write. */
  markBad(fallback: SlotName): Promise<void>;
}
