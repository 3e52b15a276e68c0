import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImageError } from './errors.ts';
import { buildManifest, chunkCount } from './manifest.ts';
import { inlineChunkHasher, threadedChunkHasher } from './chunk-hasher.ts';
import { PayloadVerifier, countVerifiedChunks, verifyChunk } from './payload.ts';
import { DAY, NOW, payloadOf, codeOf } from './test-fixtures.ts';

const payload = payloadOf(5_000, 7);
const manifest = buildManifest(
  { product: 'p', version: '1.0.0', securityCounter: 0, compatibleHardware: ['hw'], expiresAt: new Date(NOW.getTime() + DAY), chunkSize: 1024 },
  payload,
  NOW,
);

/** Cuts `bytes` at the given offsets (sorted, deduplicated, in range). */
function slices(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}

describe('PayloadVerifier', () => {
  it('accepts the signed payload in any slicing', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 20 }), (cuts) => {
        const v = new PayloadVerifier(manifest);
        for (const s of slices(payload, cuts)) v.update(s);
        v.finish();
        expect(v.received).toBe(payload.length);
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  it('detects any single flipped byte, in any slicing, at the chunk that holds it', () => {
    fc.assert(
      fc.property(fc.nat({ max: payload.length - 1 }), fc.array(fc.nat(), { maxLength: 8 }), (at, cuts) => {
        const bad = payload.slice();
        bad[at] = (bad[at] ?? 0) ^ 0x80;
        const v = new PayloadVerifier(manifest);
        let fedUpTo = 0;
        const err = (() => {
          try {
            for (const s of slices(bad, cuts)) {
              fedUpTo += s.length;
              v.update(s);
            }
            v.finish();
          } catch (e) {
            return e as ImageError;
          }
          return undefined;
        })();
        expect(err?.code).toBe('CHUNK_HASH_MISMATCH');
        // Reported no later than the slice that completed the bad chunk.
        const chunkEnd = Math.min((Math.floor(at / 1024) + 1) * 1024, payload.length);
        expect(fedUpTo).toBeGreaterThanOrEqual(chunkEnd);
        expect(err?.message).toContain(`chunk ${Math.floor(at / 1024)}`);
      }),
      { numRuns: 60, seed: 8 },
    );
  });

  it('refuses the first byte past the signed size, without accepting it', () => {
    const v = new PayloadVerifier(manifest);
    v.update(payload);
    expect(codeOf(() => v.update(Uint8Array.of(0)))).toBe('PAYLOAD_TOO_LONG');
    expect(v.received).toBe(payload.length);
    // Failure is sticky: finish cannot turn it into success.
    expect(codeOf(() => v.finish())).toBe('PAYLOAD_TOO_LONG');
  });

  it('refuses one oversize slice whole', () => {
    const v = new PayloadVerifier(manifest);
    expect(codeOf(() => v.update(new Uint8Array(payload.length + 1)))).toBe('PAYLOAD_TOO_LONG');
    expect(v.received).toBe(0);
  });

  it('refuses a short payload at finish', () => {
    const v = new PayloadVerifier(manifest);
    v.update(payload.subarray(0, 4096));
    expect(codeOf(() => v.finish())).toBe('PAYLOAD_TOO_SHORT');
  });
});

describe('verifyChunk', () => {
  it('accepts every chunk of the signed payload, including the short last one', () => {
    for (let i = 0; i < manifest.payload.chunks.length; i++) {
      expect(codeOf(() => verifyChunk(manifest, i, payload.subarray(i * 1024, (i + 1) * 1024)))).toBe('NO_ERROR');
    }
    expect(manifest.payload.chunks).toHaveLength(5);
  });

  it.each([
    ['index past the end', 5, () => payload.subarray(0, 1024), 'CHUNK_INDEX_INVALID'],
    ['negative index', -1, () => payload.subarray(0, 1024), 'CHUNK_INDEX_INVALID'],
    ['fractional index', 0.5, () => payload.subarray(0, 1024), 'CHUNK_INDEX_INVALID'],
    ['chunk one byte long', 0, () => payload.subarray(0, 1025), 'CHUNK_LENGTH_MISMATCH'],
    ['last chunk padded to full size', 4, () => new Uint8Array(1024), 'CHUNK_LENGTH_MISMATCH'],
    ['right length, wrong bytes', 1, () => payload.subarray(0, 1024), 'CHUNK_HASH_MISMATCH'],
  ] as const)('%s -> %s', (_name, index, bytes, code) => {
    expect(codeOf(() => verifyChunk(manifest, index, bytes()))).toBe(code);
  });
});

