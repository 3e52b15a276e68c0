import type { BlockDevice } from './block-device.ts';
import { crc32 } from './crc32.ts';
import { GPT_SECTORS, SECTOR_SIZE, type DiskLayout, type PartitionInfo } from './disk-layout.ts';
import { BlockDeviceError } from './errors.ts';
import { deterministicGuid, guidFromBytes, guidToBytes } from './guid.ts';

const ENTRY_COUNT = 128;
const ENTRY_SIZE = 128;
const HEADER_SIZE = 92;
const ENTRIES_BYTES = ENTRY_COUNT * ENTRY_SIZE;
const SIGNATURE = 'EFI PART';

/**
 * Writes a real GPT: protective MBR, primary header and entries at LBA 1-33,
 * backup entries and header in the last 33 sectors, every CRC32 right, so
 * sfdisk, QEMU and U-Boot read the same partitions readGpt does.
 */
export async function writeGpt(dev: BlockDevice, layout: DiskLayout, diskGuid?: string): Promise<void> {
  if (dev.size < layout.diskSize) {
    throw new BlockDeviceError('LAYOUT_INVALID', `device of ${dev.size} bytes is smaller than the layout's ${layout.diskSize}`);
  }
  const sectors = Math.floor(dev.size / SECTOR_SIZE);
  const lastLba = sectors - 1;
  const guid = diskGuid ?? deterministicGuid(`uniota-disk:${layout.diskSize}:${layout.slotA.length}`);
  const parts = [layout.env, layout.slotA, layout.slotB, layout.data];

  const entries = new Uint8Array(ENTRIES_BYTES);
  for (const p of parts) {
    const e = entries.subarray((p.index - 1) * ENTRY_SIZE, p.index * ENTRY_SIZE);
    const v = new DataView(e.buffer, e.byteOffset, ENTRY_SIZE);
    e.set(guidToBytes(p.typeGuid), 0);
    e.set(guidToBytes(p.uniqueGuid), 16);
    v.setBigUint64(32, BigInt(p.offset / SECTOR_SIZE), true);
    v.setBigUint64(40, BigInt((p.offset + p.length) / SECTOR_SIZE - 1), true);
    const name = p.name.slice(0, 36);
    for (let i = 0; i < name.length; i++) v.setUint16(56 + 2 * i, name.charCodeAt(i), true);
  }
  const entriesCrc = crc32(entries);

  const header = (myLba: number, altLba: number, entriesLba: number): Uint8Array => {
    const h = new Uint8Array(SECTOR_SIZE);
    const v = new DataView(h.buffer);
    h.set(new TextEncoder().encode(SIGNATURE), 0);
    v.setUint32(8, 0x00010000, true);
    v.setUint32(12, HEADER_SIZE, true);
    v.setBigUint64(24, BigInt(myLba), true);
    v.setBigUint64(32, BigInt(altLba), true);
    v.setBigUint64(40, BigInt(GPT_SECTORS + 1), true);
    v.setBigUint64(48, BigInt(lastLba - GPT_SECTORS), true);
    h.set(guidToBytes(guid), 56);
    v.setBigUint64(72, BigInt(entriesLba), true);
    v.setUint32(80, ENTRY_COUNT, true);
    v.setUint32(84, ENTRY_SIZE, true);
    v.setUint32(88, entriesCrc, true);
    v.setUint32(16, crc32(h.subarray(0, HEADER_SIZE)), true);
    return h;
  };

  const mbr = new Uint8Array(SECTOR_SIZE);
  const mv = new DataView(mbr.buffer);
  // One protective partition of type 0xEE covering the disk, so MBR-only tools leave it alone.
  mbr.set([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff], 446);
  mv.setUint32(454, 1, true);
  mv.setUint32(458, Math.min(sectors - 1, 0xffffffff), true);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;

  const primary = new Uint8Array(SECTOR_SIZE * (1 + GPT_SECTORS));
  primary.set(mbr, 0);
  primary.set(header(1, lastLba, 2), SECTOR_SIZE);
  primary.set(entries, 2 * SECTOR_SIZE);
  const backup = new Uint8Array(SECTOR_SIZE * GPT_SECTORS);
  backup.set(entries, 0);
  backup.set(header(lastLba, 1, lastLba - ENTRIES_BYTES / SECTOR_SIZE), ENTRIES_BYTES);

  // Backup first: if power fails between the two writes, the old primary is still whole.
  await dev.write((lastLba - ENTRIES_BYTES / SECTOR_SIZE) * SECTOR_SIZE, backup);
  await dev.write(0, primary);
  await dev.flush();
}

