import { createRoot, generateKeyPair, signerFromPem } from '@uniota/image';
import { describe, expect, it } from 'vitest';
import { CommandGuard, signCommand, type CommandFields } from './command-envelope.ts';
import { serverKeysFromRoot, type CommandSigner } from './command-signature.ts';
import type { CommandEnvelope } from './schemas.ts';

function keyPair(): { signer: CommandSigner; publicRaw: Uint8Array } {
  const k = generateKeyPair();
  return { signer: signerFromPem(k.privateKeyPem), publicRaw: k.publicKeyRaw };
}

const server = keyPair();
const other = keyPair();
const imagesKey = keyPair();
const rootKey = keyPair();
const root = createRoot({
  version: 1,
  expiresAt: new Date('2040-01-01T00:00:00Z'),
  root: { keys: [rootKey.publicRaw], threshold: 1 },
  images: { keys: [imagesKey.publicRaw], threshold: 1 },
  server: { keys: [server.publicRaw], threshold: 1 },
});
const NOW = 1_700_000_000_000;

const offer = {
  type: 'offer' as const,
  campaignId: 'camp-1',
  imageId: 'img-1',
  header: Buffer.from('signed header bytes').toString('base64'),
  payloadSize: 1024,
  chunkSize: 512,
  chunkCount: 2,
  transfer: 'fanout' as const,
  downloadOnly: false,
  maintenanceWindow: null,
};

function fields(over: Partial<CommandFields> = {}): CommandFields {
  return { deviceId: 'dev-1', actionId: 'act-1', seq: 5, nonce: 'n0nce-0123456789ab', expiresAt: NOW + 60_000, body: offer, ...over };
}

function guard(now = NOW, lastSeq = 0) {
  return new CommandGuard({ deviceId: 'dev-1', serverKey: serverKeysFromRoot(root), now: () => now, state: { lastSeq } });
}

describe('command envelope', () => {
  it('a signed, fresh command for this device is accepted and advances the seq only on accept()', () => {
    const g = guard();
    const env = signCommand(fields(), server.signer);
    const r = g.check(env);
    expect(r.ok).toBe(true);
    expect(g.state()).toEqual({ lastSeq: 0 }); // check alone changes nothing
    if (r.ok) {
      expect(r.envelope.body).toEqual(offer);
      g.accept(r.state);
    }
    expect(g.state()).toEqual({ lastSeq: 5 });
  });

  it('survives a JSON round trip (what travels over MQTT)', () => {
    const env = JSON.parse(JSON.stringify(signCommand(fields(), server.signer))) as unknown;
    expect(guard().check(env).ok).toBe(true);
  });

  const cases: Array<[string, () => { env: unknown; g: CommandGuard }, string]> = [
    ['replayed (same seq after accept)', () => {
      const g = guard();
      const env = signCommand(fields(), server.signer);
      const r = g.check(env);
      if (r.ok) g.accept(r.state);
      return { env, g };
    }, 'replayed'],
    ['replayed (older seq, persisted state)', () => ({ env: signCommand(fields({ seq: 4 }), server.signer), g: guard(NOW, 4) }), 'replayed'],
    ['foreign device', () => ({ env: signCommand(fields({ deviceId: 'dev-2' }), server.signer), g: guard() }), 'foreign'],
    ['expired', () => ({ env: signCommand(fields({ expiresAt: NOW }), server.signer), g: guard() }), 'expired'],
    ['key not in trusted root', () => ({ env: signCommand(fields(), other.signer), g: guard() }), 'unknown-key'],
    ['an images-role key (offline key, not a server key)', () => ({ env: signCommand(fields(), imagesKey.signer), g: guard() }), 'unknown-key'],
    ['a root-role key', () => ({ env: signCommand(fields(), rootKey.signer), g: guard() }), 'unknown-key'],
    ['signed by another key under the server keyid', () => ({ env: signCommand(fields(), { keyid: server.signer.keyid, sign: other.signer.sign }), g: guard() }), 'bad-signature'],
    ['body tampered after signing', () => {
      const env = signCommand(fields(), server.signer);
      return { env: { ...env, body: { ...offer, imageId: 'evil' } } satisfies CommandEnvelope, g: guard() };
    }, 'bad-signature'],
    ['seq raised after signing', () => {
      const env = signCommand(fields(), server.signer);
      return { env: { ...env, seq: 99 }, g: guard() };
    }, 'bad-signature'],
    ['expiry extended after signing', () => {
      const env = signCommand(fields({ expiresAt: NOW - 1 }), server.signer);
      return { env: { ...env, expiresAt: NOW + 1e9 }, g: guard() };
    }, 'bad-signature'],
    ['not an envelope', () => ({ env: { hello: 1 }, g: guard() }), 'malformed'],
    ['signature of wrong length', () => {
      const env = signCommand(fields(), server.signer);
      return { env: { ...env, sig: Buffer.alloc(63).toString('base64').padEnd(86, 'A') }, g: guard() };
    }, 'bad-signature'],
  ];

  it.each(cases)('rejects: %s', (_name, make, reason) => {
    const { env, g } = make();
    const before = g.state();
    const r = g.check(env);
    expect(r.ok ? 'accepted' : r.reason).toBe(reason);
    expect(g.state()).toEqual(before);
  });

  it('a command signed for another context (different prefix) does not verify', () => {
    // Sign the same bytes but without the command context: must fail.
    const raw: CommandSigner = { keyid: server.signer.keyid, sign: (m) => server.signer.sign(m.subarray('uniota-command-v1\0'.length)) };
    expect(guard().check(signCommand(fields(), raw))).toMatchObject({ ok: false, reason: 'bad-signature' });
  });
});