describe('chunkCount', () => {
  it('is exact ceil(size / chunkSize) even near 2^53', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }), fc.integer({ min: 1024, max: 16 * 1024 * 1024 }), (size, cs) => {
        const expected = (size + BigInt(cs) - 1n) / BigInt(cs);
        expect(chunkCount(Number(size), cs)).toBe(Number(expected));
      }),
      { numRuns: 200, seed: 9 },
    );
    expect(chunkCount(2 ** 53 - 1, 16 * 1024 * 1024)).toBe(2 ** 29);
  });
});

describe('PayloadVerifier after finish', () => {
  it('ignores an empty slice but refuses more bytes', () => {
    const v = new PayloadVerifier(manifest);
    v.update(payload);
    v.finish();
    v.update(new Uint8Array(0));
    v.finish();
    expect(codeOf(() => v.update(Uint8Array.of(1)))).toBe('PAYLOAD_TOO_LONG');
  });
});

describe('countVerifiedChunks', () => {
  const big = payloadOf(300_000, 3);
  const bigManifest = buildManifest(
    { product: 'p', version: '1.0.0', securityCounter: 0, compatibleHardware: ['hw'], expiresAt: new Date(NOW.getTime() + DAY), chunkSize: 16 * 1024 },
    big,
    NOW,
  );
  for (const [name, hasher] of [['inline', inlineChunkHasher], ['threaded', threadedChunkHasher]] as const) {
    it(`${name}: counts every chunk of a good run, the short last chunk included`, async () => {
      expect(await countVerifiedChunks(bigManifest, 0, big, hasher)).toBe(bigManifest.payload.chunks.length);
      expect(await countVerifiedChunks(bigManifest, 5, big.subarray(5 * 16 * 1024), hasher)).toBe(bigManifest.payload.chunks.length - 5);
    });

    it(`${name}: stops at the first chunk that does not match`, async () => {
      const bad = new Uint8Array(big);
      bad[7 * 16 * 1024 + 100] = (bad[7 * 16 * 1024 + 100] as number) ^ 1;
      bad[12 * 16 * 1024] = (bad[12 * 16 * 1024] as number) ^ 1;
      expect(await countVerifiedChunks(bigManifest, 0, bad, hasher)).toBe(7);
      expect(await countVerifiedChunks(bigManifest, 8, bad.subarray(8 * 16 * 1024), hasher)).toBe(4);
    });
  }

  it('refuses bytes that are not a run of whole chunks, and an index outside the list', async () => {
    const code = (p: Promise<unknown>) => p.then(() => 'NO_ERROR', (err: unknown) => (err instanceof ImageError ? err.code : 'OTHER'));
    expect(await code(countVerifiedChunks(manifest, 0, payload.subarray(0, 1500), inlineChunkHasher))).toBe('CHUNK_LENGTH_MISMATCH');
    expect(await code(countVerifiedChunks(manifest, 3, payload.subarray(3072, 3072 + 1124), inlineChunkHasher))).toBe('CHUNK_LENGTH_MISMATCH');
    expect(await code(countVerifiedChunks(manifest, 0, new Uint8Array(0), inlineChunkHasher))).toBe('CHUNK_LENGTH_MISMATCH');
    expect(await code(countVerifiedChunks(manifest, 5, payload.subarray(0, 1024), inlineChunkHasher))).toBe('CHUNK_INDEX_INVALID');
    expect(await code(countVerifiedChunks(manifest, 4, payload.subarray(4096), inlineChunkHasher))).toBe('NO_ERROR');
  });
});