/**
 * Reads the partition table. Validates signature and both CRC32s of the
 * primary GPT and falls back to the backup at the last sector if the primary
 * is corrupt; throws GPT_INVALID when neither copy holds.
 */
export async function readGpt(dev: BlockDevice): Promise<PartitionInfo[]> {
  const lastLba = Math.floor(dev.size / SECTOR_SIZE) - 1;
  const problems: string[] = [];
  for (const [which, lba] of [['primary', 1], ['backup', lastLba]] as const) {
    if (lba < 1) continue;
    const result = await readCopy(dev, lba);
    if (typeof result !== 'string') return result;
    problems.push(`${which}: ${result}`);
  }
  throw new BlockDeviceError('GPT_INVALID', `no valid GPT (${problems.join('; ')})`);
}

/** One GPT copy's partitions, or the reason it is invalid. */
async function readCopy(dev: BlockDevice, lba: number): Promise<PartitionInfo[] | string> {
  const h = await dev.read(lba * SECTOR_SIZE, SECTOR_SIZE);
  const v = new DataView(h.buffer, h.byteOffset, h.byteLength);
  if (new TextDecoder().decode(h.subarray(0, 8)) !== SIGNATURE) return 'no EFI PART signature';
  const headerSize = v.getUint32(12, true);
  if (headerSize < HEADER_SIZE || headerSize > SECTOR_SIZE) return `bad header size ${headerSize}`;
  const stored = v.getUint32(16, true);
  const copy = h.slice(0, headerSize);
  new DataView(copy.buffer).setUint32(16, 0, true);
  if (crc32(copy) !== stored) return 'header CRC mismatch';
  if (Number(v.getBigUint64(24, true)) !== lba) return 'header is not where it says it is';
  const entriesLba = Number(v.getBigUint64(72, true));
  const count = v.getUint32(80, true);
  const size = v.getUint32(84, true);
  if (size < 128 || count * size > 1024 * 1024) return `bad entry array ${count} x ${size}`;
  if ((entriesLba + Math.ceil((count * size) / SECTOR_SIZE)) * SECTOR_SIZE > dev.size) return 'entries outside the disk';
  const entries = await dev.read(entriesLba * SECTOR_SIZE, count * size);
  if (crc32(entries) !== v.getUint32(88, true)) return 'entry array CRC mismatch';

  const parts: PartitionInfo[] = [];
  for (let i = 0; i < count; i++) {
    const e = entries.subarray(i * size, (i + 1) * size);
    if (e.subarray(0, 16).every((b) => b === 0)) continue;
    const ev = new DataView(e.buffer, e.byteOffset, size);
    const first = Number(ev.getBigUint64(32, true));
    const last = Number(ev.getBigUint64(40, true));
    let name = '';
    for (let j = 56; j + 1 < 128; j += 2) {
      const c = ev.getUint16(j, true);
      if (c === 0) break;
      name += String.fromCharCode(c);
    }
    parts.push({
      name,
      index: i + 1,
      offset: first * SECTOR_SIZE,
      length: (last - first + 1) * SECTOR_SIZE,
      typeGuid: guidFromBytes(e.subarray(0, 16)),
      uniqueGuid: guidFromBytes(e.subarray(16, 32)),
    });
  }
  return parts;
}
