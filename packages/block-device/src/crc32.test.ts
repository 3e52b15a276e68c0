import { describe, expect, it } from 'vitest';
import { crc32 } from './crc32.ts';

describe('crc32', () => {
  it('is the IEEE CRC-32 of its check value and of the empty input, unsigned', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(new Uint8Array(16 * 1024))).toBe(0xab54d286);
  });

  it('covers only the view it is given, not the rest of its buffer', () => {
    const whole = new TextEncoder().encode('xx123456789yy');
    expect(crc32(whole.subarray(2, 11))).toBe(0xcbf43926);
  });
});
