import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, sha256Hex } from './encoding.ts';
import { ImageError } from './errors.ts';
import { encodeBundleHeader, parseBundleHeader } from './bundle-header.ts';
import { createBundle, inspectBundle, signManifestBytes, verifyBundle, verifyManifest, type VerifyPolicy } from './bundle.ts';
import { buildManifest, encodeManifest, type Manifest, type ManifestInput } from './manifest.ts';
import type { RootSigned } from './root.ts';
import { canonicalJson } from './shape.ts';
import { DAY, key, NOW, payloadOf, signedHeaderFor, signedHeaderForText, trust, codeOf } from './test-fixtures.ts';

const t = trust({ imageKeys: 2, imageThreshold: 1 });
const t2 = trust({ imageKeys: 2, imageThreshold: 2 });
const policy: VerifyPolicy = { hardware: 'rpi4', minSecurityCounter: 5, now: NOW };
const input: ManifestInput = {
  product: 'thermostat',
  version: '2.1.0',
  securityCounter: 5,
  compatibleHardware: ['rpi4', 'qemu-aarch64'],
  createdAt: new Date(NOW.getTime() - DAY),
  expiresAt: new Date(NOW.getTime() + 30 * DAY),
  releaseNotes: 'fixes <script>alert(1)</script>',
  chunkSize: 4096,
};
const payload = payloadOf(10_000);
const bundle = createBundle(input, payload, [t.imageKeys[0]!.signer]);
const header = parseBundleHeader(bundle);
const manifest = verifyBundle(bundle, t.signed, policy).manifest;

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  out[at] = (out[at] ?? 0) ^ 0x01;
  return out;
}

/** Rebuilds the bundle with other signatures (same manifest and payload). */
function withSignatures(sigs: { keyid: string; sig: Uint8Array }[], manifestBytes = header.manifestBytes, body = payload): Uint8Array {
  return concatBytes(encodeBundleHeader({ manifestBytes, signatures: sigs }), body);
}

/** A manifest object for hand-made headers. */
function manifestObject(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...(JSON.parse(canonicalJson(manifest)) as Record<string, unknown>), ...over };
}

const sig0 = header.signatures[0]!;

