/**
 * Power cuts during a root rotation: the offer carries root v2 and a bundle
 * the device must verify with it. Cut at every write and flush, every mode:
 * right after the cut the journal holds a valid record trusting v1 or v2
 * (never neither), and after powering on again the device ends on the new
 * image trusting v2, with the sweep's usual invariants.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PartitionView } from '@uniota/block-device';
import { isPowerCut } from '@uniota/block-device';
import { Journal, RecordingTransport } from '@uniota/device-agent';
import { FLOWS, CUT_MODES, checkInvariants, countOperations, prepareFlow, runWithCuts } from './sweep-harness.ts';
import type { PreparedFlow } from './sweep-harness.ts';
import { TEST_NOW, makeBundle, makeTrust, offerFor, sourceFor } from '../helpers/fixtures.ts';
import type { TrustFixture } from '../helpers/fixtures.ts';
import { rotateTrust } from '../helpers/root-rotation.ts';

let v1: TrustFixture;
beforeAll(() => {
  v1 = makeTrust();
});

/** The clean flow, with its one offer carrying root v2 (new root key; the images key is kept so the sweep's slot invariants, checked against the provisioned root, still apply). */
async function rotationFlow(): Promise<PreparedFlow> {
  const clean = FLOWS.find((f) => f.name === 'clean update')!;
  const p = await prepareFlow(v1, clean);
  const r2 = rotateTrust(v1, { newImagesKey: false });
  const entry = offerFor('action-1', makeBundle(r2.next, clean.updates[0]!));
  return { ...p, offers: [{ ...entry.offer, roots: [r2.text] }], source: sourceFor([entry]) };
}

async function journalRoot(p: PreparedFlow, storage: PreparedFlow['device']['storage']): Promise<number | 'none'> {
  const d = p.device.layout.data;
  const state = await new Journal(new PartitionView(storage, d.offset, d.length)).load();
  if (state === null) return 'none';
  return state.root?.signed.version ?? 1;
}

describe('power-cut sweep: root rotation', () => {
  it('every single cut at every operation, every mode: v1 or v2 at the cut, v2 and the new image at the end', async () => {
    const p = await rotationFlow();
    const n = await countOperations(p);
    expect(n).toBeGreaterThan(10);
    const local: string[] = [];
    for (let i = 1; i <= n; i++) {
      for (const mode of CUT_MODES) {
        // At the cut: the journal still names a root the device can use.
        const atCut = p.device.clone();
        const transport = new RecordingTransport();
        try {
          await atCut.powerOn({ transport, source: p.source, nextOffer: (state) => p.offers.find((o) => !state.history.some((h) => h.actionId === o.actionId)) ?? null, clock: () => TEST_NOW, progressEvery: 2, plan: { cutAt: i, mode } });
          local.push(`cut ${mode} at op ${i}/${n}: no cut happened`);
        } catch (err) {
          if (!isPowerCut(err)) throw err;
        }
        const root = await journalRoot(p, atCut.storage);
        // A factory disk has no journal until the agent's first save (op 1);
        // from then on a valid record must survive every cut.
        const firstSaveLanded = i > 1 || mode === 'after';
        if (root === 'none' && firstSaveLanded) local.push(`cut ${mode} at op ${i}/${n}: no valid journal record`);

        const run = await runWithCuts(p, p.device.clone(), [{ cutAt: i, mode }]);
        for (const msg of await checkInvariants(p, run, true)) local.push(`cut ${mode} at op ${i}/${n}: ${msg}`);
        if (run.result.kind !== 'settled' || run.result.state.root?.signed.version !== 2) {
          local.push(`cut ${mode} at op ${i}/${n}: ended ${run.result.kind} without trusting root v2`);
        }
      }
    }
    expect(local).toEqual([]);
  }, 300_000);
});
