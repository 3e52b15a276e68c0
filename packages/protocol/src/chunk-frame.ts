import { createHash } from 'node:crypto';
import { ProtocolError, ProtocolErrorCode } from './errors.ts';
import { MAX_CHUNK_SIZE } from './schemas.ts';

/**
 * Binary chunk frame (not JSON/base64: that would cost a third more bytes on
 * every device of a wave). Layout, all integers big-endian:
 *
 *   0  2  magic "UC"
 *   2  1  frame version (1)
 *   3  1  flags (0; receivers reject unknown flags rather than misread)
 *   4  8  image tag: first 8 bytes of SHA-256(imageId)
 *  12  4  chunk index
 *  16  4  data length
 *  20  n  data (exactly `length` bytes)
 *
 * The tag lets a receiver drop chunks of another image cheaply; it is not a
 * security check: every chunk is verified against the signed manifest's hash.
 */
export const CHUNK_HEADER_SIZE = 20;
const MAGIC0 = 0x55; // 'U'
const MAGIC1 = 0x43; // 'C'
const FRAME_VERSION = 1;

/** A decoded chunk frame. */
export interface ChunkFrame {
  /** 8-byte image tag, hex. */
  imageTag: string;
  index: number;
  data: Uint8Array;
}

/** First 8 bytes of SHA-256(imageId) as hex: the tag carried in every chunk frame. */
export function imageTag(imageId: string): string {
  return createHash('sha256').update(imageId, 'utf8').digest().subarray(0, 8).toString('hex');
}

function badFrame(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.BAD_FRAME, message);
}

/** Encodes one chunk into a frame; throws PROTOCOL_BAD_FRAME for an invalid tag, index or size. */
export function encodeChunkFrame(tag: string, index: number, data: Uint8Array): Buffer {
  if (!/^[0-9a-f]{16}$/.test(tag)) throw badFrame('image tag must be 16 hex digits');
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) throw badFrame(`chunk index ${index} out of range`);
  if (data.length === 0 || data.length > MAX_CHUNK_SIZE) throw badFrame(`chunk of ${data.length} bytes: must be 1..${MAX_CHUNK_SIZE}`);
  const frame = Buffer.allocUnsafe(CHUNK_HEADER_SIZE + data.length);
  frame[0] = MAGIC0;
  frame[1] = MAGIC1;
  frame[2] = FRAME_VERSION;
  frame[3] = 0;
  frame.write(tag, 4, 'hex');
  frame.writeUInt32BE(index, 12);
  frame.writeUInt32BE(data.length, 16);
  frame.set(data, CHUNK_HEADER_SIZE);
  return frame;
}

/** Decodes and validates a frame; returns a reason string instead of throwing. */
export function decodeChunkFrame(payload: Buffer): ChunkFrame | { error: string } {
  if (payload.length < CHUNK_HEADER_SIZE) return { error: 'frame shorter than its header' };
  if (payload[0] !== MAGIC0 || payload[1] !== MAGIC1) return { error: 'bad magic' };
  if (payload[2] !== FRAME_VERSION) return { error: `unknown frame version ${payload[2]}` };
  if (payload[3] !== 0) return { error: 'unknown flags' };
  const length = payload.readUInt32BE(16);
  if (length === 0 || length > MAX_CHUNK_SIZE) return { error: `bad data length ${length}` };
  if (payload.length !== CHUNK_HEADER_SIZE + length) return { error: 'frame length does not match header' };
  return {
    imageTag: payload.subarray(4, 12).toString('hex'),
    index: payload.readUInt32BE(12),
    data: payload.subarray(CHUNK_HEADER_SIZE),
  };
}
