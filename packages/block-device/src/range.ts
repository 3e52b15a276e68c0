import { BlockDeviceError } from './errors.ts';

/**
 * Throws OUT_OF_RANGE unless [offset, offset+length) lies inside a device of
 * `size` bytes. Every device checks before touching storage, so a bad offset
 * never lands a partial write.
 */
export function checkRange(what: string, size: number, offset: number, length: number): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > size
  ) {
    throw new BlockDeviceError(
      'OUT_OF_RANGE',
      `${what} [${offset}, ${offset + length}) is outside the device of ${size} bytes`,
    );
  }
}
