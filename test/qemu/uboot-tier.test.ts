/**
 * The reference bootloader: Debian's real U-Boot under qemu-system-aarch64
 * running boot-script.env. Each test boots a fresh disk; the boot state is
 * read back with Debian's fw_printenv, the tool a device's userland uses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  QemuUbootMachine,
  buildPayload,
  buildUbootFlash,
  NodeHostFiles,
  NodeProcessRunner,
  type PowerCut,
  type QemuUbootMachineOptions,
} from '../../bootloader-sim/src/qemu/index.ts';
import { encodeEnvCopy } from '@uniota/boot-control';
import { FileBlockDevice } from '@uniota/block-device';
import { factoryEnv, fwPrintenv, fwSetenv, tempDir, trialEnv } from './helpers.ts';

const tmp = tempDir('uniota-qemu-uboot-');
let flashPath = '';
const images: Record<string, Uint8Array> = {};
let machines = 0;

beforeAll(async () => {
  flashPath = join(tmp.dir, 'flash.img');
  await buildUbootFlash(flashPath, { runner: new NodeProcessRunner(), files: new NodeHostFiles() });
  for (const [name, version, behaviour] of [
    ['a', '1.0.0', 'healthy'],
    ['bOk', '2.0.0', 'healthy'],
    ['bPanic', '2.0.0-panic', 'panic'],
    ['bHang', '2.0.0-hang', 'hang'],
    ['bUnhealthy', '2.0.0-sick', 'unhealthy'],
  ] as const) {
    images[name] = await buildPayload({ arch: 'aarch64', version, behaviour });
  }
});
afterAll(() => tmp.cleanup());

/** A device with A = 1.0.0 healthy and B = `b`, starting from `env`. */
async function device(
  b: string,
  env: Map<string, string> | undefined,
  opts: Partial<QemuUbootMachineOptions> = {},
): Promise<QemuUbootMachine> {
  const dir = join(tmp.dir, `m${machines++}`);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  const m = await QemuUbootMachine.create({ dir, flashPath, watchdogMs: 15_000, ...(env ? { env } : {}), ...opts });
  await m.disk.writeSlot('A', images.a!);
  await m.disk.writeSlot('B', images[b]!);
  return m;
}

