import { describe, expect, it } from 'vitest';
import { FaultyBlockDevice, MemoryBlockDevice } from '@uniota/block-device';
import { hasCode } from '@uniota/errors';
import { UBootEnvStore } from '../uboot-env-store.ts';
import { validateBootEnv } from './boot-env-vars.ts';
import { UBootEnvBootControl, initialBootEnv } from './uboot-env.ts';

const loc = { offsets: [0, 0x4000] as [number, number], envSize: 0x4000 };

async function setup(vars: Map<string, string> | null, opts: { defaultBootLimit?: number } = {}) {
  const inner = new MemoryBlockDevice(0x8000);
  if (vars) await new UBootEnvStore(inner, loc).write(vars);
  const dev = new FaultyBlockDevice(inner);
  const store = new UBootEnvStore(dev, loc);
  return { dev, store, bc: new UBootEnvBootControl(store, opts) };
}

describe('initialBootEnv', () => {
  it('provisions A, no trial, bootcount 0, bootlimit 3, plus extras', () => {
    expect(initialBootEnv({ extra: { bootcmd: 'x' } })).toEqual(
      new Map([
        ['bootcmd', 'x'],
        ['boot_part', 'A'],
        ['upgrade_available', '0'],
        ['bootcount', '0'],
        ['bootlimit', '3'],
      ]),
    );
    expect(initialBootEnv({ bootPart: 'B', bootLimit: 1 }).get('bootlimit')).toBe('1');
  });
});

describe('UBootEnvBootControl', () => {
  it.each([
    ['setTrySlot', (bc: UBootEnvBootControl) => bc.setTrySlot('B'), { boot_part: 'B', upgrade_available: '1', bootcount: '0' }],
    ['markGood', (bc: UBootEnvBootControl) => bc.markGood(), { boot_part: 'A', upgrade_available: '0', bootcount: '0' }],
    ['markBad', (bc: UBootEnvBootControl) => bc.markBad('B'), { boot_part: 'B', upgrade_available: '0', bootcount: '0' }],
  ] as const)('%s is one env write + flush and keeps every other variable', async (_name, op, expected) => {
    const start = initialBootEnv({ extra: { bootcmd: 'run it', ethaddr: '02:00:00:00:00:01' } });
    start.set('upgrade_available', '1');
    start.set('bootcount', '2');
    const { dev, store, bc } = await setup(start);
    await op(bc);
    expect(dev.operations).toBe(2);
    const vars = (await store.read())!.vars;
    expect(Object.fromEntries(vars)).toEqual({
      bootcmd: 'run it',
      ethaddr: '02:00:00:00:00:01',
      bootlimit: '3',
      ...expected,
    });
  });

  it('setTrySlot writes a bootlimit when the env has none, so the trial can roll back', async () => {
    const { store, bc } = await setup(new Map([['boot_part', 'A']]), { defaultBootLimit: 2 });
    await bc.setTrySlot('B');
    expect((await store.read())!.vars.get('bootlimit')).toBe('2');
  });

  // Garbage never throws into a brick: each row is what the boot script would do.
  it.each([
    ['boot_part=X', { boot_part: 'X' }, { bootPart: 'A' }, ['boot_part']],
    ['boot_part=b (case matters to the script)', { boot_part: 'b' }, { bootPart: 'A' }, ['boot_part']],
    ['upgrade_available=yes', { upgrade_available: 'yes' }, { upgradeAvailable: false }, ['upgrade_available']],
    ['bootcount=-1', { bootcount: '-1' }, { bootCount: 0 }, ['bootcount']],
    ['bootcount=0x3', { bootcount: '0x3' }, { bootCount: 0 }, ['bootcount']],
    ['bootlimit missing', { bootlimit: null }, { bootLimit: 3 }, ['bootlimit']],
    ['bootlimit=abc', { bootlimit: 'abc' }, { bootLimit: 3 }, ['bootlimit']],
    ['everything fine', {}, {}, []],
  ] as const)('%s', async (_name, changes, expectedState, problemVars) => {
    const vars = initialBootEnv({ bootPart: 'B' });
    vars.set('upgrade_available', '1');
    vars.set('bootcount', '1');
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) vars.delete(k);
      else vars.set(k, v);
    }
    const { bc } = await setup(vars);
    expect(await bc.readState()).toEqual({
      bootPart: 'B',
      upgradeAvailable: true,
      bootCount: 1,
      bootLimit: 3,
      ...expectedState,
    });
    const problems = validateBootEnv(vars);
    expect(problems.map((p) => p.variable)).toEqual(problemVars);
    for (const p of problems) expect(p.code).toBe('ENV_INVALID_VALUE');
  });

  it('with no valid env copy, reads and writes refuse with ENV_NO_VALID_COPY and write nothing', async () => {
    const { dev, bc } = await setup(null);
    const isNoCopy = (e: unknown): boolean => hasCode(e, 'ENV_NO_VALID_COPY');
    await expect(bc.readState()).rejects.toSatisfy(isNoCopy);
    await expect(bc.setTrySlot('B')).rejects.toSatisfy(isNoCopy);
    await expect(bc.markGood()).rejects.toSatisfy(isNoCopy);
    await expect(bc.markBad('A')).rejects.toSatisfy(isNoCopy);
    expect(dev.operations).toBe(0);
  });
});
