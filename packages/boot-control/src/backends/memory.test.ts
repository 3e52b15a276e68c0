import { describe, expect, it } from 'vitest';
import { MemoryBootControl } from './memory.ts';

describe('MemoryBootControl', () => {
  it('implements the trial lifecycle with one write per operation', async () => {
    const bc = new MemoryBootControl();
    await bc.setTrySlot('B');
    expect(await bc.readState()).toEqual({ bootPart: 'B', upgradeAvailable: true, bootCount: 0, bootLimit: 3 });
    await bc.markGood();
    expect(await bc.readState()).toEqual({ bootPart: 'B', upgradeAvailable: false, bootCount: 0, bootLimit: 3 });
    await bc.markBad('A');
    expect((await bc.readState()).bootPart).toBe('A');
    expect(bc.writes).toBe(3);
  });

  it('readState returns a copy callers cannot mutate', async () => {
    const bc = new MemoryBootControl();
    (await bc.readState()).bootPart = 'B';
    expect((await bc.readState()).bootPart).toBe('A');
  });

  it('simulateBoot counts trial boots and rolls back once bootcount exceeds bootlimit', async () => {
    const bc = new MemoryBootControl({ bootPart: 'A', bootLimit: 2 });
    await bc.setTrySlot('B');
    expect([bc.simulateBoot(), bc.simulateBoot(), bc.simulateBoot()]).toEqual(['B', 'B', 'A']);
    expect(bc.state).toEqual({ bootPart: 'A', upgradeAvailable: false, bootCount: 0, bootLimit: 2 });
    // Outside a trial nothing is counted or written.
    const writes = bc.writes;
    expect(bc.simulateBoot()).toBe('A');
    expect(bc.writes).toBe(writes);
  });
});