// Each row: what an attacker (or accident) produces, and the refusal it must get.
const rows: { name: string; bundle: () => Uint8Array; root?: RootSigned; policy?: Partial<VerifyPolicy>; code: string }[] = [
  { name: 'untouched bundle', bundle: () => bundle, code: 'NO_ERROR' },
  { name: 'flipped payload byte', bundle: () => flip(bundle, header.headerLength + 5000), code: 'CHUNK_HASH_MISMATCH' },
  { name: 'flipped last payload byte', bundle: () => flip(bundle, bundle.length - 1), code: 'CHUNK_HASH_MISMATCH' },
  { name: 'flipped manifest byte', bundle: () => flip(bundle, 12 + 40), code: 'SIGNATURE_INVALID' },
  { name: 'flipped signature byte', bundle: () => flip(bundle, header.headerLength - 3), code: 'SIGNATURE_INVALID' },
  { name: 'signed by an unknown key', bundle: () => createBundle(input, payload, [key().signer]), code: 'UNKNOWN_KEY' },
  {
    name: 'signed by the server-role key',
    bundle: () => createBundle(input, payload, [t.serverKeys[0]!.signer]),
    code: 'KEY_NOT_AUTHORIZED',
  },
  { name: 'signed by a root-role key', bundle: () => createBundle(input, payload, [t.rootKeys[0]!.signer]), code: 'KEY_NOT_AUTHORIZED' },
  { name: 'same signature twice for threshold 2', bundle: () => withSignatures([sig0, sig0]), root: t2.signed, code: 'DUPLICATE_KEYID' },
  {
    name: 'one of two required signatures',
    bundle: () => createBundle(input, payload, [t2.imageKeys[0]!.signer]),
    root: t2.signed,
    code: 'THRESHOLD_NOT_MET',
  },
  {
    name: 'both required signatures',
    bundle: () => createBundle(input, payload, t2.imageKeys.map((k) => k.signer)),
    root: t2.signed,
    code: 'NO_ERROR',
  },
  {
    name: 'threshold 2: one valid plus one unknown key',
    bundle: () => createBundle(input, payload, [t2.imageKeys[0]!.signer, key().signer]),
    root: t2.signed,
    code: 'THRESHOLD_NOT_MET',
  },
  // TUF counting: signatures that do not count are ignored once the threshold is met.
  {
    name: 'valid images signature plus a stranger\'s',
    bundle: () => createBundle(input, payload, [key().signer, t.imageKeys[0]!.signer]),
    code: 'NO_ERROR',
  },
  {
    name: 'threshold 1: a broken signature by one images key, a valid one by the other',
    bundle: () => {
      const good = createBundle(input, payload, [t.imageKeys[1]!.signer]);
      return withSignatures([{ keyid: sig0.keyid, sig: flip(sig0.sig, 3) }, parseBundleHeader(good).signatures[0]!]);
    },
    code: 'NO_ERROR',
  },
  { name: 'no signatures', bundle: () => withSignatures([]), code: 'SIGNATURE_MISSING' },
  { name: '0-byte signature', bundle: () => withSignatures([{ keyid: sig0.keyid, sig: new Uint8Array(0) }]), code: 'SIGNATURE_MALFORMED' },
  { name: '63-byte signature', bundle: () => withSignatures([{ keyid: sig0.keyid, sig: sig0.sig.subarray(0, 63) }]), code: 'SIGNATURE_MALFORMED' },
  {
    name: '65-byte signature',
    bundle: () => withSignatures([{ keyid: sig0.keyid, sig: concatBytes(sig0.sig, Uint8Array.of(0)) }]),
    code: 'SIGNATURE_MALFORMED',
  },
  { name: 'short keyid', bundle: () => withSignatures([{ keyid: sig0.keyid.slice(2), sig: sig0.sig }]), code: 'SIGNATURE_MALFORMED' },
  { name: 'extra bytes after payload', bundle: () => concatBytes(bundle, Uint8Array.of(0)), code: 'PAYLOAD_TOO_LONG' },
  { name: 'payload one byte short', bundle: () => bundle.subarray(0, bundle.length - 1), code: 'PAYLOAD_TOO_SHORT' },
  { name: 'header only', bundle: () => bundle.subarray(0, header.headerLength), code: 'PAYLOAD_TOO_SHORT' },
  { name: 'truncated inside the header', bundle: () => bundle.subarray(0, header.headerLength - 1), code: 'BUNDLE_MALFORMED' },
  { name: 'bad magic', bundle: () => flip(bundle, 0), code: 'BUNDLE_MALFORMED' },
  { name: 'expired manifest', bundle: () => bundle, policy: { now: input.expiresAt }, code: 'MANIFEST_EXPIRED' },
  { name: 'wrong hardware', bundle: () => bundle, policy: { hardware: 'esp32' }, code: 'HARDWARE_INCOMPATIBLE' },
  { name: 'downgrade below the security counter', bundle: () => bundle, policy: { minSecurityCounter: 6 }, code: 'SECURITY_COUNTER_ROLLBACK' },
  { name: 'same security counter (reinstall)', bundle: () => bundle, policy: { minSecurityCounter: 5 }, code: 'NO_ERROR' },
  {
    name: 'validly signed non-canonical manifest',
    bundle: () => concatBytes(signedHeaderForText(JSON.stringify(manifestObject(), null, 1), [t.imageKeys[0]!.signer]), payload),
    code: 'MANIFEST_NOT_CANONICAL',
  },
  {
    name: 'validly signed manifest with duplicate key',
    bundle: () =>
      concatBytes(
        signedHeaderForText(canonicalJson(manifestObject()).replace('{', '{"product":"x",'), [t.imageKeys[0]!.signer]),
        payload,
      ),
    code: 'MANIFEST_NOT_CANONICAL',
  },
  {
    name: 'validly signed manifest with an unknown field',
    bundle: () => concatBytes(signedHeaderFor(manifestObject({ installHook: 'rm -rf /' }), [t.imageKeys[0]!.signer]), payload),
    code: 'MANIFEST_MALFORMED',
  },
  {
    name: 'validly signed non-JSON manifest',
    bundle: () => concatBytes(signedHeaderForText('{"formatVersion":1', [t.imageKeys[0]!.signer]), payload),
    code: 'MANIFEST_MALFORMED',
  },
  {
    name: 'non-JSON manifest with a bad signature (never reaches the parser)',
    bundle: () => withSignatures([sig0], new TextEncoder().encode('{"formatVersion":1')),
    code: 'SIGNATURE_INVALID',
  },
  {
    name: 'validly signed formatVersion 2',
    bundle: () => concatBytes(signedHeaderFor(manifestObject({ formatVersion: 2 }), [t.imageKeys[0]!.signer]), payload),
    code: 'FORMAT_UNSUPPORTED',
  },
  {
    name: 'chunk hashes right but whole-payload hash wrong',
    bundle: () =>
      concatBytes(
        signedHeaderFor(manifestObject({ payload: { ...manifest.payload, sha256: sha256Hex(Uint8Array.of(1)) } }), [t.imageKeys[0]!.signer]),
        payload,
      ),
    code: 'PAYLOAD_HASH_MISMATCH',
  },
  {
    name: 'payload swapped for another validly sized one',
    bundle: () => concatBytes(bundle.subarray(0, header.headerLength), payloadOf(10_000, 99)),
    code: 'CHUNK_HASH_MISMATCH',
  },
];

