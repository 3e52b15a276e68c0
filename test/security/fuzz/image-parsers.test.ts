/**
 * Fuzzing of the parsers in @uniota/image that read attacker-supplied bytes:
 * the bundle (header + payload), the manifest, the trust root and the slot
 * trailer. 100,000 inputs per target from fixed seeds. Every input must end
 * in a value or an ImageError with a documented code; nothing it was given
 * (input bytes, trusted root, slot contents) may change; no forged input may
 * verify; and nothing may pollute Object.prototype.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import {
  decodeSlotTrailer,
  encodeBundleHeader,
  encodeSlotTrailer,
  parseBundleHeader,
  parseRootDocument,
  signManifestBytes,
  signRoot,
  updateTrustedRoot,
  validateManifest,
  verifyBundle,
  verifyManifest,
  verifyRoot,
  verifySlot,
} from '@uniota/image';
import type { RootDocument, RootSigned } from '@uniota/image';
import { TEST_HARDWARE, TEST_NOW, makeBundle, makeTrust } from '../../helpers/fixtures.ts';
import { base64Mutant, byteMutant, jsonMutant, rawBytes, rawText, split, valueMutant } from './arbitraries.ts';
import { classifyError, fuzzAsync, fuzzSync } from './harness.ts';
import type { Verdict } from './harness.ts';
import { documentedImageError, prototypePollution } from './checks.ts';

/** Inputs per target; UNIOTA_FUZZ_INPUTS lowers it for a quick local run, CI uses the default. */
const INPUTS = Number(process.env.UNIOTA_FUZZ_INPUTS ?? 100_000);
/** Each target's budget (it takes a fraction of this on an idle 2-core machine). */
const TIMEOUT_MS = 900_000;
const trust = makeTrust();
const root: RootSigned = trust.root;
const rootJson = JSON.stringify(root);
const policy = { hardware: TEST_HARDWARE, minSecurityCounter: 1, now: TEST_NOW };
// Small (two chunks): the parsers, not the hashing of a large payload, are under test.
const bundle = makeBundle(trust, { version: '2.0.0', behaviour: 'ok', securityCounter: 2, size: 2 * 1024, chunkSize: 1024 });
const header = parseBundleHeader(bundle);
const headerBytes = Buffer.from(bundle.subarray(0, header.headerLength));
const payload = Buffer.from(bundle.subarray(header.headerLength));
const manifestText = Buffer.from(header.manifestBytes).toString('utf8');
const manifestValue = JSON.parse(manifestText) as Record<string, unknown>;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The generic judgement: documented error or value; the trusted root untouched; no pollution. */
function judge(run: () => string): Verdict {
  let v: Verdict;
  try {
    v = { ok: true, outcome: run() };
  } catch (err) {
    v = classifyError(err, documentedImageError);
  }
  if (!v.ok) return v;
  if (JSON.stringify(root) !== rootJson) return { ok: false, kind: 'state-change', detail: 'the trusted root object changed' };
  const polluted = prototypePollution();
  return polluted === null ? v : { ok: false, kind: 'state-change', detail: polluted };
}

/** A header whose manifest bytes are replaced, with the given signatures. */
function withManifest(manifestBytes: Uint8Array, sign: 'images' | 'server' | 'keep'): Buffer {
  const sigs = sign === 'keep' ? header.signatures : signManifestBytes(manifestBytes, [sign === 'images' ? trust.imageSigner : trust.serverSigner]);
  return Buffer.from(encodeBundleHeader({ manifestBytes, signatures: sigs }));
}

