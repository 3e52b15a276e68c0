import type { BootState, SlotName } from '../boot-control.ts';

/** The env variable names the boot script and the agent share. */
export const BootVar = {
  bootPart: 'boot_part',
  upgradeAvailable: 'upgrade_available',
  bootCount: 'bootcount',
  bootLimit: 'bootlimit',
} as const;

/** One boot variable whose value the boot script would not understand. */
export interface BootEnvProblem {
  code: 'ENV_INVALID_VALUE';
  variable: string;
  value: string | undefined;
  /** What readState uses instead, and why that is what the boot script does. */
  message: string;
}

const DECIMAL = /^(0|[1-9][0-9]{0,8})$/;

/**
 * Interprets boot variables leniently, never throwing: a device whose env
 * holds garbage must still report a state rather than crash the agent into a
 * brick. Each fallback mirrors the boot script's own test (`if boot_part = B
 * then B else A`; `upgrade_available = 1` arms the trial; unparsable numbers
 * count as 0, a missing or unparsable bootlimit as `defaultBootLimit`).
 */
export function parseBootEnv(
  vars: Map<string, string>,
  defaultBootLimit: number,
): { state: BootState; problems: BootEnvProblem[] } {
  const problems: BootEnvProblem[] = [];
  const note = (variable: string, message: string): void => {
    problems.push({ code: 'ENV_INVALID_VALUE', variable, value: vars.get(variable), message });
  };
  const part = vars.get(BootVar.bootPart);
  if (part !== 'A' && part !== 'B') note(BootVar.bootPart, 'not A or B; the boot script boots A');
  const upgrade = vars.get(BootVar.upgradeAvailable);
  if (upgrade !== undefined && upgrade !== '0' && upgrade !== '1') {
    note(BootVar.upgradeAvailable, 'not 0 or 1; only 1 arms a trial, so treated as 0');
  }
  const count = vars.get(BootVar.bootCount);
  if (count !== undefined && !DECIMAL.test(count)) note(BootVar.bootCount, 'not a decimal count; treated as 0');
  const limit = vars.get(BootVar.bootLimit);
  if (limit === undefined || !DECIMAL.test(limit)) {
    note(BootVar.bootLimit, `missing or not a decimal number; ${defaultBootLimit} is used`);
  }
  const bootPart: SlotName = part === 'B' ? 'B' : 'A';
  return {
    state: {
      bootPart,
      upgradeAvailable: upgrade === '1',
      bootCount: count !== undefined && DECIMAL.test(count) ? Number(count) : 0,
      bootLimit: limit !== undefined && DECIMAL.test(limit) ? Number(limit) : defaultBootLimit,
    },
    problems,
  };
}

/** Problems with the boot variables in `vars`; empty when the boot script reads them all as meant. */
export function validateBootEnv(vars: Map<string, string>): BootEnvProblem[] {
  return parseBootEnv(vars, 0).problems;
}
