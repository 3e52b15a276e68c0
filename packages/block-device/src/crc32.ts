/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320): the checksum both GPT
 * headers and the U-Boot environment use.
 *
 * node:zlib's, not a table loop in JS: every boot-state read checks both 16 KiB
 * env copies, and the JS loop was the largest cost of reading the env (in a
 * CPU profile of a 2,000-device fleet, bench/fleet.bench.ts --profile-fleet).
 */
import { crc32 as zlibCrc32 } from 'node:zlib';

/** CRC-32 of `bytes` as an unsigned 32-bit number. */
export function crc32(bytes: Uint8Array): number {
  return zlibCrc32(bytes) >>> 0;
}
