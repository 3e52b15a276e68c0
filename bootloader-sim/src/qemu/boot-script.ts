/**
 * The U-Boot boot script (boot-script.env, committed next to this file) and
 * the static env image built from it with mkenvimage for pflash unit 1.
 */
import { fileURLToPath } from 'node:url';
import type { HostFiles } from './host-files.ts';
import type { ProcessRunner } from './process-runner.ts';
import { QemuError } from './errors.ts';

/** Path of the committed boot script. */
export const BOOT_SCRIPT_PATH = fileURLToPath(new URL('./boot-script.env', import.meta.url));

/** CONFIG_ENV_SIZE of Debian's qemu_arm64 U-Boot (env in flash at the start of pflash unit 1). */
export const UBOOT_FLASH_ENV_SIZE = 0x40000;
/** Guest-physical base of pflash unit 1 on QEMU's virt machine, where U-Boot reads its flash env. */
export const PFLASH1_BASE = 0x04000000;
/** Blocks the script reads from a slot (`uniota_payload_blocks`): payloads must fit in 64 KiB. */
export const SLOT_READ_BYTES = 0x80 * 512;

/**
 * Parses the script file format: `name=value` lines; a line starting with
 * whitespace continues the previous value (joined by one space); `#` lines
 * and blank lines are comments. Returns the variables in file order.
 */
export function parseBootScript(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  let current: string | null = null;
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.startsWith('#') || line.trim() === '') return;
    if (/^\s/.test(line)) {
      if (current === null) throw new QemuError('SCRIPT_INVALID', `line ${i + 1}: continuation before any variable`);
      const prev = vars.get(current)!;
      vars.set(current, prev === '' ? line.trim() : `${prev} ${line.trim()}`);
      return;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new QemuError('SCRIPT_INVALID', `line ${i + 1}: expected name=value`);
    current = line.slice(0, eq);
    vars.set(current, line.slice(eq + 1).trim());
  });
  return vars;
}

/** mkenvimage's input: one `name=value` line per variable. */
export function envText(vars: ReadonlyMap<string, string>): string {
  return [...vars].map(([k, v]) => `${k}=${v}\n`).join('');
}

/**
 * Builds the static env image for pflash unit 1 at `path`: the boot script as
 * U-Boot's single-copy flash env (UBOOT_FLASH_ENV_SIZE bytes), made by
 * mkenvimage. Only the env, not the whole 64 MiB unit: QEMU reads a pflash
 * drive's entire 64 MiB into guest memory at every start (about 20 ms of CPU
 * per boot), so QemuUbootMachine loads just these bytes into the unit instead.
 */
export async function buildUbootFlash(
  path: string,
  deps: { runner: ProcessRunner; files: HostFiles; scriptPath?: string },
): Promise<void> {
  const scriptPath = deps.scriptPath ?? BOOT_SCRIPT_PATH;
  const text = await deps.files.read(scriptPath);
  if (!text) throw new QemuError('SCRIPT_INVALID', `boot script ${scriptPath} not found`);
  const vars = parseBootScript(new TextDecoder().decode(text));
  let res;
  try {
    res = await deps.runner.run('mkenvimage', ['-s', `0x${UBOOT_FLASH_ENV_SIZE.toString(16)}`, '-'], {
      stdin: new TextEncoder().encode(envText(vars)),
      timeoutMs: 10_000,
    });
  } catch (err) {
    throw new QemuError('TOOL_FAILED', 'cannot run mkenvimage (package u-boot-tools)', { cause: err });
  }
  if (res.exitCode !== 0 || res.stdout.length !== UBOOT_FLASH_ENV_SIZE) {
    throw new QemuError('TOOL_FAILED', `mkenvimage failed (${res.exitCode ?? res.signal}): ${res.stderr.trim()}`);
  }
  await deps.files.write(path, res.stdout);
}
