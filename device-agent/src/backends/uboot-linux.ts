/**
 * The `uboot` device backend: a real Linux device (or a unikernel host) whose
 * slots, U-Boot env and journal are block devices or files, rebooted by a
 * configurable command. Builds the agent's side effects from configuration;
 * the lifecycle itself is the same as on every other backend.
 */
import { readFile } from 'node:fs/promises';
import { FileBlockDevice } from '@uniota/block-device';
import { UBootEnvBootControl, UBootEnvStore } from '@uniota/boot-control';
import type { SlotName } from '@uniota/boot-control';
import { parseRootDocument, verifyRoot } from '@uniota/image';
import type { RootSigned } from '@uniota/image';
import type { AgentConfig } from '../daemon/config.ts';
import { slotFromCmdline } from '../daemon/config.ts';
import { healthCheckFromConfig } from '../daemon/health-checks.ts';
import type { ProcessRunner } from '../daemon/process-runner.ts';
import { AgentError } from '../errors.ts';
import { Journal } from '../journal.ts';
import type { AgentDeps } from '../agent.ts';

export interface UbootLinuxDevice {
  deps: Omit<AgentDeps, 'transport' | 'source'>;
  /** Reboots the device (runs the configured command). */
  reboot(): Promise<void>;
  close(): Promise<void>;
}

/** Opens the device's storage and builds the agent's side effects from `cfg`. */
export async function openUbootLinuxDevice(
  cfg: AgentConfig,
  io: { run: ProcessRunner; readText?: (path: string) => Promise<string>; clock?: () => Date; log?: (l: string) => void },
): Promise<UbootLinuxDevice> {
  const readText = io.readText ?? ((p: string) => readFile(p, 'utf8'));
  const clock = io.clock ?? (() => new Date());
  const root: RootSigned = verifyRoot(parseRootDocument(await readText(cfg.rootPath)), clock());
  const opened: FileBlockDevice[] = [];
  const open = async (path: string) => {
    const dev = await FileBlockDevice.open(path);
    opened.push(dev);
    return dev;
  };
  try {
    const slots: Record<SlotName, FileBlockDevice> = { A: await open(cfg.storage.slotA), B: await open(cfg.storage.slotB) };
    const envDev = await open(cfg.storage.env.path);
    const journalDev = await open(cfg.storage.journal);
    const store = new UBootEnvStore(envDev, { offsets: cfg.storage.env.offsets, envSize: cfg.storage.env.size });
    const bootControl = new UBootEnvBootControl(store, { defaultBootLimit: cfg.bootLimit });
    let runningSlot: SlotName;
    if (cfg.runningSlot !== 'auto') runningSlot = cfg.runningSlot;
    else {
      const fromCmdline = slotFromCmdline(await readText('/proc/cmdline').catch(() => ''));
      runningSlot = fromCmdline ?? (await bootControl.readState()).bootPart;
    }
    return {
      deps: {
        bootControl,
        slots,
        journal: new Journal(journalDev),
        runningSlot,
        hardware: cfg.hardware,
        root,
        trailerSize: cfg.storage.trailerSize,
        clock,
        healthCheck: healthCheckFromConfig(cfg.health, io.run),
        ...(io.log === undefined ? {} : { log: io.log }),
      },
      reboot: async () => {
        const r = await io.run(cfg.rebootCommand, { timeoutMs: 60_000 });
        if (r.code !== 0) throw new AgentError('CONFIG_INVALID', `reboot command ${cfg.rebootCommand.join(' ')} failed: ${r.error ?? r.stderr}`, { transient: true });
      },
      close: async () => {
        await Promise.all(opened.map((d) => d.close()));
      },
    };
  } catch (err) {
    await Promise.all(opened.map((d) => d.close().catch(() => undefined)));
    throw err;
  }
}
