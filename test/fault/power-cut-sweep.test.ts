/**
 * The proof that no power cut at any write can brick a device: for each flow,
 * every write and flush, every cut mode (before / torn / after), then seeded
 * random multi-cut runs. Prints `power-cut sweep: N cut points, V violations`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOWS, CUT_MODES, checkInvariants, countOperations, prepareFlow, runWithCuts, seededRandom } from './sweep-harness.ts';
import { makeTrust } from '../helpers/fixtures.ts';
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
