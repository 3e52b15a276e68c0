/**
 * Shared test fixtures: a trust root with separate root / image / server keys,
 * and signed bundles of simulated unikernel images.
 */
import { createBundle, createRoot, generateKeyPair, parseBundleHeader, signRoot, signerFromPem } from '@uniota/image';
import type { RootDocument, RootSigned, Signer } from '@uniota/image';
import { makeSimImage } from '@uniota/bootloader-sim';
import type { SimBehaviour } from '@uniota/bootloader-sim';
import { BundleImageSource } from '@uniota/device-agent';
import type { UpdateOffer } from '@uniota/device-agent';

/** The fixed "now" of deterministic tests. */
export const TEST_NOW = new Date('2026-11-26T12:00:00Z');
export const TEST_HARDWARE = 'sim-board-1';

export interface TrustFixture {
  rootDoc: RootDocument;
  root: RootSigned;
  imageSigner: Signer;
  serverSigner: Signer;
  /** PEM of the server-role key (what the update server loads to sign commands). */
  serverKeyPem: string;
  rootSigner: Signer;
}

/** A one-key-per-role trust root, valid for a year from TEST_NOW. */
export function makeTrust(): TrustFixture {
  const rootKey = generateKeyPair();
  const imageKey = generateKeyPair();
  const serverKey = generateKeyPair();
  const signed = createRoot({
    version: 1,
    expiresAt: new Date(TEST_NOW.getTime() + 365 * 86400_000),
    root: { keys: [rootKey.publicKeyRaw], threshold: 1 },
    images: { keys: [imageKey.publicKeyRaw], threshold: 1 },
    server: { keys: [serverKey.publicKeyRaw], threshold: 1 },
  });
  const rootSigner = signerFromPem(rootKey.privateKeyPem);
  const rootDoc = signRoot(signed, [rootSigner]);
  return { rootDoc, root: signed, imageSigner: signerFromPem(imageKey.privateKeyPem), serverSigner: signerFromPem(serverKey.privateKeyPem), serverKeyPem: serverKey.privateKeyPem, rootSigner };
}

export interface ImageSpec {
  version: string;
  behaviour: SimBehaviour;
  securityCounter?: number;
  size?: number;
  chunkSize?: number;
  hardware?: string;
}

/** A signed bundle of a simulated image. */
export function makeBundle(trust: TrustFixture, spec: ImageSpec): Uint8Array {
  const payload = makeSimImage({ version: spec.version, behaviour: spec.behaviour }, spec.size ?? 16 * 1024);
  return createBundle(
    {
      product: 'uniota-test-unikernel',
      version: spec.version,
      securityCounter: spec.securityCounter ?? 1,
      compatibleHardware: [spec.hardware ?? TEST_HARDWARE],
      createdAt: TEST_NOW,
      expiresAt: new Date(TEST_NOW.getTime() + 30 * 86400_000),
      chunkSize: spec.chunkSize ?? 2048,
    },
    payload,
    [trust.imageSigner],
  );
}

/** An offer plus the image source serving its chunks, as a server would send them. */
export function offerFor(actionId: string, bundle: Uint8Array, opts: { downloadOnly?: boolean } = {}): { offer: UpdateOffer; entry: [string, { payloadOffset: number; payloadSize: number; chunkSize: number; bytes: Uint8Array }] } {
  const header = parseBundleHeader(bundle);
  const manifest = JSON.parse(new TextDecoder().decode(header.manifestBytes)) as { payload: { size: number; chunkSize: number } };
  return {
    offer: { actionId, campaignId: 'c-test', header: bundle.subarray(0, header.headerLength), downloadOnly: opts.downloadOnly ?? false },
    entry: [actionId, { payloadOffset: header.headerLength, payloadSize: manifest.payload.size, chunkSize: manifest.payload.chunkSize, bytes: bundle }],
  };
}

/** An image source serving the given offers' bundles. */
export function sourceFor(entries: ReturnType<typeof offerFor>[]): BundleImageSource {
  return new BundleImageSource(new Map(entries.map((e) => e.entry)));
}
