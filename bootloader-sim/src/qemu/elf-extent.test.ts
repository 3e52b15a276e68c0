import { describe, expect, it } from 'vitest';
import { elfExtent } from './elf-extent.ts';

/** A minimal ELF32 LE header with one program header pointing at [offset, offset+filesz). */
function elf32(offset: number, filesz: number, shoff = 0, shnum = 0): Uint8Array {
  const b = new Uint8Array(Math.max(offset + filesz, shoff + shnum * 40, 84) + 100);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  const v = new DataView(b.buffer);
  v.setUint32(28, 52, true); // phoff
  v.setUint32(32, shoff, true);
  v.setUint16(42, 32, true); // phentsize
  v.setUint16(44, 1, true); // phnum
  v.setUint16(46, 40, true); // shentsize
  v.setUint16(48, shnum, true);
  v.setUint32(52 + 4, offset, true);
  v.setUint32(52 + 16, filesz, true);
  return b;
}

describe('elfExtent', () => {
  it('ends at the furthest of segment data and section table', () => {
    expect(elfExtent(elf32(0x100, 0x50))).toBe(0x150);
    expect(elfExtent(elf32(0x100, 0x50, 0x200, 3))).toBe(0x200 + 3 * 40);
  });

  it('is null for zeros, an erased slot, or an ELF cut short', () => {
    expect(elfExtent(new Uint8Array(4096))).toBeNull();
    expect(elfExtent(new Uint8Array(4096).fill(0xff))).toBeNull();
    expect(elfExtent(elf32(0x100, 0x50).subarray(0, 0x120))).toBeNull();
  });
});
