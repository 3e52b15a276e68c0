/**
 * Everything a run needs, built once in the main thread and sent to workers as
 * plain data: the device's trust root, the base image in slot A, the user's
 * image and the derived hostile images (wrong signature, downgrade).
 *
 * Generated images are signed by throwaway keys that are ADDED to a copy of
 * the user's images role (same threshold). The user's image verifies under
 * that copy exactly when it verifies under the user's root, because the
 * throwaway keys never sign it; the wrong-signature image is signed by yet
 * another key that neither root knows.
 */
import { makeSimImage, parseSimImage } from '@uniota/bootloader-sim';
import type { SimBehaviour } from '@uniota/bootloader-sim';
import {
  createBundle,
  encodeBundleHeader,
  generateKeyPair,
  keyIdOf,
  parseBundleHeader,
  signManifestBytes,
  signerFromPem,
  validateRootSigned,
  verifyBundle,
  verifyManifest,
  verifyRoot,
} from '@uniota/image';
import type { Manifest, RootDocument, RootSigned, Signer } from '@uniota/image';
import { FaultTestError } from './errors.ts';

/** Where an image's in-process behaviour comes from. */
export type BehaviourSource = 'simulated payload' | 'scenario' | 'qemu' | 'generated';

/** One image the device may meet. */
export interface ImageInput {
  bundle: Uint8Array;
  version: string;
  securityCounter: number;
  payloadSha256: string;
  /** The behaviour carried in a simulated payload, or measured under QEMU; null: the scenario says. */
  behaviour: SimBehaviour | null;
  behaviourSource: BehaviourSource;
}

/** Plain data (structured-cloneable) shared by the main thread and the workers. */
export interface FaultTestInputs {
  root: RootSigned;
  hardware: string;
  now: Date;
  image: ImageInput;
  /** The image in slot A before the update: the user's deployed one or a generated factory image. */
  base: ImageInput;
  baseIsGenerated: boolean;
  /** The user's manifest signed by a key no root trusts. */
  wrongSignature: Uint8Array;
  /** A valid image with a lower security counter than the user's, or null when the counter is 0. */
  downgrade: ImageInput | null;
  slotSize: number;
  trailerSize: number;
}

const DAY_MS = 86_400_000;
const FACTORY_VERSION = '0.0.0-uniota-factory';
const DOWNGRADE_VERSION = '0.0.1-uniota-downgrade';

/** The versions of the generated images (factory, downgrade): their payloads print them in their banner. */
export const GENERATED_VERSIONS = { factory: FACTORY_VERSION, downgrade: DOWNGRADE_VERSION } as const;

function describeImage(bundle: Uint8Array, manifest: Manifest, source: BehaviourSource | null): ImageInput {
  const header = parseBundleHeader(bundle);
  const sim = parseSimImage(bundle.subarray(header.headerLength, header.headerLength + Math.min(512, manifest.payload.size)));
  return {
    bundle,
    version: manifest.version,
    securityCounter: manifest.securityCounter,
    payloadSha256: manifest.payload.sha256,
    behaviour: sim?.behaviour ?? null,
    behaviourSource: sim !== null ? 'simulated payload' : (source ?? 'scenario'),
  };
}