describe('fuzz: image parsers', () => {
  it('bundle: 100,000 raw, mutated and re-signed bundles; only the untouched bundle verifies', () => {
    const [raw, flips, headerOnly, online, unsigned] = split(INPUTS, 5) as [number, number, number, number, number];
    const bundleSha = sha(bundle);
    const totals = fuzzSync<{ bytes: Buffer; forged: boolean }>(
      'bundle',
      0xb0d1e,
      [
        { name: 'raw bytes', runs: raw, arb: fc.oneof(rawBytes(4096), rawBytes(64).map((b) => Buffer.concat([Buffer.from('UNIOTAB1'), b]))).map((bytes) => ({ bytes, forged: true })) },
        { name: 'mutated bundle', runs: flips, arb: byteMutant(bundle).map((bytes) => ({ bytes, forged: true })) },
        { name: 'mutated header, intact payload', runs: headerOnly, arb: byteMutant(headerBytes).map((h) => ({ bytes: Buffer.concat([h, payload]), forged: true })) },
        // The online server key signing a changed manifest: must never be enough.
        { name: 'manifest re-signed by the server key', runs: online, arb: jsonMutant(manifestValue).filter((m) => m.length > 0).map((m) => ({ bytes: Buffer.concat([withManifest(m, 'server'), payload]), forged: true })) },
        { name: 'mutated manifest, old signature', runs: unsigned, arb: jsonMutant(manifestValue).filter((m) => m.length > 0).map((m) => ({ bytes: Buffer.concat([withManifest(m, 'keep'), payload]), forged: true })) },
      ],
      ({ bytes, forged }) => {
        const before = sha(bytes);
        const v = judge(() => {
          verifyBundle(bytes, root, policy);
          return 'accepted';
        });
        if (!v.ok) return v;
        if (sha(bytes) !== before) return { ok: false, kind: 'state-change', detail: 'the input bytes were modified' };
        if (v.outcome === 'accepted' && forged && sha(bytes) !== bundleSha) return { ok: false, kind: 'crash', detail: 'a forged bundle verified' };
        return v;
      },
    );
    expect(totals.inputs).toBe(INPUTS);
    expect(totals.outcomes.get('accepted') ?? 0).toBe(0);
  }, TIMEOUT_MS);

  it('manifest: 100,000 mutated manifest values and images-signed mutated manifest bytes', () => {
    const [values, json, signed] = split(INPUTS, 3) as [number, number, number];
    const totals = fuzzSync<{ kind: 'value'; value: unknown } | { kind: 'bytes'; bytes: Buffer }>(
      'manifest',
      0x3a41f,
      [
        { name: 'mutated manifest object', runs: values, arb: valueMutant(manifestValue).map((value) => ({ kind: 'value' as const, value })) },
        { name: 'any JSON value', runs: json, arb: fc.jsonValue({ maxDepth: 4 }).map((value) => ({ kind: 'value' as const, value })) },
        // Signed by the real images key, so the bytes get past the signature
        // check into the canonical-JSON and field validation: the code a
        // leaked image key (or a bug in the build pipeline) would reach.
        { name: 'images-signed mutated manifest bytes', runs: signed, arb: fc.oneof(jsonMutant(manifestValue), rawText(300)).filter((m) => m.length > 0).map((bytes) => ({ kind: 'bytes' as const, bytes })) },
      ],
      (input) => {
        if (input.kind === 'value') {
          const before = JSON.stringify(input.value);
          const v = judge(() => {
            const m = validateManifest(input.value);
            // What validates must validate again unchanged (no field silently dropped or coerced twice).
            expect(validateManifest(structuredClone(m))).toEqual(m);
            return 'valid';
          });
          if (v.ok && JSON.stringify(input.value) !== before) return { ok: false, kind: 'state-change', detail: 'validateManifest modified its input' };
          return v;
        }
        const h = parseBundleHeader(withManifest(input.bytes, 'images'));
        return judge(() => {
          const m = verifyManifest(h, root, { ...policy, checkExpiry: false });
          // Accepted bytes are exactly the canonical encoding of what was accepted.
          expect(JSON.parse(Buffer.from(h.manifestBytes).toString('utf8'))).toEqual(JSON.parse(JSON.stringify(m)));
          return 'valid';
        });
      },
    );
    expect(totals.inputs).toBe(INPUTS);
  }, TIMEOUT_MS);

  it('root: 100,000 raw, mutated and root-signed mutated root documents against a trusted root', () => {
    const trustedText = JSON.stringify(trust.rootDoc);
    const [raw, text, signed, sigs] = split(INPUTS, 4) as [number, number, number, number];
    const signedMutant = valueMutant(trust.rootDoc.signed).map((s) => {
      try {
        return Buffer.from(JSON.stringify(signRoot(s as RootSigned, [trust.rootSigner])));
      } catch {
        // signRoot refuses what it cannot canonicalize; hand the parser the unsigned mutant then.
        return Buffer.from(JSON.stringify({ signed: s, signatures: trust.rootDoc.signatures }));
      }
    });
    const sigMutant = fc
      .tuple(base64Mutant(trust.rootDoc.signatures[0]?.sig ?? ''), fc.constantFrom(trust.rootDoc.signatures[0]?.keyid ?? '', trust.serverSigner.keyid, 'zz', ''))
      .map(([sig, keyid]) => Buffer.from(JSON.stringify({ ...trust.rootDoc, signatures: [{ keyid, sig }, { keyid, sig }] })));
    const totals = fuzzSync<Buffer>(
      'root',
      0x7007,
      [
        { name: 'raw text', runs: raw, arb: rawText(512) },
        { name: 'mutated root document', runs: text, arb: jsonMutant(trust.rootDoc) },
        { name: 'root-signed mutated root', runs: signed, arb: signedMutant },
        { name: 'mutated signatures', runs: sigs, arb: sigMutant },
      ],
      (bytes) => {
        const v = judge(() => {
          const doc: RootDocument = parseRootDocument(bytes.toString('utf8'));
          verifyRoot(doc, TEST_NOW);
          updateTrustedRoot(trust.rootDoc, [doc], TEST_NOW);
          return 'rotated';
        });
        if (v.ok && JSON.stringify(trust.rootDoc) !== trustedText) return { ok: false, kind: 'state-change', detail: 'the trusted root document changed' };
        // Only version 2 signed by the current root key can rotate; a mutant with
        // version 2 and a changed body is a legitimate rotation by the root key.
        if (v.ok && v.outcome === 'rotated') {
          const doc = JSON.parse(bytes.toString('utf8')) as RootDocument;
          if (doc.signed.version !== trust.rootDoc.signed.version + 1) return { ok: false, kind: 'crash', detail: `rotation to version ${doc.signed.version} accepted` };
        }
        return v;
      },
    );
    expect(totals.inputs).toBe(INPUTS);
  }, TIMEOUT_MS);

  it('trailer: 100,000 raw and mutated slot trailers and payloads; only the untouched slot verifies', async () => {
    const trailerSize = 4096;
    const slotSize = 16 * 1024;
    const trailer = Buffer.from(encodeSlotTrailer(headerBytes, trailerSize));
    const slotOf = (p: Uint8Array, t: Uint8Array): Buffer => {
      const s = Buffer.alloc(slotSize);
      Buffer.from(p).copy(s, 0, 0, Math.min(p.length, slotSize - trailerSize));
      Buffer.from(t).copy(s, slotSize - trailerSize, 0, Math.min(t.length, trailerSize));
      return s;
    };
    const good = slotOf(payload, trailer);
    const [raw, mutated, mutatedHeader, mutatedPayload] = split(INPUTS, 4) as [number, number, number, number];
    const totals = await fuzzAsync<Buffer>(
      'trailer',
      0x7a11,
      [
        { name: 'raw trailer bytes', runs: raw, arb: fc.oneof(rawBytes(trailerSize), rawBytes(64).map((b) => Buffer.concat([Buffer.from('UNIOTAT1'), b]))).map((t) => slotOf(payload, t)) },
        { name: 'mutated trailer', runs: mutated, arb: byteMutant(trailer.subarray(0, headerBytes.length + 64)).map((t) => slotOf(payload, t)) },
        { name: 'valid prefix, mutated header', runs: mutatedHeader, arb: byteMutant(headerBytes).map((h) => slotOf(payload, Buffer.concat([trailer.subarray(0, 12), h]))) },
        { name: 'mutated payload', runs: mutatedPayload, arb: byteMutant(payload, { extend: false }).map((p) => slotOf(p, trailer)) },
      ],
      async (slot) => {
        const before = sha(slot);
        let writes = 0;
        const storage = {
          size: slot.length,
          read: async (offset: number, length: number) => Buffer.from(slot.subarray(offset, offset + length)),
          write: async () => void (writes += 1),
          flush: async () => void (writes += 1),
        };
        let v: Verdict;
        try {
          decodeSlotTrailer(slot.subarray(slotSize - trailerSize));
          await verifySlot(storage, trailerSize, root, { ...policy, minSecurityCounter: 0, checkExpiry: false });
          v = { ok: true, outcome: 'verified' };
        } catch (err) {
          v = classifyError(err, documentedImageError);
        }
        if (!v.ok) return v;
        if (writes > 0 || sha(slot) !== before) return { ok: false, kind: 'state-change', detail: 'verifying a slot wrote to it' };
        if (v.outcome === 'verified' && !slot.equals(good)) {
          // Bytes after the header inside the trailer are padding; anything else must match.
          const same = slot.subarray(0, slotSize - trailerSize).equals(good.subarray(0, slotSize - trailerSize)) && decodeSlotTrailer(slot.subarray(slotSize - trailerSize)) !== null;
          if (!same) return { ok: false, kind: 'crash', detail: 'a slot with a changed payload verified' };
        }
        const polluted = prototypePollution();
        return polluted === null ? v : { ok: false, kind: 'state-change', detail: polluted };
      },
    );
    expect(totals.inputs).toBe(INPUTS);
  }, TIMEOUT_MS);
});
