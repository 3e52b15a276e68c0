import { describe, expect, it } from 'vitest';
import { FaultyBlockDevice, MemoryBlockDevice, isPowerCut } from '@uniota/block-device';
import { Journal } from './journal.ts';
import { initialState } from './agent-state.ts';
import type { JournalState } from './agent-state.ts';

const COPY = 4096;
const base = initialState({ slot: 'A', version: '1.0.0', securityCounter: 1 });
const withState = (state: JournalState['state'], n: number): JournalState => ({ ...base, state, lastCommandSeq: n });

describe('journal', () => {
  it('is empty on a blank device and returns what was saved', async () => {
    const dev = new MemoryBlockDevice(2 * COPY);
    const j = new Journal(dev, COPY);
    expect(await j.load()).toBeNull();
    await j.save(withState('downloading', 1));
    expect(await new Journal(dev, COPY).load()).toEqual(withState('downloading', 1));
  });

  it('alternates copies so the previous record survives a torn write', async () => {
    for (const mode of ['before', 'torn', 'after'] as const) {
      const mem = new MemoryBlockDevice(2 * COPY);
      const j = new Journal(mem, COPY);
      await j.load();
      await j.save(withState('downloading', 1));
      await j.save(withState('verifying-slot', 2));
      // Cut the next save's write (operation 1 of the faulty device).
      const faulty = new Journal(new FaultyBlockDevice(mem, { cutAt: 1, mode }), COPY);
      await faulty.load();
      await expect(faulty.save(withState('installed', 3))).rejects.toSatisfy(isPowerCut);
      const got = await new Journal(mem, COPY).load();
      expect(got).toEqual(mode === 'after' ? withState('installed', 3) : withState('verifying-slot', 2));
    }
  });

  it('reads only the record bytes of a large copy area, and a copy whose head announces too long a record counts as empty', async () => {
    const area = 512 * 1024;
    const mem = new MemoryBlockDevice(2 * area);
    let bytesRead = 0;
    const counting = { size: mem.size, read: async (o: number, n: number) => ((bytesRead += n), mem.read(o, n)), write: (o: number, d: Uint8Array) => mem.write(o, d), flush: () => mem.flush() };
    const j = new Journal(counting, area);
    await j.save(withState('downloading', 1));
    await j.save(withState('verifying-slot', 2));
    bytesRead = 0;
    expect(await new Journal(counting, area).load()).toEqual(withState('verifying-slot', 2));
    const record = JSON.stringify(withState('verifying-slot', 2)).length + 16;
    expect(bytesRead).toBeLessThan(2 * (record + 12));
    // The newest copy (the second) gets a length past its area: the older record is the newest valid one.
    const head = await mem.read(area, 12);
    new DataView(head.buffer, head.byteOffset).setUint32(8, area);
    await mem.write(area, head);
    expect(await new Journal(counting, area).load()).toEqual(withState('downloading', 1));
  });

  it('refuses a record written by a newer format or naming an unknown state', async () => {
    const dev = new MemoryBlockDevice(2 * COPY);
    const j = new Journal(dev, COPY);
    await j.save({ ...base, formatVersion: 99 });
    await expect(new Journal(dev, COPY).load()).rejects.toMatchObject({ code: 'JOURNAL_FORMAT_UNSUPPORTED' });
    await j.save({ ...base, state: 'exploded' as JournalState['state'] });
    await expect(new Journal(dev, COPY).load()).rejects.toMatchObject({ code: 'JOURNAL_FORMAT_UNSUPPORTED' });
  });

  it('refuses a record larger than its copy area instead of overwriting the other copy', async () => {
    const dev = new MemoryBlockDevice(2 * 256);
    const j = new Journal(dev, 256);
    await expect(j.save({ ...base, history: Array.from({ length: 16 }, (_, i) => ({ actionId: `a${i}`, campaignId: null, version: '1', outcome: 'failed' as const, code: null, reported: true })) })).rejects.toMatchObject({ code: 'JOURNAL_TOO_LARGE' });
    expect(await new Journal(dev, 256).load()).toBeNull();
  });
});
