/**
 * The proof that no power cut at any write can brick a device: for each flow,
 * every write and flush, every cut mode (before / torn / after), then seeded
 * random multi-cut runs. Prints `power-cut sweep: N cut points, V violations`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOWS, CUT_MODES, checkInvariants, countOperations, prepareFlow, runWithCuts, seededRandom } from './sweep-harness.ts';
import { UBootEnvStore, encodeEnvCopy } from '@uniota/boot-control';
import { RecordingTransport } from '@uniota/device-agent';
import { TEST_NOW, makeTrust } from '../helpers/fixtures.ts';
import type { TrustFixture } from '../helpers/fixtures.ts';

let trust: TrustFixture;
let cutPoints = 0;
const violations: string[] = [];

beforeAll(() => {
  trust = makeTrust();
});

afterAll(() => {
  process.stdout.write(`power-cut sweep: ${cutPoints} cut points, ${violations.length} violations\n`);
});

describe('power-cut sweep', () => {
  for (const flow of FLOWS) {
    it(`${flow.name}: runs to the expected outcome without faults`, async () => {
      const p = await prepareFlow(trust, flow);
      const run = await runWithCuts(p, p.device.clone(), []);
      expect(await checkInvariants(p, run, true)).toEqual([]);
    });

    it(`${flow.name}: every single cut at every operation, every mode`, async () => {
      const p = await prepareFlow(trust, flow);
      const n = await countOperations(p);
      expect(n).toBeGreaterThan(10);
      const local: string[] = [];
      for (let i = 1; i <= n; i++) {
        for (const mode of CUT_MODES) {
          const run = await runWithCuts(p, p.device.clone(), [{ cutAt: i, mode }]);
          expect(run.cutsHit).toBe(1);
          cutPoints += 1;
          // One cut never changes the outcome: bootlimit absorbs a cut during
          // the trial boot, and every other step resumes.
          for (const msg of await checkInvariants(p, run, true)) local.push(`cut ${mode} at op ${i}/${n}: ${msg}`);
        }
      }
      violations.push(...local);
      expect(local).toEqual([]);
    });

    it(`${flow.name}: seeded random multi-cut runs end on a verified old or new image`, async () => {
      const p = await prepareFlow(trust, flow);
      const n = await countOperations(p);
      const rnd = seededRandom(0x5eed + flow.name.length);
      const local: string[] = [];
      for (let r = 0; r < 60; r++) {
        const cuts = 2 + Math.floor(rnd() * 4);
        const plans = Array.from({ length: cuts }, () => ({
          cutAt: 1 + Math.floor(rnd() * n),
          mode: CUT_MODES[Math.floor(rnd() * 3)] ?? 'torn',
          tornBytes: 'random' as const,
          random: rnd,
        }));
        const run = await runWithCuts(p, p.device.clone(), plans);
        cutPoints += run.cutsHit;
        // Several cuts during trial boots may use up bootlimit: then the old
        // image is the right answer, so only the safety invariants apply.
        for (const msg of await checkInvariants(p, run, false)) local.push(`run ${r} (${JSON.stringify(plans.map((x) => [x.cutAt, x.mode]))}): ${msg}`);
      }
      violations.push(...local);
      expect(local).toEqual([]);
    });
  }
});

describe('boot-state edge cases under power cuts', () => {
  const clean = FLOWS[0] as (typeof FLOWS)[number];

  async function sweepTorn(p: Awaited<ReturnType<typeof prepareFlow>>, label: string): Promise<void> {
    const n = await countOperations(p);
    const local: string[] = [];
    for (let i = 1; i <= n; i++) {
      const run = await runWithCuts(p, p.device.clone(), [{ cutAt: i, mode: 'torn' }]);
      cutPoints += 1;
      for (const msg of await checkInvariants(p, run, true)) local.push(`${label}, torn cut at op ${i}/${n}: ${msg}`);
    }
    violations.push(...local);
    expect(local).toEqual([]);
  }

  for (const copy of [0, 1] as const) {
    it(`a corrupted env copy ${copy} still boots the right slot and updates`, async () => {
      const p = await prepareFlow(trust, clean);
      const offset = p.device.layout.envOffsets[copy] + 100;
      const byte = await p.device.storage.read(offset, 1);
      await p.device.storage.write(offset, new Uint8Array([(byte[0] ?? 0) ^ 0x5a]));
      await sweepTorn(p, `env copy ${copy} corrupted`);
    });
  }

  it('survives the env flags wrapping from 255 to 0 mid-update', async () => {
    const p = await prepareFlow(trust, clean);
    const { layout } = p.device;
    const vars = new Map([['boot_part', 'A'], ['upgrade_available', '0'], ['bootcount', '0'], ['bootlimit', '3']]);
    // Newest copy at 254: the update's writes go 255, then 0, then 1.
    await p.device.storage.write(layout.envOffsets[0], encodeEnvCopy(vars, layout.envSize, 253));
    await p.device.storage.write(layout.envOffsets[1], encodeEnvCopy(vars, layout.envSize, 254));
    await sweepTorn(p, 'flags at 254');
    const run = await runWithCuts(p, p.device.clone(), []);
    const env = await new UBootEnvStore(run.device.storage, { offsets: layout.envOffsets, envSize: layout.envSize }).read();
    expect(env?.flags).toBeLessThan(10);
    expect(env?.vars.get('boot_part')).toBe('B');
  });

  it('power cuts during every trial boot use up bootlimit and return to the old image, never a stuck device', async () => {
    const p = await prepareFlow(trust, clean);
    const { layout } = p.device;
    const envOf = async (d: typeof p.device) => (await new UBootEnvStore(d.storage, { offsets: layout.envOffsets, envSize: layout.envSize }).read())?.vars;
    // Find the first operation after which the slot is armed, and cut there.
    const n = await countOperations(p);
    let armed: typeof p.device | null = null;
    for (let i = 1; i <= n && armed === null; i++) {
      const d = p.device.clone();
      await runWithCuts(p, d, [{ cutAt: i, mode: 'after' }, { cutAt: 1, mode: 'before' }]);
      // runWithCuts always finishes with a clean power-on; redo the prefix alone to inspect the env.
      const prefix = p.device.clone();
      try {
        await prefix.powerOn({ transport: new RecordingTransport(), source: p.source, nextOffer: (s) => p.offers.find((o) => !s.history.some((h) => h.actionId === o.actionId)) ?? null, clock: () => TEST_NOW, progressEvery: 2, plan: { cutAt: i, mode: 'after' } });
      } catch {
        // the cut
      }
      if ((await envOf(prefix))?.get('upgrade_available') === '1') armed = prefix;
    }
    expect(armed).not.toBeNull();
    const device = armed as typeof p.device;
    // Each power-on dies right after the bootloader stored its count (write +
    // flush): the new image never gets to run. After bootlimit such boots the
    // bootloader must have gone back to slot A by itself.
    const cuts = await runWithCuts(p, device, Array.from({ length: 6 }, () => ({ cutAt: 2, mode: 'after' as const })));
    cutPoints += cuts.cutsHit;
    expect(cuts.cutsHit).toBe(6);
    expect(device.bootLog.map((b) => (b.kind === 'booted' ? `${b.slot}:${b.path}` : b.kind))[0]).toBe('A:normal');
    // The agent found itself on the old slot with the arm write journaled but
    // not the reboot: it re-arms once (the image never ran, so it was never
    // judged) and the update goes through; a bounded retry, never a loop.
    expect(await checkInvariants(p, cuts, false)).toEqual([]);
    expect(cuts.result).toMatchObject({ kind: 'settled' });
    expect((await envOf(device))?.get('upgrade_available')).toBe('0');
  });
});
