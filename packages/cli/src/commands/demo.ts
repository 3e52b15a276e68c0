import type { Command } from 'commander';
import { createBundle, createRoot, generateKeyPair, parseBundleHeader, signRoot, signerFromPem } from '@uniota/image';
import { makeSimImage } from '@uniota/bootloader-sim';
import type { SimBehaviour } from '@uniota/bootloader-sim';
import { BundleImageSource, RecordingTransport, SimDevice, provisionSimDisk, smallDeviceSpec } from '@uniota/device-agent';
import type { JournalState, UpdateOffer } from '@uniota/device-agent';

const HARDWARE = 'sim-board-1';

/** `uniota demo`: the whole device-side story on one simulated device, each step printed. */
export function register(program: Command): void {
  program
    .command('demo')
    .description('local demo: make keys, sign images, update a simulated device (commit), then a bad image (rollback)')
    .action(async () => {
      const out = (line: string) => process.stdout.write(`${line}\n`);
      const now = new Date();
      out('1. keys: an offline root key, an offline image-signing key and the online server key');
      const [rootKey, imageKey, serverKey] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
      out(`   root ${rootKey.keyid.slice(0, 16)}…  images ${imageKey.keyid.slice(0, 16)}…  server ${serverKey.keyid.slice(0, 16)}…`);
      const rootSigned = createRoot({
        version: 1,
        expiresAt: new Date(now.getTime() + 365 * 86400_000),
        root: { keys: [rootKey.publicKeyRaw], threshold: 1 },
        images: { keys: [imageKey.publicKeyRaw], threshold: 1 },
        server: { keys: [serverKey.publicKeyRaw], threshold: 1 },
      });
      signRoot(rootSigned, [signerFromPem(rootKey.privateKeyPem)]);
      out('2. trust root v1 signed by the root key (threshold 1 per role)');
      const imageSigner = signerFromPem(imageKey.privateKeyPem);
      const bundle = (version: string, behaviour: SimBehaviour, securityCounter: number) =>
        createBundle(
          { product: 'demo-unikernel', version, securityCounter, compatibleHardware: [HARDWARE], expiresAt: new Date(now.getTime() + 30 * 86400_000), chunkSize: 4096 },
          makeSimImage({ version, behaviour }, 64 * 1024),
          [imageSigner],
        );
      const spec = smallDeviceSpec(rootSigned, HARDWARE);
      const { disk, layout } = await provisionSimDisk(spec, bundle('1.0.0', 'ok', 1));
      const device = new SimDevice(disk, spec, layout);
      out(`3. simulated device provisioned: GPT disk of ${layout.diskSize} bytes, factory image 1.0.0 in slot A`);

      const updates: Array<{ id: string; bytes: Uint8Array; label: string }> = [
        { id: 'demo-1', bytes: bundle('2.0.0', 'ok', 2), label: '2.0.0 (healthy)' },
        { id: 'demo-2', bytes: bundle('3.0.0', 'unhealthy', 3), label: '3.0.0 (fails its health check)' },
      ];
      const bundles = new Map(
        updates.map((u) => {
          const h = parseBundleHeader(u.bytes);
          return [u.id, { payloadOffset: h.headerLength, payloadSize: u.bytes.length - h.headerLength, chunkSize: 4096, bytes: u.bytes }] as const;
        }),
      );
      let step = 4;
      for (const u of updates) {
        out(`${step++}. offering ${u.label}`);
        const transport = new RecordingTransport((r) => {
          if (r.step !== 'downloading') out(`   report: ${r.step}${r.code ? ` ${r.code}` : ''}${r.reason ? ` (${r.reason})` : ''}`);
        });
        const h = parseBundleHeader(u.bytes);
        let offered = false;
        const offer: UpdateOffer = { actionId: u.id, campaignId: null, header: u.bytes.subarray(0, h.headerLength), downloadOnly: false };
        const result = await device.powerOn({
          transport,
          source: new BundleImageSource(bundles),
          nextOffer: (_s: JournalState) => (offered ? null : ((offered = true), offer)),
          log: (line) => {
            if (line.startsWith('boot ')) out(`   ${line}`);
          },
        });
        if (result.kind !== 'settled') {
          out(`   device did not settle: ${result.kind}`);
          process.exitCode = 1;
          return;
        }
        out(`   device runs ${result.version} from slot ${result.slot}; anti-rollback floor ${result.state.minSecurityCounter}`);
      }
      out('done: the healthy image was committed, the unhealthy one rolled back to the last good image.');
    });
}
