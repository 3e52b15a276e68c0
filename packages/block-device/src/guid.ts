import { createHash } from 'node:crypto';

/**
 * GPT stores GUIDs "mixed-endian": the first three fields little-endian, the
 * last two as plain bytes. Getting this wrong makes sfdisk show other GUIDs.
 */
export function guidToBytes(guid: string): Uint8Array {
  const hex = guid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`not a GUID: ${guid}`);
  const b = Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
  const out = new Uint8Array(16);
  out.set([b[3]!, b[2]!, b[1]!, b[0]!, b[5]!, b[4]!, b[7]!, b[6]!]);
  out.set(b.subarray(8), 8);
  return out;
}

/** Inverse of guidToBytes; upper-case like sfdisk prints. */
export function guidFromBytes(bytes: Uint8Array): string {
  const b = bytes;
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  const hex = order.map((i) => b[i]!.toString(16).padStart(2, '0')).join('').toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A version-4-shaped GUID derived from `seed`: disk images built from the same
 * layout come out byte-identical (reproducible builds), while different seeds
 * give different GUIDs.
 */
export function deterministicGuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex').toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