describe('U-Boot tier (qemu-system-aarch64 + Debian U-Boot)', () => {
  it('boots slot A when the env says boot_part=A, and writes nothing', async () => {
    const m = await device('bOk', factoryEnv());
    const before = fwPrintenv(m.disk);
    const r = await m.boot();
    expect(r).toMatchObject({ bootedSlot: 'A', version: '1.0.0', behaviour: 'healthy', healthy: true });
    expect(r.serial).toContain('U-Boot 2023.01');
    expect(fwPrintenv(m.disk)).toEqual(before);
    await m.close();
  });

  it('boots an armed healthy B once and stores bootcount=1 where fw_printenv reads it', async () => {
    const m = await device('bOk', factoryEnv());
    // Armed with Debian's fw_setenv, as a Mender-style agent would.
    fwSetenv(m.disk, { boot_part: 'B', upgrade_available: '1', bootcount: '0' });
    const r = await m.boot();
    expect(r).toMatchObject({ bootedSlot: 'B', version: '2.0.0', healthy: true });
    expect(fwPrintenv(m.disk)).toEqual({ boot_part: 'B', upgrade_available: '1', bootcount: '1', bootlimit: '3' });
    // And the agent's own reader agrees, down to which copy is current.
    const snap = await m.disk.env.read();
    expect(snap?.vars.get('bootcount')).toBe('1');
    await m.close();
  });

  it.each([
    ['panics', 'bPanic', 'panic'],
    ['boots but fails health', 'bUnhealthy', 'unhealthy'],
  ] as const)('a B that %s is booted bootlimit times, then U-Boot switches back to A by itself', async (_, b, outcome) => {
    const m = await device(b, trialEnv('B'));
    for (let count = 1; count <= 3; count++) {
      const r = await m.boot();
      expect(r).toMatchObject({ bootedSlot: 'B', outcome, healthy: false });
      expect(fwPrintenv(m.disk)).toMatchObject({ boot_part: 'B', upgrade_available: '1', bootcount: String(count) });
    }
    const back = await m.boot();
    expect(back).toMatchObject({ bootedSlot: 'A', version: '1.0.0', healthy: true });
    expect(back.serial).toContain('bootlimit exceeded on slot B');
    expect(fwPrintenv(m.disk)).toEqual({ boot_part: 'A', upgrade_available: '0', bootcount: '0', bootlimit: '3' });
    await m.close();
  });

  it('a hanging B is ended by the watchdog each time and rolled back after bootlimit boots', async () => {
    // 6 s: long enough for U-Boot to store the count even on a busy CI machine.
    const m = await device('bHang', trialEnv('B'), { watchdogMs: 6000 });
    for (let count = 1; count <= 3; count++) {
      const r = await m.boot();
      expect(r).toMatchObject({ bootedSlot: 'B', outcome: 'hang', watchdogFired: true, exitCode: null });
      expect(fwPrintenv(m.disk).bootcount).toBe(String(count));
    }
    const back = await m.boot();
    expect(back).toMatchObject({ bootedSlot: 'A', healthy: true, watchdogFired: false });
    await m.close();
  });

  it.each([
    ['the newer copy is corrupt: the older state (A, committed) boots', 'newer', 'A', '1.0.0'],
    ['the older copy is corrupt: the newer state (B on trial) boots', 'older', 'B', '2.0.0'],
  ] as const)('with two env copies where %s', async (_, which, slot, version) => {
    const m = await device('bOk', factoryEnv());
    await m.disk.env.write(trialEnv('B'));
    const current = await m.disk.env.read();
    const newer = current!.copy;
    await m.disk.corruptEnvCopy(which === 'newer' ? newer : newer === 0 ? 1 : 0);
    const r = await m.boot();
    expect(r).toMatchObject({ bootedSlot: slot, version, healthy: true });
    // Whatever U-Boot stored went to the corrupt copy's place; fw_printenv still sees a valid env.
    expect(fwPrintenv(m.disk).boot_part).toBe(slot);
    await m.close();
  });

  // The flags byte wraps: of 255 and 0, 0 is newer (fwup #215 picked the wrong copy at the wrap).
  it.each([
    ['255 beats 254', 255, 254, 0, 0],
    ['0 beats 255', 0, 255, 1, 1],
  ] as const)('flags %s: U-Boot reads the trial copy and writes flags+1 into the other', async (_, trialFlags, oldFlags, trialCopy, newFlags) => {
    const m = await device('bOk', undefined);
    const { envOffsets, envSize } = m.disk.layout;
    const raw = await FileBlockDevice.open(m.disk.path);
    await raw.write(envOffsets[trialCopy], encodeEnvCopy(trialEnv('B'), envSize, trialFlags));
    await raw.write(envOffsets[trialCopy === 0 ? 1 : 0], encodeEnvCopy(factoryEnv(), envSize, oldFlags));
    const r = await m.boot();
    expect(r).toMatchObject({ bootedSlot: 'B', healthy: true });
    const written = await raw.read(envOffsets[trialCopy === 0 ? 1 : 0] + 4, 1);
    expect(written[0]).toBe(newFlags);
    expect(fwPrintenv(m.disk)).toMatchObject({ boot_part: 'B', bootcount: '1' });
    await raw.close();
    await m.close();
  });

  it('with no valid env copy at all, boots A and stores the default boot state', async () => {
    const m = await device('bOk', undefined);
    const r = await m.boot();
    expect(r).toMatchObject({ bootedSlot: 'A', healthy: true });
    expect(fwPrintenv(m.disk)).toEqual({ boot_part: 'A', upgrade_available: '0', bootcount: '0', bootlimit: '3' });
    await m.close();
  });

  // Power cut = QEMU killed at a chosen moment of the trial boot. Each row:
  // where to cut, and which stored bootcounts are possible afterwards (the kill
  // lands a little after the text appears, so a cut near the save may fall
  // on either side of it).
  const CUTS: [string, PowerCut, number[]][] = [
    ['while U-Boot starts', { onSerial: 'U-Boot 2023' }, [0]],
    ['while reading the boot-state env', { onSerial: 'virtio read' }, [0, 1]],
    ['right after the count was stored', { onSerial: 'UNIOTA-UBOOT booting' }, [1]],
    ['while the payload runs', { onSerial: 'UNIOTA-PAYLOAD' }, [1]],
  ];
  it.each(CUTS)('a power cut %s does not brick: the env stays valid and the next boot runs B', async (_, cut, possible) => {
    const m = await device('bOk', trialEnv('B'));
    const cutBoot = await m.boot({ powerCut: cut });
    expect(['power-cut', 'healthy']).toContain(cutBoot.outcome);
    const after = fwPrintenv(m.disk);
    expect(after).toMatchObject({ boot_part: 'B', upgrade_available: '1', bootlimit: '3' });
    const counted = Number(after.bootcount);
    expect(possible).toContain(counted);
    const next = await m.boot();
    expect(next).toMatchObject({ bootedSlot: 'B', version: '2.0.0', healthy: true });
    expect(fwPrintenv(m.disk).bootcount).toBe(String(counted + 1));
    await m.close();
  });
});