describe('verifyBundle refusal matrix', () => {
  it.each(rows)('$name -> $code', (row) => {
    expect(codeOf(() => verifyBundle(row.bundle(), row.root ?? t.signed, { ...policy, ...row.policy }))).toBe(row.code);
  });
});

describe('bundles', () => {
  it('returns exactly the signed manifest and payload', () => {
    const out = verifyBundle(bundle, t.signed, policy);
    expect(out.payload).toEqual(payload);
    expect(out.manifest).toMatchObject({
      product: 'thermostat',
      version: '2.1.0',
      compatibleHardware: ['rpi4', 'qemu-aarch64'],
      releaseNotes: input.releaseNotes,
      payload: { size: 10_000, chunkSize: 4096, sha256: sha256Hex(payload) },
    });
    expect(out.manifest.payload.chunks).toHaveLength(3);
  });

  it('starts with the documented layout', () => {
    expect(new TextDecoder().decode(bundle.subarray(0, 8))).toBe('UNIOTAB1');
    const len = new DataView(bundle.buffer, bundle.byteOffset).getUint32(8, false);
    expect(new TextDecoder().decode(bundle.subarray(12, 12 + len))).toBe(canonicalJson(manifest));
    expect(bundle[12 + len]).toBe(1);
    expect(bundle[13 + len]).toBe(64);
    expect(bundle.length).toBe(header.headerLength + payload.length);
  });

  it('handles an empty payload', () => {
    const b = createBundle(input, new Uint8Array(0), [t.imageKeys[0]!.signer]);
    const out = verifyBundle(b, t.signed, policy);
    expect(out.manifest.payload).toMatchObject({ size: 0, chunks: [], sha256: sha256Hex(new Uint8Array(0)) });
  });

  it('refuses to create an unsigned bundle', () => {
    expect(codeOf(() => createBundle(input, payload, []))).toBe('SIGNATURE_MISSING');
  });

  it('inspect shows the claimed manifest and signatures without verifying', () => {
    const tampered = flip(bundle, 12 + 40);
    const info = inspectBundle(tampered);
    expect(info.payloadLength).toBe(payload.length);
    expect(info.signatures).toEqual([{ keyid: t.imageKeys[0]!.keyid, sigLength: 64 }]);
    expect(typeof info.manifest).toBe('object');
    const junk = withSignatures([], new TextEncoder().encode('not json'));
    expect(inspectBundle(junk).manifest).toBe('not json');
  });
});

