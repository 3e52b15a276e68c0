/**
 * How many bytes of a slot an ELF image occupies. Slots hold the payload raw
 * at offset 0 with no length field, so the microvm tier reads the ELF headers
 * to know how much to hand to QEMU's -kernel.
 */

/** Bytes the ELF at the start of `bytes` spans (headers, segments, section table); null if it is not an ELF. */
export function elfExtent(bytes: Uint8Array): number | null {
  if (bytes.length < 52 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return null;
  const is64 = bytes[4] === 2;
  const le = bytes[5] === 1;
  if (!is64 && bytes[4] !== 1) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number): number => v.getUint16(o, le);
  const u32 = (o: number): number => v.getUint32(o, le);
  const word = (o: number): number => (is64 ? Number(v.getBigUint64(o, le)) : u32(o));
  if (bytes.length < (is64 ? 64 : 52)) return null;
  const phoff = word(is64 ? 32 : 28);
  const shoff = word(is64 ? 40 : 32);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  const shentsize = u16(is64 ? 58 : 46);
  const shnum = u16(is64 ? 60 : 48);
  let end = Math.max(is64 ? 64 : 52, phoff + phentsize * phnum, shoff + shentsize * shnum);
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (p + phentsize > bytes.length) return null;
    const offset = word(p + (is64 ? 8 : 4));
    const filesz = word(p + (is64 ? 32 : 16));
    end = Math.max(end, offset + filesz);
  }
  return end <= bytes.length ? end : null;
}
