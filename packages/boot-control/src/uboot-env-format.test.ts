import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 } from '@uniota/block-device';
import { decodeEnvCopy, encodeEnvCopy, newerCopy } from './uboot-env-format.ts';

describe('encodeEnvCopy / decodeEnvCopy', () => {
  it('lays out crc | flags | sorted name=value\\0 entries | \\0 | zero padding', () => {
    const bytes = encodeEnvCopy(new Map([['b', '2'], ['a', 'x y']]), 64, 7);
    expect(bytes.length).toBe(64);
    expect(bytes[4]).toBe(7);
    expect(Buffer.from(bytes.subarray(5, 16)).toString('latin1')).toBe('a=x y\0b=2\0\0');
    expect(bytes.subarray(16).every((b) => b === 0)).toBe(true);
    expect(new DataView(bytes.buffer).getUint32(0, true)).toBe(crc32(bytes.subarray(5)));
  });

  it('round-trips any variables that fit (property)', () => {
    const name = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('=') && !s.includes('\0'));
    const value = fc.string({ maxLength: 40 }).filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(fc.dictionary(name, value, { maxKeys: 20 }), fc.integer({ min: 0, max: 255 }), (dict, flags) => {
        const vars = new Map(Object.entries(dict));
        const decoded = decodeEnvCopy(encodeEnvCopy(vars, 0x1000, flags));
        expect(decoded?.flags).toBe(flags);
        expect(decoded?.vars).toEqual(vars);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('returns null for a flipped bit anywhere in the data area, including the padding', () => {
    const bytes = encodeEnvCopy(new Map([['k', 'v']]), 256, 1);
    for (const at of [0, 5, 8, 255]) {
      const bad = bytes.slice();
      bad[at] = bad[at]! ^ 0x10;
      expect(decodeEnvCopy(bad)).toBeNull();
    }
    expect(decodeEnvCopy(new Uint8Array(256))).toBeNull();
  });

  it('the flags byte is outside the CRC (so a writer only changes data + flags)', () => {
    const bytes = encodeEnvCopy(new Map([['k', 'v']]), 256, 1);
    bytes[4] = 200;
    expect(decodeEnvCopy(bytes)?.flags).toBe(200);
  });

  it.each([
    ['too many bytes', new Map([['k', 'x'.repeat(60)]]), 64, 'ENV_TOO_LARGE'],
    ['exactly one byte too many', new Map([['k', 'x'.repeat(56)]]), 64, 'ENV_TOO_LARGE'],
    ['a name with =', new Map([['a=b', '1']]), 64, 'ENV_INVALID_NAME'],
    ['an empty name', new Map([['', '1']]), 64, 'ENV_INVALID_NAME'],
    ['a value with NUL', new Map([['a', 'x\0y']]), 64, 'ENV_INVALID_VALUE'],
  ])('rejects %s', (_name, vars, size, code) => {
    expect(() => encodeEnvCopy(vars, size, 0)).toThrow(expect.objectContaining({ code }));
  });

  it('fits an entry that fills the data area to the last byte', () => {
    // 64 - 5 header = 59 bytes: "k=" + 55 + NUL + final NUL.
    const vars = new Map([['k', 'x'.repeat(55)]]);
    expect(decodeEnvCopy(encodeEnvCopy(vars, 64, 0))?.vars).toEqual(vars);
    expect(() => encodeEnvCopy(new Map([['k', 'x'.repeat(56)]]), 64, 0)).toThrow(
      expect.objectContaining({ code: 'ENV_TOO_LARGE' }),
    );
  });
});

describe('newerCopy', () => {
  // [flags of copy 0, flags of copy 1, winner]; the same rows are checked against fw_printenv in uboot-env-compat.test.ts.
  it.each([
    [1, 0, 0],
    [0, 1, 1],
    [5, 4, 0],
    [4, 5, 1],
    [3, 3, 0],
    [255, 0, 1],
    [0, 255, 0],
    [254, 255, 1],
    [0, 254, 1],
    [1, 255, 1],
  ] as const)('copy0 flags %i vs copy1 flags %i -> copy %i', (a, b, winner) => {
    expect(newerCopy(a, b)).toBe(winner);
  });
});
