/**
 * The fast tier: host-side slot selection (the shared decideBoot over the
 * redundant env) + qemu-system-x86_64 -M microvm -kernel <slot's PVH ELF>.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { QemuMicrovmMachine, buildPayload } from '../../bootloader-sim/src/qemu/index.ts';
import { factoryEnv, fwPrintenv, tempDir, trialEnv } from './helpers.ts';

const tmp = tempDir('uniota-qemu-microvm-');
const images: Record<string, Uint8Array> = {};
let machines = 0;

beforeAll(async () => {
  images.a = await buildPayload({ arch: 'x86', version: '1.0.0', behaviour: 'healthy' });
  images.bOk = await buildPayload({ arch: 'x86', version: '2.0.0', behaviour: 'healthy' });
  images.bPanic = await buildPayload({ arch: 'x86', version: '2.0.0-panic', behaviour: 'panic' });
  images.bHang = await buildPayload({ arch: 'x86', version: '2.0.0-hang', behaviour: 'hang' });
});
afterAll(() => tmp.cleanup());

async function device(b: string, env: Map<string, string>, watchdogMs = 10_000): Promise<QemuMicrovmMachine> {
  const dir = join(tmp.dir, `m${machines++}`);
  mkdirSync(dir);
  const m = await QemuMicrovmMachine.create({ dir, env, watchdogMs });
  await m.disk.writeSlot('A', images.a!);
  await m.disk.writeSlot('B', images[b]!);
  return m;
}

describe('microvm tier (qemu-system-x86_64 -M microvm)', () => {
  it('boots A from a committed env; isa-debug-exit reports code 0 as status 1', async () => {
    const m = await device('bOk', factoryEnv());
    const r = await m.boot();
    expect(r).toMatchObject({ bootedSlot: 'A', version: '1.0.0', healthy: true, path: 'normal', exitCode: 1 });
    await m.close();
  });

  it('an armed healthy B boots and the count is stored before it runs', async () => {
    const m = await device('bOk', trialEnv('B'));
    const r = await m.boot();
    expect(r).toMatchObject({ bootedSlot: 'B', version: '2.0.0', healthy: true, path: 'trial' });
    expect(fwPrintenv(m.disk)).toEqual({ boot_part: 'B', upgrade_available: '1', bootcount: '1', bootlimit: '3' });
    await m.close();
  });

  it.each([
    ['panics', 'bPanic', 'panic', 10_000],
    ['hangs until the watchdog', 'bHang', 'hang', 3000],
  ] as const)('a B that %s rolls back to A after bootlimit boots', async (_, b, outcome, watchdogMs) => {
    const m = await device(b, trialEnv('B'), watchdogMs);
    for (let count = 1; count <= 3; count++) {
      expect(await m.boot()).toMatchObject({ bootedSlot: 'B', outcome, healthy: false });
    }
    expect(await m.boot()).toMatchObject({ bootedSlot: 'A', healthy: true, path: 'altboot' });
    expect(fwPrintenv(m.disk)).toEqual({ boot_part: 'A', upgrade_available: '0', bootcount: '0', bootlimit: '3' });
    await m.close();
  });

  it('a slot without a loadable image counts as a failed boot and is rolled back', async () => {
    const m = await device('bOk', trialEnv('B'));
    await m.disk.writeSlot('B', new Uint8Array(4096));
    for (let i = 0; i < 3; i++) expect(await m.boot()).toMatchObject({ bootedSlot: 'B', outcome: 'no-payload' });
    expect(await m.boot()).toMatchObject({ bootedSlot: 'A', healthy: true });
    await m.close();
  });
});
