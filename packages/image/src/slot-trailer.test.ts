import { describe, expect, it } from 'vitest';
import { createBundle, parseBundleHeader, type VerifyPolicy } from './bundle.ts';
import { inlineChunkHasher, threadedChunkHasher } from './chunk-hasher.ts';
import { ImageError } from './errors.ts';
import { encodeSlotTrailer, verifySlot, type SlotStorage } from './slot-trailer.ts';
import { DAY, NOW, payloadOf, trust } from './test-fixtures.ts';

const t = trust();
const policy: VerifyPolicy = { hardware: 'hw', minSecurityCounter: 0, now: NOW };
const TRAILER = 64 * 1024;

/** A slot in memory holding `payload` at 0 and its signed header in the trailer, with an optional flipped byte. */
function slotWith(
  payload: Uint8Array,
  chunkSize: number,
  flipAt: number[] = [],
  kind: 'read' | 'readInto' = 'read',
): SlotStorage & { reads: [number, number][]; targets: ArrayBufferLike[] } {
  const bundle = createBundle(
    { product: 'p', version: '1.0.0', securityCounter: 1, compatibleHardware: ['hw'], expiresAt: new Date(NOW.getTime() + DAY), chunkSize },
    payload,
    [t.imageKeys[0]!.signer],
  );
  const header = parseBundleHeader(bundle);
  const bytes = new Uint8Array(payload.length + 100_000 + TRAILER);
  bytes.set(payload);
  for (const at of flipAt) bytes[at] = (bytes[at] as number) ^ 0x40;
  bytes.set(encodeSlotTrailer(bundle.subarray(0, header.headerLength), TRAILER), bytes.length - TRAILER);
  const reads: [number, number][] = [];
  const targets: ArrayBufferLike[] = [];
  return {
    reads,
    targets,
    size: bytes.length,
    read: async (offset, length) => {
      reads.push([offset, length]);
      return bytes.slice(offset, offset + length);
    },
    ...(kind === 'readInto'
      ? {
          readInto: async (offset: number, target: Uint8Array) => {
            reads.push([offset, target.length]);
            targets.push(target.buffer);
            // Whatever the buffer held before must not matter.
            target.fill(0xa5);
            target.set(bytes.subarray(offset, offset + target.length));
          },
        }
      : {}),
  };
}

const codeOf = (p: Promise<unknown>) => p.then(() => 'NO_ERROR', (err: unknown) => (err instanceof ImageError ? `${err.code}: ${err.message}` : String(err)));

describe('verifySlot', () => {
  const payload = payloadOf(3 * 1024 * 1024 + 777, 5);
  for (const [name, hasher, kind] of [
    ['threaded', threadedChunkHasher, 'read'],
    ['inline', inlineChunkHasher, 'read'],
    ['threaded, reading into reused buffers', threadedChunkHasher, 'readInto'],
    ['inline, reading into reused buffers', inlineChunkHasher, 'readInto'],
  ] as const) {
    it(`${name}: accepts the exact signed payload, reading it once, in order`, async () => {
      const slot = slotWith(payload, 64 * 1024, [], kind);
      const v = await verifySlot(slot, TRAILER, t.signed, policy, hasher);
      expect(v.manifest.payload.size).toBe(payload.length);
      const payloadReads = slot.reads.slice(1);
      let end = 0;
      for (const [offset, length] of payloadReads) {
        expect(offset).toBe(end);
        end += length;
      }
      expect(end).toBe(payload.length);
    });

    it(`${name}: names the FIRST chunk that differs, even when a later one differs too`, async () => {
      const chunk = 64 * 1024;
      const slot = slotWith(payload, chunk, [40 * chunk + 5, 20 * chunk + chunk - 1], kind);
      expect(await codeOf(verifySlot(slot, TRAILER, t.signed, policy, hasher))).toBe(`CHUNK_HASH_MISMATCH: chunk 20 (bytes from ${20 * chunk}) does not match its signed hash`);
    });

    it(`${name}: catches a changed byte in the short last chunk`, async () => {
      const slot = slotWith(payload, 64 * 1024, [payload.length - 1], kind);
      expect(await codeOf(verifySlot(slot, TRAILER, t.signed, policy, hasher))).toMatch(/^CHUNK_HASH_MISMATCH: chunk 48 /);
    });
  }

  it('reads the next verification into the buffers the last one finished with', async () => {
    const first = slotWith(payload, 64 * 1024, [], 'readInto');
    await verifySlot(first, TRAILER, t.signed, policy);
    const second = slotWith(payload, 64 * 1024, [], 'readInto');
    await verifySlot(second, TRAILER, t.signed, policy);
    expect(second.targets.length).toBeGreaterThan(1);
    expect(second.targets.every((b) => first.targets.includes(b))).toBe(true);
  });

  it('reads into shared memory for a hasher that hashes it in place, into ordinary memory for the others', async () => {
    const threaded = slotWith(payload, 64 * 1024, [], 'readInto');
    await verifySlot(threaded, TRAILER, t.signed, policy, threadedChunkHasher);
    const inline = slotWith(payload, 64 * 1024, [], 'readInto');
    await verifySlot(inline, TRAILER, t.signed, policy, inlineChunkHasher);
    expect(threaded.targets.length).toBeGreaterThan(1);
    expect(threaded.targets.every((b) => b instanceof SharedArrayBuffer)).toBe(true);
    expect(inline.targets.some((b) => b instanceof SharedArrayBuffer)).toBe(false);
  });

  it('reads only the trailer bytes the signed header takes, and all of them for a long header', async () => {
    const short = slotWith(payloadOf(100_000, 3), 64 * 1024);
    await verifySlot(short, TRAILER, t.signed, policy);
    expect(short.reads[0]).toEqual([short.size - TRAILER, 16 * 1024]);
    // 700 chunk hashes: a ~47 KiB manifest, past the first 16 KiB read.
    const long = slotWith(payloadOf(2 * 1024 * 1024 + 5, 8), 3000);
    expect((await verifySlot(long, TRAILER, t.signed, policy)).manifest.payload.chunks).toHaveLength(700);
    expect(long.reads[0]).toEqual([long.size - TRAILER, 16 * 1024]);
    expect(long.reads[1]![0]).toBe(long.size - TRAILER);
    expect(long.reads[1]![1]).toBeGreaterThan(40 * 1024);
    expect(long.reads[1]![1]).toBeLessThan(TRAILER);
  });

  it('refuses a trailer whose header length runs past the trailer', async () => {
    const slot = slotWith(payloadOf(100_000, 3), 64 * 1024);
    const read = slot.read;
    slot.read = async (offset, length) => {
      const bytes = await read(offset, length);
      // The u32 header length after the 8-byte magic: larger than the trailer.
      if (offset === slot.size - TRAILER) new DataView(bytes.buffer, bytes.byteOffset).setUint32(8, TRAILER, false);
      return bytes;
    };
    expect(await codeOf(verifySlot(slot, TRAILER, t.signed, policy))).toMatch(/^SLOT_EMPTY: /);
  });

  it('verifies chunk sizes that do not divide the read step', async () => {
    const small = payloadOf(2 * 1024 * 1024 + 5, 8);
    expect((await verifySlot(slotWith(small, 3000), TRAILER, t.signed, policy)).manifest.payload.chunkSize).toBe(3000);
    expect(await codeOf(verifySlot(slotWith(small, 3000, [1_500_000]), TRAILER, t.signed, policy))).toMatch(/^CHUNK_HASH_MISMATCH: chunk 500 /);
  });
});
