/**
 * Signature and payload verification throughput of @uniota/image.
 *
 *   npx tsx bench/image.bench.ts
 *
 * Measures ed25519 verify/s with node:crypto (the device and server hot path)
 * against the portable @noble implementation, full verifyManifest calls/s
 * (threshold check + parse + canonical check + field validation), and
 * PayloadVerifier MiB/s (whole + per-chunk sha256). Env: UNIOTA_BENCH_MS
 * (time per measurement, default 1000), UNIOTA_BENCH_PAYLOAD_MIB (default 64).
 */
import {
  createBundle,
  createRoot,
  generateKeyPair,
  parseBundleHeader,
  PayloadVerifier,
  portableEd25519,
  seedFromPem,
  signerFromPem,
  verifyBundle,
  verifyEd25519,
  verifyManifest,
} from '../packages/image/src/index.ts';

const MS = Number(process.env.UNIOTA_BENCH_MS ?? 1000);
const PAYLOAD_MIB = Number(process.env.UNIOTA_BENCH_PAYLOAD_MIB ?? 64);

function rate(label: string, unit: string, fn: () => number): void {
  fn(); // warm-up
  const start = performance.now();
  let done = 0;
  while (performance.now() - start < MS) done += fn();
  const perSec = done / ((performance.now() - start) / 1000);
  process.stdout.write(`${label.padEnd(44)} ${perSec.toFixed(perSec < 100 ? 1 : 0).padStart(10)} ${unit}\n`);
}

const k = generateKeyPair();
const signer = signerFromPem(k.privateKeyPem);
const seed = seedFromPem(k.privateKeyPem);
const msg = new Uint8Array(512).fill(1);
const sig = signer.sign(msg);

rate('ed25519 verify, node:crypto', 'verify/s', () => (verifyEd25519(k.publicKeyRaw, msg, sig) ? 1 : 0));
rate('ed25519 verify, @noble (portable)', 'verify/s', () => (portableEd25519.verify(sig, msg, k.publicKeyRaw) ? 1 : 0));
rate('ed25519 sign, node:crypto', 'sign/s', () => (signer.sign(msg).length === 64 ? 1 : 0));

const other = generateKeyPair();
const root = createRoot({
  version: 1,
  expiresAt: new Date(Date.now() + 86_400_000),
  root: { keys: [other.publicKeyRaw], threshold: 1 },
  images: { keys: [k.publicKeyRaw], threshold: 1 },
  server: { keys: [generateKeyPair().publicKeyRaw], threshold: 1 },
});
const payload = new Uint8Array(PAYLOAD_MIB * 1024 * 1024).fill(0x42);
const bundle = createBundle(
  { product: 'bench', version: '1.0.0', securityCounter: 1, compatibleHardware: ['hw'], expiresAt: new Date(Date.now() + 86_400_000) },
  payload,
  [signer],
);
const header = parseBundleHeader(bundle);
const policy = { hardware: 'hw', minSecurityCounter: 0, now: new Date() };
const manifest = verifyManifest(header, root, policy);
process.stdout.write(`(manifest of ${header.manifestBytes.length} bytes, ${manifest.payload.chunks.length} chunks of ${manifest.payload.chunkSize})\n`);
rate(`verifyManifest (${PAYLOAD_MIB} MiB image)`, 'manifests/s', () => (verifyManifest(header, root, policy) ? 1 : 0));
rate('PayloadVerifier, 1 MiB slices', 'MiB/s', () => {
  const v = new PayloadVerifier(manifest);
  for (let off = 0; off < payload.length; off += 1024 * 1024) v.update(payload.subarray(off, off + 1024 * 1024));
  v.finish();
  return PAYLOAD_MIB;
});
rate('verifyBundle (whole, in memory)', 'MiB/s', () => (verifyBundle(bundle, root, policy) ? PAYLOAD_MIB : 0));