describe('parseBundleHeader on prefixes', () => {
  it('asks for more bytes at every cut inside the header, then parses', () => {
    const full = withSignatures([sig0, { keyid: t.imageKeys[1]!.keyid, sig: new Uint8Array(64) }]);
    const h = parseBundleHeader(full);
    for (let n = 0; n < h.headerLength; n++) {
      let err: unknown;
      try {
        parseBundleHeader(full.subarray(0, n));
      } catch (e) {
        err = e;
      }
      expect(err, `prefix ${n}`).toBeInstanceOf(ImageError);
      const e = err as ImageError;
      expect(e.code).toBe('NEED_MORE_BYTES');
      expect(e.transient).toBe(true);
      expect(e.needed).toBeGreaterThan(n);
      expect(e.needed).toBeLessThanOrEqual(h.headerLength);
    }
    expect(parseBundleHeader(full.subarray(0, h.headerLength)).signatures).toHaveLength(2);
  });

  it('refuses a wrong magic as soon as the first byte differs', () => {
    expect(codeOf(() => parseBundleHeader(Uint8Array.of(0x50)))).toBe('BUNDLE_MALFORMED');
  });

  it.each([0, 4 * 1024 * 1024 + 1, 0xffffffff])('refuses manifest length %i', (len) => {
    const b = bundle.slice(0, 64);
    new DataView(b.buffer).setUint32(8, len, false);
    expect(codeOf(() => parseBundleHeader(b))).toBe('BUNDLE_MALFORMED');
  });

  it('refuses a keyid that is not lowercase hex', () => {
    const b = withSignatures([sig0]);
    const at = 12 + header.manifestBytes.length + 2;
    b[at] = 0x41; // 'A'
    expect(codeOf(() => parseBundleHeader(b))).toBe('BUNDLE_MALFORMED');
  });
});

describe('payloads over 4 GiB (declared; never allocated)', () => {
  const size = 5 * 1024 ** 3 + 1;
  const chunkSize = 16 * 1024 * 1024;
  const lastChunk = Uint8Array.of(0xab);
  const chunks = Array.from({ length: 321 }, (_, i) => sha256Hex(Uint8Array.of(i & 0xff, i >> 8)));
  chunks[320] = sha256Hex(lastChunk);
  const big: Manifest = {
    ...manifest,
    payload: { size, sha256: sha256Hex(Uint8Array.of(0)), chunkSize, chunks },
  };

  it('signs, parses and verifies a manifest of 5 GiB + 1 byte', () => {
    const h = parseBundleHeader(signedHeaderFor(big, [t.imageKeys[0]!.signer]));
    const m = verifyManifest(h, t.signed, policy);
    expect(m.payload.size).toBe(size);
    expect(m.payload.size).toBeGreaterThan(2 ** 32);
  });

  it('refuses a >4 GiB size with the wrong chunk count', () => {
    const wrong = { ...big, payload: { ...big.payload, chunks: chunks.slice(0, 320) } };
    const h = parseBundleHeader(signedHeaderFor(wrong, [t.imageKeys[0]!.signer]));
    expect(codeOf(() => verifyManifest(h, t.signed, policy))).toBe('MANIFEST_MALFORMED');
  });

  it('a bundle with only its header is PAYLOAD_TOO_SHORT, not a wrapped or truncated size', () => {
    const b = signedHeaderFor(big, [t.imageKeys[0]!.signer]);
    expect(codeOf(() => verifyBundle(b, t.signed, policy))).toBe('PAYLOAD_TOO_SHORT');
  });

  it('encodes back to the same canonical bytes', () => {
    expect(new TextDecoder().decode(encodeManifest(big))).toContain(`"size":${size}`);
  });
});

describe('signManifestBytes', () => {
  it('produces the signatures createBundle embeds', () => {
    const m = buildManifest(input, payload);
    const bytes = encodeManifest(m);
    const sigs = signManifestBytes(bytes, [t.imageKeys[0]!.signer]);
    expect(sigs[0]!.sig).toEqual(header.signatures[0]!.sig);
  });
});

describe('no single-byte change or truncation verifies', () => {
  it('any flipped bit anywhere in the bundle is refused with an ImageError', () => {
    fc.assert(
      fc.property(fc.nat({ max: bundle.length - 1 }), fc.integer({ min: 0, max: 7 }), (at, bit) => {
        const b = bundle.slice();
        b[at] = (b[at] ?? 0) ^ (1 << bit);
        expect(codeOf(() => verifyBundle(b, t.signed, policy))).not.toBe('NO_ERROR');
      }),
      { numRuns: 300, seed: 11 },
    );
  });

  it('every header byte flipped, and every truncation point, is refused', () => {
    for (let at = 0; at < header.headerLength; at++) {
      expect(codeOf(() => verifyBundle(flip(bundle, at), t.signed, policy)), `flip ${at}`).not.toBe('NO_ERROR');
    }
    for (let n = 0; n < bundle.length; n += 97) {
      expect(codeOf(() => verifyBundle(bundle.subarray(0, n), t.signed, policy)), `cut ${n}`).not.toBe('NO_ERROR');
    }
  });
});
