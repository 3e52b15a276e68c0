/**
 * Differential test: the hush boot script under real U-Boot against
 * decideBoot (the pure table the in-process bootloader and the microvm tier
 * use). Each row is a stored boot-state env (null: no valid copy); U-Boot
 * must boot the slot decideBoot picks and leave exactly the env it stores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { decideBoot } from '../../bootloader-sim/src/boot-decision.ts';
import {
  QemuUbootMachine,
  buildPayload,
  buildUbootFlash,
  NodeHostFiles,
  NodeProcessRunner,
} from '../../bootloader-sim/src/qemu/index.ts';
import { fwPrintenv, tempDir } from './helpers.ts';

const tmp = tempDir('uniota-qemu-diff-');
let flashPath = '';
let slotA: Uint8Array = new Uint8Array();
let slotB: Uint8Array = new Uint8Array();

beforeAll(async () => {
  flashPath = join(tmp.dir, 'flash.img');
  await buildUbootFlash(flashPath, { runner: new NodeProcessRunner(), files: new NodeHostFiles() });
  slotA = await buildPayload({ arch: 'aarch64', version: 'a', behaviour: 'healthy' });
  slotB = await buildPayload({ arch: 'aarch64', version: 'b', behaviour: 'healthy' });
});
afterAll(() => tmp.cleanup());

type Row = [string, Record<string, string> | null];
const ROWS: Row[] = [
  ['no valid env copy', null],
  ['A committed', { boot_part: 'A', upgrade_available: '0', bootcount: '0', bootlimit: '3' }],
  ['B committed', { boot_part: 'B', upgrade_available: '0', bootcount: '0', bootlimit: '3' }],
  ['B armed', { boot_part: 'B', upgrade_available: '1', bootcount: '0', bootlimit: '3' }],
  ['B on its last try', { boot_part: 'B', upgrade_available: '1', bootcount: '2', bootlimit: '3' }],
  ['B past bootlimit', { boot_part: 'B', upgrade_available: '1', bootcount: '3', bootlimit: '3' }],
  ['A past bootlimit', { boot_part: 'A', upgrade_available: '1', bootcount: '3', bootlimit: '3' }],
  ['garbage bootcount', { boot_part: 'B', upgrade_available: '1', bootcount: 'x1', bootlimit: '3' }],
  ['no bootlimit', { boot_part: 'B', upgrade_available: '1', bootcount: '1' }],
  ['garbage bootlimit', { boot_part: 'B', upgrade_available: '1', bootcount: '3', bootlimit: 'many' }],
  ['garbage boot_part past bootlimit', { boot_part: 'C', upgrade_available: '1', bootcount: '3', bootlimit: '3' }],
  ['upgrade_available neither 0 nor 1', { boot_part: 'B', upgrade_available: '2', bootcount: '5', bootlimit: '3' }],
  ['count 9 to 10 in decimal', { boot_part: 'B', upgrade_available: '1', bootcount: '9', bootlimit: '12' }],
  ['two-digit limit reached', { boot_part: 'B', upgrade_available: '1', bootcount: '10', bootlimit: '10' }],
  ['bootlimit 0 means no trial boot at all', { boot_part: 'B', upgrade_available: '1', bootcount: '0', bootlimit: '0' }],
];

describe('boot script under U-Boot == decideBoot', () => {
  it.concurrent.each(ROWS)('%s', async (name, stored) => {
    const dir = join(tmp.dir, name.replace(/\W+/g, '-'));
    mkdirSync(dir);
    const env = stored ? new Map(Object.entries(stored)) : undefined;
    const m = await QemuUbootMachine.create({ dir, flashPath, watchdogMs: 20_000, ...(env ? { env } : {}) });
    await m.disk.writeSlot('A', slotA);
    await m.disk.writeSlot('B', slotB);
    const decision = decideBoot(env ?? null);
    const r = await m.boot();
    expect(r.bootedSlot).toBe(decision.slot);
    expect(r.version).toBe(decision.slot.toLowerCase());
    const expected = decision.store ? Object.fromEntries(decision.store) : stored;
    expect(fwPrintenv(m.disk)).toEqual(expected);
    await m.close();
  });
});
