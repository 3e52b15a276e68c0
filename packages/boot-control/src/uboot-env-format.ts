/**
 * The U-Boot redundant environment copy, byte for byte as U-Boot and
 * libubootenv (fw_printenv/fw_setenv) lay it out:
 *
 *   crc32 (u32 little-endian) | flags (u8) | "name=value\0"... "\0" | zero padding
 *
 * The CRC covers the whole data area including the padding, so the copy size
 * must equal the bootloader's CONFIG_ENV_SIZE or it rejects every copy.
 */
import { crc32 } from '@uniota/block-device';
import { BootControlError } from './errors.ts';

/** Bytes before the data area of a redundant copy: crc32 + flags. */
export const ENV_HEADER_SIZE = 5;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes one env copy of exactly `envSize` bytes. Variables are written
 * sorted by name (what fw_setenv does too) so equal maps give equal bytes.
 * Throws ENV_TOO_LARGE if they do not fit, ENV_INVALID_NAME/VALUE for names
 * with '=' or NUL, or values with NUL, which the format cannot hold.
 */
export function encodeEnvCopy(vars: Map<string, string>, envSize: number, flags: number): Uint8Array {
  if (!Number.isInteger(flags) || flags < 0 || flags > 255) {
    throw new BootControlError('ENV_INVALID_VALUE', `env flags must be a byte, got ${flags}`);
  }
  const out = new Uint8Array(envSize);
  let pos = ENV_HEADER_SIZE;
  const names = [...vars.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const value = vars.get(name)!;
    if (name === '' || name.includes('=') || name.includes('\0')) {
      throw new BootControlError('ENV_INVALID_NAME', `env variable name ${JSON.stringify(name)} is not allowed`);
    }
    if (value.includes('\0')) {
      throw new BootControlError('ENV_INVALID_VALUE', `env variable ${name} contains a NUL byte`);
    }
    const entry = encoder.encode(`${name}=${value}`);
    // +1 for this entry's NUL, +1 for the NUL that ends the list.
    if (pos + entry.length + 2 > envSize) {
      throw new BootControlError('ENV_TOO_LARGE', `env does not fit in ${envSize} bytes (at variable ${name})`);
    }
    out.set(entry, pos);
    pos += entry.length + 1;
  }
  if (pos + 1 > envSize) throw new BootControlError('ENV_TOO_LARGE', `env size ${envSize} is too small`);
  out[4] = flags;
  new DataView(out.buffer).setUint32(0, crc32(out.subarray(ENV_HEADER_SIZE)), true);
  return out;
}

/** Decodes one env copy; null when it is too short or its CRC does not match (torn or never written). */
export function decodeEnvCopy(bytes: Uint8Array): { vars: Map<string, string>; flags: number } | null {
  if (bytes.length < ENV_HEADER_SIZE + 1) return null;
  const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  const data = bytes.subarray(ENV_HEADER_SIZE);
  if (crc32(data) !== stored) return null;
  const vars = new Map<string, string>();
  let pos = 0;
  while (pos < data.length && data[pos] !== 0) {
    let end = data.indexOf(0, pos);
    if (end < 0) end = data.length;
    const entry = decoder.decode(data.subarray(pos, end));
    const eq = entry.indexOf('=');
    // An entry without '=' is not a variable; U-Boot ignores it and so do we.
    if (eq > 0) vars.set(entry.slice(0, eq), entry.slice(eq + 1));
    pos = end + 1;
  }
  return { vars, flags: bytes[4]! };
}

/**
 * Which of two valid copies is current, given their flags: the higher one,
 * except that 0 beats 255 because the counter wraps (choosing 255 there made
 * devices roll back their env at the 256th write, fwup #215).
 */
export function newerCopy(a: number, b: number): 0 | 1 {
  if (a === 255 && b === 0) return 1;
  if (a === 0 && b === 255) return 0;
  return a >= b ? 0 : 1;
}
