import type { BootControl, BootState, SlotName } from '../boot-control.ts';
import { BootControlError } from '../errors.ts';
import type { UBootEnvStore } from '../uboot-env-store.ts';
import { BootVar, parseBootEnv } from './boot-env-vars.ts';

/** Options of UBootEnvBootControl. */
export interface UBootEnvBootControlOptions {
  /** bootlimit assumed when the env has none, and written by setTrySlot; default 3. */
  defaultBootLimit?: number;
}

/**
 * Boot control over a U-Boot redundant environment (Mender/U-Boot bootcount
 * style: boot_part, upgrade_available, bootcount, bootlimit).
 *
 * Every mutation is read-modify-write of the whole env in ONE store.write, so
 * variables we do not own (bootcmd, ethaddr, ...) survive and a power cut
 * leaves either the old or the new boot state, never a mix.
 */
export class UBootEnvBootControl implements BootControl {
  private readonly defaultBootLimit: number;

  constructor(
    private readonly store: UBootEnvStore,
    opts: UBootEnvBootControlOptions = {},
  ) {
    this.defaultBootLimit = opts.defaultBootLimit ?? 3;
  }

  /** Current state; garbage values are read the way the boot script reads them (see parseBootEnv). */
  async readState(): Promise<BootState> {
    return parseBootEnv(await this.currentVars(), this.defaultBootLimit).state;
  }

  async setTrySlot(slot: SlotName): Promise<void> {
    await this.update((vars) => {
      vars.set(BootVar.bootPart, slot);
      vars.set(BootVar.upgradeAvailable, '1');
      vars.set(BootVar.bootCount, '0');
      // Without a bootlimit the boot script would never roll back a bad slot.
      if (!/^[0-9]+$/.test(vars.get(BootVar.bootLimit) ?? '')) vars.set(BootVar.bootLimit, String(this.defaultBootLimit));
    });
  }

  async markGood(): Promise<void> {
    await this.update((vars) => {
      vars.set(BootVar.upgradeAvailable, '0');
      vars.set(BootVar.bootCount, '0');
    });
  }

  async markBad(fallback: SlotName): Promise<void> {
    await this.update((vars) => {
      vars.set(BootVar.bootPart, fallback);
      vars.set(BootVar.upgradeAvailable, '0');
      vars.set(BootVar.bootCount, '0');
    });
  }

  private async currentVars(): Promise<Map<string, string>> {
    const env = await this.store.read();
    // No valid copy means U-Boot boots from its built-in default env. Writing
    // our four variables alone would replace that with an env lacking bootcmd,
    // which is a brick, so we refuse and let the caller decide.
    if (!env) throw new BootControlError('ENV_NO_VALID_COPY', 'neither U-Boot env copy has a valid CRC');
    return env.vars;
  }

  private async update(change: (vars: Map<string, string>) => void): Promise<void> {
    const vars = new Map(await this.currentVars());
    change(vars);
    await this.store.write(vars);
  }
}

/** The env a freshly provisioned device starts with: boot_part=A upgrade_available=0 bootcount=0 bootlimit=3, plus `extra`. */
export function initialBootEnv(
  opts: { bootPart?: SlotName; bootLimit?: number; extra?: Record<string, string> } = {},
): Map<string, string> {
  const vars = new Map<string, string>(Object.entries(opts.extra ?? {}));
  vars.set(BootVar.bootPart, opts.bootPart ?? 'A');
  vars.set(BootVar.upgradeAvailable, '0');
  vars.set(BootVar.bootCount, '0');
  vars.set(BootVar.bootLimit, String(opts.bootLimit ?? 3));
  return vars;
}
