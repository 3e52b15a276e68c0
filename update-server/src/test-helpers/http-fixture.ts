import { createBundle, createRoot, generateKeyPair, signerFromPem, signRoot, type RootDocument, type Signer } from '@uniota/image';
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { Role } from '../auth/roles.ts';
import { createServerApp, type ServerApp } from '../app.ts';
import { openDb } from '../db/open.ts';
import { build } from '../http/build.ts';
import { memoryBlobStore } from '../images/blob-store.ts';
import { rootBundleVerifier } from '../images/bundle-verifier.ts';
import { FakeClock, FakeGateway } from './fixtures.ts';

const DAY = 86_400_000;

/** A trust root with one root key and one images key (fresh per call). */
export function trustSetup(now: number): { root: RootDocument; imagesSigner: Signer; otherSigner: Signer; serverKeyPem: string } {
  const rootKey = generateKeyPair();
  const imagesKey = generateKeyPair();
  const serverKey = generateKeyPair();
  const signed = createRoot({
    version: 1,
    expiresAt: new Date(now + 365 * DAY),
    root: { keys: [rootKey.publicKeyRaw], threshold: 1 },
    images: { keys: [imagesKey.publicKeyRaw], threshold: 1 },
    server: { keys: [serverKey.publicKeyRaw], threshold: 1 },
  });
  return {
    root: signRoot(signed, [signerFromPem(rootKey.privateKeyPem)]),
    imagesSigner: signerFromPem(imagesKey.privateKeyPem),
    otherSigner: signerFromPem(generateKeyPair().privateKeyPem),
    serverKeyPem: serverKey.privateKeyPem,
  };
}

/** A signed bundle for `board-a` with a small payload. */
export function makeBundle(signer: Signer, now: number, version = '2.0.0', seed = 7): Uint8Array {
  const payload = new Uint8Array(4096).map((_, i) => (i * seed) & 0xff);
  return createBundle(
    { product: 'demo', version, securityCounter: 1, compatibleHardware: ['board-a'], createdAt: new Date(now), expiresAt: new Date(now + 30 * DAY) },
    payload,
    [signer],
  );
}

/** A KDF cost low enough for tests (production uses defaultPasswordCost). */
export const testPasswordCost = { N: 1024, r: 8, p: 1 };

/** Makes an API token of `role` for requests in tests. */
export function tokenFor(f: FastifyInstance & { auth: import('../auth/auth-service.ts').AuthService }, role: Role, name = `test-${role}`): string {
  return f.auth.tokens.create({ name, role, createdBy: 'test' }).secret;
}

/**
 * App + fastify instance over an in-memory database and a real trust root.
 * Requests made with `f.inject({...})` carry an admin API token unless they
 * set their own Authorization header (or `authorization: ''` for none), so
 * tests about other rules run authenticated while the guard stays fully on.
 */
export async function httpFixture(devices = 0, opts: { devSigner?: 'imagesSigner' | 'otherSigner' } = {}): Promise<{
  f: FastifyInstance & { auth: import('../auth/auth-service.ts').AuthService }; app: ServerApp; adminToken: string; clock: FakeClock; gateway: FakeGateway; trust: ReturnType<typeof trustSetup>;
}> {
  const clock = new FakeClock();
  const gateway = new FakeGateway();
  const trust = trustSetup(clock.now());
  const app = createServerApp({
    db: openDb({ path: ':memory:' }),
    gateway,
    blobs: memoryBlobStore(),
    verifyImage: rootBundleVerifier(trust.root, () => new Date(clock.now())),
    clock: clock.now,
    ...(opts.devSigner !== undefined ? { devSigner: trust[opts.devSigner] } : {}),
  });
  for (let i = 0; i < devices; i++) {
    app.engine.deviceHello({ deviceId: `dev-${String(i).padStart(3, '0')}`, hardware: 'board-a', tags: i < 2 ? ['lab'] : [], currentVersion: '1.0.0' });
  }
  const f = await build({ app, logger: false, sseKeepAliveMs: 60_000, auth: { passwordCost: testPasswordCost } });
  const adminToken = tokenFor(f, 'admin', 'fixture-admin');
  const inject = f.inject.bind(f) as (o: InjectOptions) => ReturnType<FastifyInstance['inject']>;
  (f as { inject: unknown }).inject = (o: InjectOptions) => {
    const headers = { ...(o.headers ?? {}) } as Record<string, string>;
    if (!('authorization' in headers)) headers['authorization'] = `Bearer ${adminToken}`;
    if (headers['authorization'] === '') delete headers['authorization'];
    return inject({ ...o, headers });
  };
  return { f, app, clock, gateway, trust, adminToken };
}