function invalid(what: string, err: unknown): never {
  throw new FaultTestError('INPUT_INVALID', `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Verifies the user's inputs as a device would and builds the derived images. */
export function prepareInputs(opts: {
  image: Uint8Array;
  deployed?: Uint8Array;
  rootDocument: RootDocument;
  hardware: string;
  now: Date;
  /**
   * Healthy bootable payloads for the generated images (the QEMU tiers boot
   * them for real); default simulated payloads, which only the in-process tier runs.
   */
  generatedPayloads?: { factory: Uint8Array; downgrade: Uint8Array };
}): FaultTestInputs {
  const { now, hardware } = opts;
  // Plain copies: a Buffer (readFileSync) would become a Uint8Array in the workers anyway.
  const userBundle = new Uint8Array(opts.image);
  const deployedBundle = opts.deployed === undefined ? undefined : new Uint8Array(opts.deployed);
  let userRoot: RootSigned;
  try {
    userRoot = verifyRoot(opts.rootDocument, now);
  } catch (err) {
    invalid('trust root', err);
  }
  let manifest: Manifest;
  try {
    manifest = verifyBundle(userBundle, userRoot, { hardware, minSecurityCounter: 0, now }).manifest;
  } catch (err) {
    invalid(`image does not verify for hardware ${hardware}`, err);
  }
  let deployedManifest: Manifest | null = null;
  if (deployedBundle !== undefined) {
    try {
      // An installed image must keep booting after its install deadline: no expiry check.
      deployedManifest = verifyBundle(deployedBundle, userRoot, { hardware, minSecurityCounter: 0, now, checkExpiry: false }).manifest;
    } catch (err) {
      invalid(`deployed image does not verify for hardware ${hardware}`, err);
    }
  }

  const threshold = userRoot.roles.images.threshold;
  const throwaway: Signer[] = [];
  const keys = { ...userRoot.keys };
  const keyids = [...userRoot.roles.images.keyids];
  for (let i = 0; i < threshold; i++) {
    const k = generateKeyPair();
    const id = keyIdOf(k.publicKeyRaw);
    keys[id] = { scheme: 'ed25519', public: Buffer.from(k.publicKeyRaw).toString('base64') };
    keyids.push(id);
    throwaway.push(signerFromPem(k.privateKeyPem));
  }
  const root = validateRootSigned({ ...userRoot, keys, roles: { ...userRoot.roles, images: { keyids, threshold } } });

  const generated = opts.generatedPayloads;
  const simBundle = (version: string, securityCounter: number): Uint8Array =>
    createBundle(
      { product: 'uniota-fault-test', version, securityCounter, compatibleHardware: [hardware], createdAt: now, expiresAt: new Date(now.getTime() + 30 * DAY_MS), chunkSize: 2048 },
      generated === undefined ? makeSimImage({ version, behaviour: 'ok' }, 16 * 1024) : version === FACTORY_VERSION ? generated.factory : generated.downgrade,
      throwaway,
    );
  const checked = (bundle: Uint8Array): Manifest => verifyManifest(parseBundleHeader(bundle), root, { hardware, minSecurityCounter: 0, now });
  // A generated bootable payload is built healthy: it behaves 'ok' by construction.
  const describeGenerated = (bundle: Uint8Array): ImageInput => {
    const d = describeImage(bundle, checked(bundle), null);
    return generated === undefined ? d : { ...d, behaviour: 'ok', behaviourSource: 'generated' };
  };

  const image = describeImage(userBundle, manifest, null);
  let base: ImageInput;
  if (deployedBundle !== undefined && deployedManifest !== null) base = describeImage(deployedBundle, deployedManifest, null);
  else {
    base = describeGenerated(simBundle(FACTORY_VERSION, 0));
  }
  let downgrade: ImageInput | null = null;
  if (manifest.securityCounter > 0) {
    downgrade = describeGenerated(simBundle(DOWNGRADE_VERSION, manifest.securityCounter - 1));
  }

  const header = parseBundleHeader(userBundle);
  const stranger = signerFromPem(generateKeyPair().privateKeyPem);
  const wrongHeader = encodeBundleHeader({ manifestBytes: header.manifestBytes, signatures: signManifestBytes(header.manifestBytes, [stranger]) });
  const wrongSignature = new Uint8Array(wrongHeader.length + manifest.payload.size);
  wrongSignature.set(wrongHeader, 0);
  wrongSignature.set(userBundle.subarray(header.headerLength, header.headerLength + manifest.payload.size), wrongHeader.length);

  // Slots sized to the largest image; the trailer holds the largest signed header.
  const headers = [userBundle, base.bundle, wrongSignature].map((b) => parseBundleHeader(b).headerLength);
  const trailerSize = Math.max(16 * 1024, roundUp(Math.max(...headers) + 4096, 4096));
  const payloads = [manifest.payload.size, deployedManifest?.payload.size ?? 0, 16 * 1024, generated?.factory.length ?? 0, generated?.downgrade.length ?? 0];
  const slotSize = Math.max(1024 * 1024, roundUp(Math.max(...payloads) + trailerSize, 64 * 1024));
  return { root, hardware, now, image, base, baseIsGenerated: opts.deployed === undefined, wrongSignature, downgrade, slotSize, trailerSize };
}
