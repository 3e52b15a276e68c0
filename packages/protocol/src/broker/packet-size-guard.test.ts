import { describe, expect, it } from 'vitest';
import { PacketSizeGuard } from './packet-size-guard.ts';

// A PUBLISH fixed header (0x30) with an encoded remaining length.
function header(len: number): number[] {
  const out = [0x30];
  do {
    let b = len % 128;
    len = Math.floor(len / 128);
    if (len > 0) b |= 0x80;
    out.push(b);
  } while (len > 0);
  return out;
}
const packet = (len: number) => Buffer.from([...header(len), ...new Array<number>(len).fill(7)]);

describe('PacketSizeGuard', () => {
  it('passes packets up to the limit, however the stream is split', () => {
    const g = new PacketSizeGuard(200);
    const stream = Buffer.concat([packet(10), packet(197), packet(0)]); // 197 + 3 header bytes = 200
    for (let i = 0; i < stream.length; i += 3) expect(g.feed(stream.subarray(i, i + 3))).toBe(true);
  });
  it('stops at a header announcing more than the limit, before any body byte', () => {
    const g = new PacketSizeGuard(1024);
    expect(g.feed(packet(100))).toBe(true);
    expect(g.feed(Buffer.from(header(256 * 1024 * 1024 - 1)))).toBe(false);
  });
  it('refuses a remaining length with a fifth continuation byte (malformed)', () => {
    expect(new PacketSizeGuard(1 << 30).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe(false);
  });
});
