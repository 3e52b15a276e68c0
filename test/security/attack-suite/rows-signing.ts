/**
 * Signing attacks: bundles whose signatures or bytes do not add up. Each
 * crafted bundle is first uploaded through the API (the server refuses it
 * and audits the refusal), then its header is slipped into a real offer by
 * the attacker in the middle, who holds the online key but no image key:
 * the device refuses it too and the server records the device's code.
 */
import { signManifestBytes } from '@uniota/image';
import type { Harness, SuiteBundle, SuiteDevice } from './harness.ts';
import { joinBundle, reheader } from './harness.ts';
import { bothLayers, campaignUnderAttack, uploadRefused } from './moves.ts';
import type { AttackRow, Observed } from './runner.ts';

type Sig = { keyid: string; sig: Uint8Array };

/** A row whose whole attack is a rewritten header over the signed payload. */
function headerRow(attack: string, expected: string, craft: (h: Harness, legit: SuiteBundle) => Uint8Array): AttackRow {
  return {
    cls: 'signing',
    attack,
    expected,
    mount: async (h: Harness, dev: SuiteDevice): Promise<Observed> => {
      const legit = h.freshUpdate();
      const header = craft(h, legit);
      return bothLayers(h, dev, joinBundle(header, legit.payload), legit, header);
    },
  };
}

/** Replaces the header's signatures. */
const withSigs = (h: Harness, legit: SuiteBundle, sigs: (mine: Sig[], manifest: Uint8Array) => Sig[]) =>
  reheader(legit.header, (x) => ({ manifestBytes: x.manifestBytes, signatures: sigs(x.signatures, x.manifestBytes) }));

/** One image key's signature, cut or padded to `n` bytes. */
const resized = (s: Sig, n: number): Sig => ({ keyid: s.keyid, sig: Uint8Array.from({ length: n }, (_, i) => s.sig[i] ?? 0) });

/** A chunk-stream row: the payload is altered on the wire (and, for the API layer, in the uploaded bundle). */
function payloadRow(attack: string, expected: string, bundleBytes: (legit: SuiteBundle) => Uint8Array, frame: (index: number, data: Uint8Array, last: number) => Uint8Array): AttackRow {
  return {
    cls: 'signing',
    attack,
    expected,
    mount: async (h, dev) => {
      const legit = h.freshUpdate();
      const api = await uploadRefused(h, bundleBytes(legit));
      const last = Math.ceil(legit.payload.length / 2048) - 1;
      const device = await campaignUnderAttack(h, dev, { legit, chunk: (f) => [{ ...f, data: frame(f.index, f.data, last) }] });
      return {
        code: device.code,
        how: `API upload ${api.http} (${api.code}); the same change made to the chunk stream: device kept refusing the chunk, action ${device.state}`,
        recorded: [{ in: 'audit', code: api.code }, { in: 'events', code: device.code }],
      };
    },
  };
}

const flipped = (bytes: Uint8Array, at: number) => {
  const c = Uint8Array.from(bytes);
  c[at] = (c[at] ?? 0) ^ 0x01;
  return c;
};

export const signingRows: AttackRow[] = [
  headerRow('one flipped manifest byte', 'SIGNATURE_INVALID', (_h, legit) =>
    reheader(legit.header, (x) => ({ manifestBytes: flipped(x.manifestBytes, Math.floor(x.manifestBytes.length / 2)), signatures: x.signatures })),
  ),
  payloadRow('one flipped payload byte', 'CHUNK_VERIFY_FAILED', (legit) => joinBundle(legit.header, flipped(legit.payload, 5000)), (i, d) => (i === 2 ? flipped(d, 100) : d)),
  headerRow('signed only by a key the root does not know', 'UNKNOWN_KEY', (h, legit) => withSigs(h, legit, (_mine, m) => signManifestBytes(m, [h.trust.strangerSigner]))),
  headerRow('one image key plus an unknown key, for threshold 2', 'THRESHOLD_NOT_MET', (h, legit) =>
    withSigs(h, legit, (mine, m) => [mine[0] as Sig, ...signManifestBytes(m, [h.trust.strangerSigner])]),
  ),
  headerRow('one image signature listed twice to reach threshold 2', 'DUPLICATE_KEYID', (h, legit) => withSigs(h, legit, (mine) => [mine[0] as Sig, mine[0] as Sig])),
  headerRow('no signatures at all (threshold 0)', 'SIGNATURE_MISSING', (h, legit) => withSigs(h, legit, () => [])),
  headerRow('0-byte signature', 'SIGNATURE_MALFORMED', (h, legit) => withSigs(h, legit, (mine) => [resized(mine[0] as Sig, 0), mine[1] as Sig])),
  headerRow('63-byte signature', 'SIGNATURE_MALFORMED', (h, legit) => withSigs(h, legit, (mine) => [resized(mine[0] as Sig, 63), mine[1] as Sig])),
  headerRow('65-byte signature', 'SIGNATURE_MALFORMED', (h, legit) => withSigs(h, legit, (mine) => [resized(mine[0] as Sig, 65), mine[1] as Sig])),
  payloadRow(
    'payload longer than declared',
    'CHUNK_VERIFY_FAILED',
    (legit) => joinBundle(legit.header, Uint8Array.from(Buffer.concat([legit.payload, Buffer.from('extra')]))),
    (i, d, last) => (i === last ? Uint8Array.from(Buffer.concat([d, Buffer.from('extra')])) : d),
  ),
  payloadRow(
    'payload shorter than declared',
    'CHUNK_VERIFY_FAILED',
    (legit) => joinBundle(legit.header, legit.payload.subarray(0, legit.payload.length - 1)),
    (i, d, last) => (i === last ? d.subarray(0, d.length - 1) : d),
  ),
  {
    cls: 'signing',
    attack: 'extra chunk not covered by the manifest',
    expected: 'OFFER_MISMATCH',
    mount: async (h, dev) => {
      const legit = h.freshUpdate();
      const extra = new Uint8Array(2048).fill(0xcc);
      const api = await uploadRefused(h, joinBundle(legit.header, Uint8Array.from(Buffer.concat([legit.payload, extra]))));
      // The offer announces one more chunk (re-signed with the online key) and the attacker serves it.
      const device = await campaignUnderAttack(h, dev, {
        legit,
        offer: (body) => ({ body: { ...body, chunkCount: body.chunkCount + 1, payloadSize: body.payloadSize + extra.length } }),
      });
      return {
        code: device.code,
        how: `API upload ${api.http} (${api.code}); an offer announcing ${legit.payload.length / 2048 + 1} chunks for an ${legit.payload.length / 2048}-chunk manifest: refused before any chunk was requested, action ${device.state}`,
        recorded: [{ in: 'audit', code: api.code }, { in: 'events', code: device.code }],
      };
    },
  },
];
