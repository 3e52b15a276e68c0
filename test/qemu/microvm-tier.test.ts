/**
 * The fast tier: host-side slot selection (the shared decideBoot over the
 * redundant env) + qemu-system-x86_64 -M microvm -kernel <slot's PVH ELF>.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ACCEL_ENV,
  NodeProcessRunner,
  QemuMicrovmMachine,
  buildPayload,
  kvmUsable,
  type ProcessRunner,
} from '../../bootloader-sim/src/qemu/index.ts';
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

async function device(
  b: string,
  env: Map<string, string>,
  watchdogMs = 10_000,
  extra: { runner?: ProcessRunner } = {},
): Promise<QemuMicrovmMachine> {
  const dir = join(tmp.dir, `m${machines++}`);
  mkdirSync(dir);
  const m = await QemuMicrovmMachine.create({ dir, env, watchdogMs, ...extra });
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

  describe('accelerator', () => {
    it('auto uses KVM exactly when QEMU can start with it on this host, and boots either way', async () => {
      const m = await device('bOk', factoryEnv());
      expect(m.accel).toBe((await kvmUsable(new NodeProcessRunner(), 'qemu-system-x86_64')) ? 'kvm' : 'tcg');
      expect(m.qemuArgs('k.elf').slice(0, 2)).toEqual(['-accel', m.accel === 'kvm' ? 'kvm' : 'tcg,thread=single,tb-size=32']);
      expect(await m.boot()).toMatchObject({ bootedSlot: 'A', healthy: true });
      await m.close();
    });

    it(`${ACCEL_ENV}=tcg forces TCG, and a TCG boot runs the same rows`, async () => {
      const saved = process.env[ACCEL_ENV];
      process.env[ACCEL_ENV] = 'tcg';
      let m: QemuMicrovmMachine;
      try {
        m = await device('bPanic', trialEnv('B'), 10_000);
      } finally {
        if (saved === undefined) delete process.env[ACCEL_ENV];
        else process.env[ACCEL_ENV] = saved;
      }
      expect(m.accel).toBe('tcg');
      for (let i = 0; i < 3; i++) expect(await m.boot()).toMatchObject({ bootedSlot: 'B', outcome: 'panic' });
      expect(await m.boot()).toMatchObject({ bootedSlot: 'A', healthy: true, path: 'altboot' });
      await m.close();
    });

    it('falls back to TCG when QEMU cannot use KVM (the probe fails as on a host without /dev/kvm)', async () => {
      const real = new NodeProcessRunner();
      const runs: string[][] = [];
      const noKvm: ProcessRunner = {
        run: (cmd, args, opts) => {
          runs.push([...args]);
          // What QEMU does without usable /dev/kvm: `-accel kvm` fails at start-up with status 1.
          if (args.includes('kvm')) return real.run(cmd, ['-accel', 'no-such-accel'], opts);
          return real.run(cmd, args, opts);
        },
      };
      const m = await device('bOk', factoryEnv(), 10_000, { runner: noKvm });
      expect(m.accel).toBe('tcg');
      expect(await m.boot()).toMatchObject({ bootedSlot: 'A', healthy: true, version: '1.0.0' });
      expect(runs.at(-1)).toContain('tcg,thread=single,tb-size=32');
      await m.close();
    });
  });
});
