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
function slotWith(payload: Uint8Array, chunkSize: number, flipAt: number[] = []): SlotStorage & { reads: [number, number][] } {
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
  return {
    reads,
    size: bytes.length,
    read: async (offset, length) => {
      reads.push([offset, length]);
      return bytes.slice(offset, offset + length);
    },
  };
}

const codeOf = (p: Promise<unknown>) => p.then(() => 'NO_ERROR', (err: unknown) => (err instanceof ImageError ? `${err.code}: ${err.message}` : String(err)));

describe('verifySlot', () => {
  const payload = payloadOf(3 * 1024 * 1024 + 777, 5);
  for (const [name, hasher] of [['threaded', threadedChunkHasher], ['inline', inlineChunkHasher]] as const) {
    it(`${name}: accepts the exact signed payload, reading it once, in order`, async () => {
      const slot = slotWith(payload, 64 * 1024);
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
      const slot = slotWith(payload, chunk, [40 * chunk + 5, 20 * chunk + chunk - 1]);
      expect(await codeOf(verifySlot(slot, TRAILER, t.signed, policy, hasher))).toBe(`CHUNK_HASH_MISMATCH: chunk 20 (bytes from ${20 * chunk}) does not match its signed hash`);
    });

    it(`${name}: catches a changed byte in the short last chunk`, async () => {
      const slot = slotWith(payload, 64 * 1024, [payload.length - 1]);
      expect(await codeOf(verifySlot(slot, TRAILER, t.signed, policy, hasher))).toMatch(/^CHUNK_HASH_MISMATCH: chunk 48 /);
    });
  }

  it('verifies chunk sizes that do not divide the read step', async () => {
    const small = payloadOf(2 * 1024 * 1024 + 5, 8);
    expect((await verifySlot(slotWith(small, 3000), TRAILER, t.signed, policy)).manifest.payload.chunkSize).toBe(3000);
    expect(await codeOf(verifySlot(slotWith(small, 3000, [1_500_000]), TRAILER, t.signed, policy))).toMatch(/^CHUNK_HASH_MISMATCH: chunk 500 /);
  });
});
