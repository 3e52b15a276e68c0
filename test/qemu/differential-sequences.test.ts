/**
 * Differential test over sequences: the in-process bootloader's table
 * (decideBoot, with the redundant-env store the agent and the simulator use)
 * and real U-Boot running the boot script are driven through the same
 * seeded random sequences of boot-state changes and boots. After every boot
 * both must have picked the same slot and left the same env.
 *
 * Steps between boots are what happens to a real device: the agent arms a
 * slot, commits, rolls back; a torn write corrupts one env copy; the flags
 * byte sits near its 255 -> 0 wrap; garbage values appear. The number of
 * sequences is UNIOTA_DIFF_SEQUENCES (default 200, ~3 boots each).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UBootEnvStore, encodeEnvCopy } from '@uniota/boot-control';
import type { SlotName } from '@uniota/boot-control';
import { FileBlockDevice } from '@uniota/block-device';
import { decideBoot } from '@uniota/bootloader-sim';
import { QemuUbootMachine, buildPayload, buildUbootFlash, NodeHostFiles, NodeProcessRunner } from '@uniota/bootloader-sim/qemu';
import { seededRandom } from '../fault/sweep-harness.ts';
import { tempDir } from './helpers.ts';

const SEQUENCES = Number(process.env['UNIOTA_DIFF_SEQUENCES'] ?? 200);
const BOOTS_PER_SEQUENCE = 3;
const PARALLEL = 3;
const tmp = tempDir('uniota-qemu-seq-');
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

type Vars = Map<string, string>;
type Step = { name: string; apply: (vars: Vars | null) => { vars: Vars | null; corrupt?: 0 | 1 } };

const other = (s: SlotName): SlotName => (s === 'A' ? 'B' : 'A');
const slotOf = (v: Vars | null): SlotName => (v?.get('boot_part') === 'B' ? 'B' : 'A');

/** What can happen to the boot state between two boots. */
function randomStep(rnd: () => number): Step {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const limit = String(pick([1, 2, 3, 3, 5, 10]));
  const steps: Step[] = [
    { name: 'nothing (plain reboot)', apply: (v) => ({ vars: v }) },
    { name: `agent arms the other slot, bootlimit ${limit}`, apply: (v) => ({ vars: new Map([...(v ?? []), ['boot_part', other(slotOf(v))], ['upgrade_available', '1'], ['bootcount', '0'], ['bootlimit', limit]]) }) },
    { name: 'agent commits', apply: (v) => ({ vars: new Map([...(v ?? []), ['upgrade_available', '0'], ['bootcount', '0']]) }) },
    { name: 'agent rolls back', apply: (v) => ({ vars: new Map([...(v ?? []), ['boot_part', other(slotOf(v))], ['upgrade_available', '0'], ['bootcount', '0']]) }) },
    { name: `bootcount set to ${limit}`, apply: (v) => ({ vars: new Map([...(v ?? []), ['bootcount', limit]]) }) },
    { name: 'garbage bootcount', apply: (v) => ({ vars: new Map([...(v ?? []), ['bootcount', pick(['x', '', '-1', '0x3'])]]) }) },
    { name: 'garbage boot_part', apply: (v) => ({ vars: new Map([...(v ?? []), ['boot_part', pick(['C', 'a', ''])]]) }) },
    { name: 'bootlimit removed', apply: (v) => {
      const n = new Map(v ?? []);
      n.delete('bootlimit');
      return { vars: n };
    } },
    { name: 'torn write of copy 0', apply: (v) => ({ vars: v, corrupt: 0 }) },
    { name: 'torn write of copy 1', apply: (v) => ({ vars: v, corrupt: 1 }) },
  ];
  return pick(steps);
}

interface Outcome { slot: SlotName; env: Record<string, string> | null }

/** One device: a disk whose two env copies we write directly (flags and corruption under our control). */
async function runSequence(index: number): Promise<{ problems: string[]; boots: number }> {
  const rnd = seededRandom(0xd1ff + index);
  const dir = join(tmp.dir, `s${index}`);
  mkdirSync(dir);
  const machine = await QemuUbootMachine.create({ dir, flashPath, watchdogMs: 20_000 });
  await machine.disk.writeSlot('A', slotA);
  await machine.disk.writeSlot('B', slotB);
  await machine.disk.close();
  const { envOffsets, envSize } = machine.disk.layout;
  // Start near the flags wrap in half the sequences.
  let flags = rnd() < 0.5 ? 250 + Math.floor(rnd() * 6) : Math.floor(rnd() * 4);
  let vars: Vars | null = new Map([['boot_part', 'A'], ['upgrade_available', '0'], ['bootcount', '0'], ['bootlimit', '3']]);
  const problems: string[] = [];
  const trail: string[] = [];
  let boots = 0;
  for (let b = 0; b < BOOTS_PER_SEQUENCE; b++) {
    const step = randomStep(rnd);
    trail.push(step.name);
    const next = step.apply(vars);
    const dev = await FileBlockDevice.open(machine.disk.path);
    if (next.vars !== null) {
      // Write the new state as a writer would: newer flags into the other copy, older kept.
      flags = (flags + 1) % 256;
      const [newer, older] = flags % 2 === 0 ? [envOffsets[0], envOffsets[1]] : [envOffsets[1], envOffsets[0]];
      await dev.write(newer, encodeEnvCopy(next.vars, envSize, flags));
      await dev.write(older, encodeEnvCopy(vars ?? next.vars, envSize, (flags + 255) % 256));
    }
    if (next.corrupt !== undefined) {
      const at = (next.corrupt === 0 ? envOffsets[0] : envOffsets[1]) + 7;
      const [x] = await dev.read(at, 1);
      await dev.write(at, Uint8Array.of((x ?? 0) ^ 0x5a));
    }
    await dev.flush();
    // What the in-process bootloader reads, with the same store code the agent uses.
    const store = new UBootEnvStore(dev, { offsets: envOffsets, envSize });
    const before = await store.read();
    await dev.close();
    const d = decideBoot(before?.vars ?? null);
    const expected: Outcome = { slot: d.slot, env: d.store ? Object.fromEntries(d.store) : before ? Object.fromEntries(before.vars) : null };
    const r = await machine.boot();
    boots += 1;
    const dev2 = await FileBlockDevice.open(machine.disk.path);
    const after = await new UBootEnvStore(dev2, { offsets: envOffsets, envSize }).read();
    await dev2.close();
    const got: Outcome = { slot: r.bootedSlot ?? ('none' as SlotName), env: after ? Object.fromEntries(after.vars) : null };
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      problems.push(`sequence ${index} boot ${b + 1} after [${trail.join(' | ')}]: U-Boot ${JSON.stringify(got)}, in-process ${JSON.stringify(expected)}`);
      break;
    }
    vars = after?.vars ?? null;
    if (after !== null) flags = after.flags;
  }
  return { problems, boots };
}

describe('U-Boot and the in-process bootloader over random env sequences', () => {
  it(`agree after every boot of ${SEQUENCES} seeded sequences`, async () => {
    const problems: string[] = [];
    let boots = 0;
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= SEQUENCES) return;
        const r = await runSequence(i);
        problems.push(...r.problems);
        boots += r.boots;
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    process.stdout.write(`differential: ${SEQUENCES} sequences, ${boots} U-Boot boots, ${problems.length} disagreements\n`);
    expect(problems).toEqual([]);
  }, 1_800_000);
});
