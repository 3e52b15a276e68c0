/**
 * Compatibility with the real fw_printenv / fw_setenv (libubootenv-tool) on
 * the same image file: the promise that U-Boot, the vendor tools and this
 * store can take turns on one env.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileBlockDevice } from '@uniota/block-device';
import { UBootEnvBootControl, initialBootEnv } from './backends/uboot-env.ts';
import { decodeEnvCopy, encodeEnvCopy } from './uboot-env-format.ts';
import { UBootEnvStore, type EnvLocation } from './uboot-env-store.ts';
import { FwEnvTools } from './testing/fw-env-tools.ts';

const SIZE = 0x4000;
// Not at 0, and not adjacent, to catch offset mix-ups.
const loc: EnvLocation = { offsets: [0x2000, 0x8000], envSize: SIZE };

let tools: FwEnvTools;
let dev: FileBlockDevice;
let store: UBootEnvStore;

beforeEach(async () => {
  tools = new FwEnvTools(loc.offsets, SIZE, 0x10000);
  dev = await FileBlockDevice.open(tools.image);
  store = new UBootEnvStore(dev, loc);
});
afterEach(async () => {
  await dev.close();
  tools.dispose();
});

const rawFlags = async (): Promise<[number | undefined, number | undefined]> => [
  decodeEnvCopy(await dev.read(loc.offsets[0], SIZE))?.flags,
  decodeEnvCopy(await dev.read(loc.offsets[1], SIZE))?.flags,
];

describe('UBootEnvStore with fw_printenv/fw_setenv', () => {
  it('fw_printenv reads what we write, spaces and symbols included', async () => {
    const vars = new Map([
      ['bootcmd', 'run distro_bootcmd; echo "fail"'],
      ['boot_part', 'B'],
      ['empty_looking', ' '],
    ]);
    await store.write(vars);
    expect(tools.printenv()).toEqual(vars);
  });

  it('we read what fw_setenv writes on a blank disk, and both pick copy 1 first', async () => {
    tools.setenv({ boot_part: 'A', bootlimit: '3' }, { bootcmd: 'boot' });
    expect(await store.read()).toEqual({
      vars: new Map([
        ['boot_part', 'A'],
        ['bootcmd', 'boot'],
        ['bootlimit', '3'],
      ]),
      flags: 1,
      copy: 1,
    });
    // Our own first write on a blank disk lands in the same place with the same flags.
    const ours = new FwEnvTools(loc.offsets, SIZE, 0x10000);
    const oursDev = await FileBlockDevice.open(ours.image);
    await new UBootEnvStore(oursDev, loc).write(new Map([['x', '1']]));
    expect(decodeEnvCopy(await oursDev.read(loc.offsets[1], SIZE))?.flags).toBe(1);
    expect(decodeEnvCopy(await oursDev.read(loc.offsets[0], SIZE))).toBeNull();
    await oursDev.close();
    ours.dispose();
  });

  it('alternating writers use both copies in turn with flags counting up by one', async () => {
    const trail: string[] = [];
    const record = async (who: string): Promise<void> => {
      const env = await store.read();
      trail.push(`${who}:copy${env!.copy}:flags${env!.flags}:n=${env!.vars.get('n')}`);
    };
    await store.write(new Map([['n', '1']]));
    await record('us');
    tools.setenv({ n: '2' });
    await record('fw_setenv');
    await store.write(new Map([...(await store.read())!.vars, ['n', '3']]));
    await record('us');
    tools.setenv({ n: '4' });
    await record('fw_setenv');
    expect(trail).toEqual([
      'us:copy1:flags1:n=1',
      'fw_setenv:copy0:flags2:n=2',
      'us:copy1:flags3:n=3',
      'fw_setenv:copy0:flags4:n=4',
    ]);
    expect(tools.printenv().get('n')).toBe('4');
  });

  it('the flags wrap 255 -> 0 through both tools and everyone keeps choosing the newest copy', async () => {
    // Copy 0 holds flags 254, copy 1 an older 253.
    await dev.write(loc.offsets[1], encodeEnvCopy(new Map([['n', 'older']]), SIZE, 253));
    await dev.write(loc.offsets[0], encodeEnvCopy(new Map([['n', 'start']]), SIZE, 254));
    const steps: [string, () => Promise<void>][] = [
      ['fw', async () => tools.setenv({ n: 'w1' })],
      ['us', async () => store.write(new Map([['n', 'w2']]))],
      ['fw', async () => tools.setenv({ n: 'w3' })],
      ['us', async () => store.write(new Map([['n', 'w4']]))],
      ['fw', async () => tools.setenv({ n: 'w5' })],
    ];
    const seen: string[] = [];
    for (const [i, [, step]] of steps.entries()) {
      await step();
      const ours = (await store.read())!;
      const theirs = tools.printenv().get('n');
      seen.push(`${ours.flags}:${ours.vars.get('n')}:${theirs}`);
      expect(ours.vars.get('n')).toBe(`w${i + 1}`);
    }
    expect(seen).toEqual(['255:w1:w1', '0:w2:w2', '1:w3:w3', '2:w4:w4', '3:w5:w5']);
    expect(await rawFlags()).toEqual([2, 3]);
  });

  it.each([
    [3, 3, 'zero'],
    [255, 0, 'one'],
    [0, 255, 'zero'],
    [0, 254, 'one'],
    [1, 255, 'one'],
  ])('copy flags %i / %i: fw_printenv and we both choose copy %s', async (f0, f1, winner) => {
    await dev.write(loc.offsets[0], encodeEnvCopy(new Map([['which', 'zero']]), SIZE, f0));
    await dev.write(loc.offsets[1], encodeEnvCopy(new Map([['which', 'one']]), SIZE, f1));
    expect(tools.printenv().get('which')).toBe(winner);
    expect((await store.read())!.vars.get('which')).toBe(winner);
  });

  it.each([0, 1])('a corrupted copy %i falls back to the other one in both implementations', async (bad) => {
    await store.write(new Map([['n', 'first']])); // copy 1
    await store.write(new Map([['n', 'second']])); // copy 0
    const good = bad === 0 ? 'first' : 'second';
    const at = loc.offsets[bad as 0 | 1] + 7;
    const b = await dev.read(at, 1);
    await dev.write(at, Uint8Array.of(b[0]! ^ 0x01));
    expect(tools.printenv().get('n')).toBe(good);
    expect((await store.read())!.vars.get('n')).toBe(good);
    // The next write (by fw_setenv) replaces the corrupt copy, not the good one.
    tools.setenv({ n: 'third' });
    expect((await store.read())!.vars.get('n')).toBe('third');
    expect((await store.read())!.copy).toBe(bad);
  });
});

describe('UBootEnvBootControl with fw_setenv as the bootloader', () => {
  it('follows bootcount semantics: trial, counted boots, commit', async () => {
    await store.write(initialBootEnv({ extra: { bootcmd: 'run uniota_boot' } }));
    const bc = new UBootEnvBootControl(store);
    expect(await bc.readState()).toEqual({ bootPart: 'A', upgradeAvailable: false, bootCount: 0, bootLimit: 3 });

    await bc.setTrySlot('B');
    expect(tools.printenv()).toEqual(
      new Map([
        ['boot_part', 'B'],
        ['bootcmd', 'run uniota_boot'],
        ['bootcount', '0'],
        ['bootlimit', '3'],
        ['upgrade_available', '1'],
      ]),
    );
    // The bootloader counts two trial boots (U-Boot's bootcount env backend stores it).
    tools.setenv({ bootcount: '1' });
    tools.setenv({ bootcount: '2' });
    expect(await bc.readState()).toEqual({ bootPart: 'B', upgradeAvailable: true, bootCount: 2, bootLimit: 3 });

    await bc.markGood();
    const after = tools.printenv();
    expect([after.get('boot_part'), after.get('upgrade_available'), after.get('bootcount'), after.get('bootcmd')]).toEqual([
      'B',
      '0',
      '0',
      'run uniota_boot',
    ]);
  });

  it('markBad after the bootloader gave up returns to the fallback slot', async () => {
    await store.write(initialBootEnv({ bootPart: 'B' }));
    const bc = new UBootEnvBootControl(store);
    await bc.setTrySlot('A');
    tools.setenv({ bootcount: '4' });
    expect((await bc.readState()).bootCount).toBeGreaterThan((await bc.readState()).bootLimit);
    await bc.markBad('B');
    expect(await bc.readState()).toEqual({ bootPart: 'B', upgradeAvailable: false, bootCount: 0, bootLimit: 3 });
    expect(tools.printenv().get('boot_part')).toBe('B');
  });
});
