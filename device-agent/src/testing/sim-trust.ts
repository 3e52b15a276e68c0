/**
 * Test trust for simulated devices: a root with one key per role, valid for a
 * day from `now`, and sim-board-1 bundles signed by its images key. For the
 * agent's unit tests; cross-package tests use test/helpers/fixtures.ts.
 */
import { createBundle, createRoot, generateKeyPair, signerFromPem } from '@uniota/image';
import type { RootSigned } from '@uniota/image';
import { makeSimImage } from '@uniota/bootloader-sim';

export interface SimTrust {
  root: RootSigned;
  /** A signed bundle of a simulated image that boots and passes its health check. */
  bundle(version: string, securityCounter: number, payloadSize: number): Uint8Array;
}

export function simTrust(now: Date): SimTrust {
  const keys = { root: generateKeyPair(), images: generateKeyPair(), server: generateKeyPair() };
  const expiresAt = new Date(now.getTime() + 86400_000);
  const root = createRoot({
    version: 1,
    expiresAt,
    root: { keys: [keys.root.publicKeyRaw], threshold: 1 },
    images: { keys: [keys.images.publicKeyRaw], threshold: 1 },
    server: { keys: [keys.server.publicKeyRaw], threshold: 1 },
  });
  const signer = signerFromPem(keys.images.privateKeyPem);
  return {
    root,
    bundle: (version, securityCounter, payloadSize) =>
      createBundle(
        { product: 'p', version, securityCounter, compatibleHardware: ['sim-board-1'], createdAt: now, expiresAt, chunkSize: 4096 },
        makeSimImage({ version, behaviour: 'ok' }, payloadSize),
        [signer],
      ),
  };
}
