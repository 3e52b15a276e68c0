/**
 * First-start material for `uniota up`: a trust root with separate root,
 * image-signing and server keys, a factory image for the simulated fleet and
 * two update images (one healthy, one that fails its health check) ready to
 * roll out from the console.
 *
 * The keys live in <dataDir>/keys. On a real deployment the root and image
 * keys stay offline and only server.key sits with the server; the demo keeps
 * them together so one command shows the whole system, and says so.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBundle, createRoot, generateKeyPair, parseRootDocument, publicKeyRawFromPem, signRoot, signerFromPem, verifyRoot } from '@uniota/image';
import type { RootSigned } from '@uniota/image';
import { makeSimImage } from '@uniota/bootloader-sim';
import type { SimBehaviour } from '@uniota/bootloader-sim';

export const DEMO_HARDWARE = 'sim-board-1';

export interface DemoData {
  root: RootSigned;
  factoryBundle: Uint8Array;
  updates: Array<{ file: string; bundle: Uint8Array; label: string }>;
  created: boolean;
}

function writeKey(dir: string, name: string): string {
  const k = generateKeyPair();
  writeFileSync(join(dir, `${name}.key`), k.privateKeyPem, { mode: 0o600 });
  writeFileSync(join(dir, `${name}.pub`), k.publicKeyPem);
  return k.privateKeyPem;
}

/** Creates (first start) or loads the demo trust material and images in `dataDir`. */
export function ensureDemoData(dataDir: string, now = new Date()): DemoData {
  const keys = join(dataDir, 'keys');
  const imagesDir = join(dataDir, 'demo-images');
  const rootPath = join(dataDir, 'root.json');
  let created = false;
  if (!existsSync(rootPath)) {
    created = true;
    mkdirSync(keys, { recursive: true });
    mkdirSync(imagesDir, { recursive: true });
    const rootPem = writeKey(keys, 'root');
    const imagesPem = writeKey(keys, 'images');
    const serverPem = writeKey(keys, 'server');
    writeFileSync(join(dataDir, 'server.key'), serverPem, { mode: 0o600 });
    const pub = publicKeyRawFromPem;
    const signed = createRoot({
      version: 1,
      expiresAt: new Date(now.getTime() + 365 * 86400_000),
      root: { keys: [pub(rootPem)], threshold: 1 },
      images: { keys: [pub(imagesPem)], threshold: 1 },
      server: { keys: [pub(serverPem)], threshold: 1 },
    });
    writeFileSync(rootPath, JSON.stringify(signRoot(signed, [signerFromPem(rootPem)]), null, 2));
    const signer = signerFromPem(imagesPem);
    const make = (version: string, behaviour: SimBehaviour, securityCounter: number, notes: string) =>
      createBundle(
        { product: 'demo-unikernel', version, securityCounter, compatibleHardware: [DEMO_HARDWARE], expiresAt: new Date(now.getTime() + 90 * 86400_000), releaseNotes: notes, chunkSize: 16 * 1024 },
        makeSimImage({ version, behaviour }, 256 * 1024),
        [signer],
      );
    writeFileSync(join(imagesDir, 'factory-1.0.0.uni'), make('1.0.0', 'ok', 1, 'Factory image.'));
    writeFileSync(join(imagesDir, 'update-2.0.0.uni'), make('2.0.0', 'ok', 2, 'A healthy update: devices commit it.'));
    writeFileSync(join(imagesDir, 'update-2.1.0-unhealthy.uni'), make('2.1.0', 'unhealthy', 3, 'Fails its health check on boot: the canary rolls back and the campaign pauses itself.'));
  }
  const root = verifyRoot(parseRootDocument(readFileSync(rootPath, 'utf8')), now);
  const read = (f: string) => new Uint8Array(readFileSync(join(imagesDir, f)));
  return {
    root,
    created,
    factoryBundle: read('factory-1.0.0.uni'),
    updates: [
      { file: join(imagesDir, 'update-2.0.0.uni'), bundle: read('update-2.0.0.uni'), label: '2.0.0 (healthy)' },
      { file: join(imagesDir, 'update-2.1.0-unhealthy.uni'), bundle: read('update-2.1.0-unhealthy.uni'), label: '2.1.0 (fails health check)' },
    ],
  };
}
