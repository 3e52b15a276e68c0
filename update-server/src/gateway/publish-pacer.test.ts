import { describe, expect, it } from 'vitest';
import { PublishPacer } from './publish-pacer.ts';

const tick = () => new Promise((r) => setImmediate(r));

describe('PublishPacer', () => {
  it('runs at most `limit` publishes at once, the rest in arrival order as slots free up', async () => {
    const pacer = new PublishPacer(3);
    const release: (() => void)[] = [];
    const started: number[] = [];
    let running = 0;
    let peak = 0;
    const done = Array.from({ length: 10 }, (_, i) =>
      pacer.run(async () => {
        started.push(i);
        peak = Math.max(peak, ++running);
        await new Promise<void>((r) => release.push(r));
        running--;
        return i;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1, 2]);
    expect(pacer.queued).toBe(7);
    while (release.length > 0) {
      release.shift()!();
      await tick();
    }
    expect(await Promise.all(done)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(peak).toBe(3);
    expect(pacer.queued).toBe(0);
  });

  it('a failed publish frees its slot and reports its error to its caller only', async () => {
    const pacer = new PublishPacer(1);
    const a = pacer.run(async () => {
      throw new Error('socket gone');
    });
    const b = pacer.run(async () => 'sent');
    await expect(a).rejects.toThrow('socket gone');
    expect(await b).toBe('sent');
    expect(() => new PublishPacer(0)).toThrow(RangeError);
  });
});
