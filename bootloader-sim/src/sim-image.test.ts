import { describe, expect, it } from 'vitest';
import { makeSimImage, parseSimImage, SIM_BEHAVIOURS } from './sim-image.ts';

describe('simulated images', () => {
  it.each(SIM_BEHAVIOURS.map((b) => [b]))('round-trips behaviour %s', (behaviour) => {
    const img = makeSimImage({ version: '1.2.3', behaviour }, 4096);
    expect(img.length).toBe(4096);
    expect(parseSimImage(img)).toEqual({ version: '1.2.3', behaviour });
  });

  it('differs between versions in every 1 KiB block', () => {
    const a = makeSimImage({ version: '1.0.0', behaviour: 'ok' }, 8192);
    const b = makeSimImage({ version: '2.0.0', behaviour: 'ok' }, 8192);
    for (let off = 0; off < 8192; off += 1024) expect(Buffer.compare(a.subarray(off, off + 1024), b.subarray(off, off + 1024))).not.toBe(0);
  });

  it('reads an unknown payload as no simulated image', () => {
    expect(parseSimImage(new Uint8Array(600))).toBeNull();
    expect(parseSimImage(new TextEncoder().encode('UNIOTA-SIM1\n{"version":"1","behaviour":"fly"}\n'))).toBeNull();
  });

  it('refuses a size below its own header', () => {
    expect(() => makeSimImage({ version: '1.0.0', behaviour: 'ok' }, 8)).toThrow(expect.objectContaining({ code: 'SIM_IMAGE_INVALID' }));
  });
});
