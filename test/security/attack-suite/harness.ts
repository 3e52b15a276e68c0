/**
 * The world every attack row runs in: a real update server (startServer,
 * SQLite in a temp dir) on its own mosquitto, the devices on a second
 * mosquitto, and the attacker's relay as the only path between the two.
 * Each row gets a fresh simulated device (its own disk, in-process
 * bootloader and the real agent service) so one row cannot mask another.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBundle, createRoot, encodeBundleHeader, generateKeyPair, parseBundleHeader, signRoot, signerFromPem } from '@uniota/image';
import type { RootDocument, RootSigned, Signer } from '@uniota/image';
import { UBootEnvStore } from '@uniota/boot-control';
import { makeSimImage } from '@uniota/bootloader-sim';
import { NetworkedSimDevice, SimDevice, provisionSimDisk, smallDeviceSpec } from '@uniota/device-agent';
import type { AgentServiceOptions } from '@uniota/device-agent';
import { startEmbeddedBroker } from '@uniota/protocol';
import { loadConfig, startServer } from '@uniota/update-server';
import type { AuthService, RunningServer } from '@uniota/update-server';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto.ts';
import { until } from '../../helpers/until.ts';
import { MitmRelay } from './mitm-relay.ts';

export const HARDWARE = 'sim-board-1';
/** The factory image's anti-rollback counter: a validly signed image below it is a downgrade. */
export const FACTORY_COUNTER = 5;
const NOW = Date.now();

/**
 * The suite's trust root: two offline image keys with threshold 2 (so a
 * signature listed twice is a real threshold attack), one server key (the
 * online key the attacker has stolen), one root key.
 */
export interface SuiteTrust {
  rootDoc: RootDocument;
  root: RootSigned;
  imageSigners: [Signer, Signer];
  serverSigner: Signer;
  serverKeyPem: string;
  /** A well-formed key no role of the root lists. */
  strangerSigner: Signer;
  /** The offline root key (signs root rotations; see root-moves.ts). */
  rootSigner: Signer;
}

function makeSuiteTrust(): SuiteTrust {
  const k = () => generateKeyPair();
  const [rootKey, img1, img2, server, stranger] = [k(), k(), k(), k(), k()];
  const signed = createRoot({
    version: 1,
    expiresAt: new Date(NOW + 365 * 86_400_000),
    root: { keys: [rootKey.publicKeyRaw], threshold: 1 },
    images: { keys: [img1.publicKeyRaw, img2.publicKeyRaw], threshold: 2 },
    server: { keys: [server.publicKeyRaw], threshold: 1 },
  });
  return {
    rootDoc: signRoot(signed, [signerFromPem(rootKey.privateKeyPem)]),
    root: signed,
    imageSigners: [signerFromPem(img1.privateKeyPem), signerFromPem(img2.privateKeyPem)],
    serverSigner: signerFromPem(server.privateKeyPem),
    serverKeyPem: server.privateKeyPem,
    strangerSigner: signerFromPem(stranger.privateKeyPem),
    rootSigner: signerFromPem(rootKey.privateKeyPem),
  };
}

/** What an image is; every field has a sane default. */
export interface ImageSpec {
  version: string;
  securityCounter?: number;
  hardware?: string;
  size?: number;
  chunkSize?: number;
  /** Manifest expiry relative to now (negative: already expired). */
  expiresInMs?: number;
  signers?: Signer[];
}

/** A bundle, split the way the wire carries it. */
export interface SuiteBundle {
  version: string;
  bytes: Uint8Array;
  header: Uint8Array;
  payload: Uint8Array;
}

/** Splits a bundle into header and payload. */
export function split(bytes: Uint8Array): SuiteBundle {
  const h = parseBundleHeader(bytes);
  const version = (JSON.parse(new TextDecoder().decode(h.manifestBytes)) as { version: string }).version;
  return { version, bytes, header: bytes.subarray(0, h.headerLength), payload: bytes.subarray(h.headerLength) };
}

/** Joins a (possibly crafted) header and a payload into a bundle. */
export function joinBundle(header: Uint8Array, payload: Uint8Array): Uint8Array {
  return Uint8Array.from(Buffer.concat([header, payload]));
}

/** Re-encodes a header with other signatures or manifest bytes. */
export function reheader(header: Uint8Array, change: (h: ReturnType<typeof parseBundleHeader>) => Parameters<typeof encodeBundleHeader>[0]): Uint8Array {
  return encodeBundleHeader(change(parseBundleHeader(header)));
}

/** A device of the suite: the networked sim device plus read access to its disk. */
export interface SuiteDevice {
  id: string;
  net: NetworkedSimDevice;
  /** The boot env's variables as U-Boot would read them. */
  env(): Promise<Record<string, string>>;
  /** Slot B's bytes (the inactive slot of a factory device). */
  slotB(): Promise<Uint8Array>;
}

/** Which broker the devices (and the attacker) use; the server always talks to mosquitto. */
export type DeviceBrokerKind = 'mosquitto' | 'embedded';

/** The running world. */
export class Harness {
  readonly trust = makeSuiteTrust();
  server!: RunningServer;
  relay!: MitmRelay;
  operatorToken = '';
  viewerToken = '';
  private serverBroker!: Mosquitto;
  private deviceBroker!: { url: string; protocolVersion: 4 | 5; stop(): Promise<void> };

  constructor(readonly deviceBrokerKind: DeviceBrokerKind = 'mosquitto') {}
  private dir = '';
  private devices: SuiteDevice[] = [];
  private versions = 0;
  private factory: Uint8Array | null = null;

  /** Starts both brokers, the server and the relay. */
  async start(): Promise<void> {
    this.serverBroker = await startMosquitto();
    if (this.deviceBrokerKind === 'mosquitto') {
      this.deviceBroker = await startMosquitto();
    } else {
      const b = await startEmbeddedBroker({ port: 0 });
      this.deviceBroker = { url: b.url, protocolVersion: b.protocolVersion, stop: () => b.close() };
    }
    this.dir = mkdtempSync(join(tmpdir(), 'uniota-attacks-'));
    writeFileSync(join(this.dir, 'root.json'), JSON.stringify(this.trust.rootDoc));
    writeFileSync(join(this.dir, 'server.key'), this.trust.serverKeyPem);
    this.server = await startServer(
      loadConfig({}, { dataDir: this.dir, port: 0, brokerUrl: this.serverBroker.url, tickMs: 50, logLevel: 'silent', transferMode: 'unicast' }),
    );
    this.relay = await MitmRelay.start(this.serverBroker.url, this.deviceBroker);
    // startServer's instance carries the auth service build() attached (typed as a plain FastifyInstance there).
    const tokens = (this.server.http as unknown as { auth: AuthService }).auth.tokens;
    this.operatorToken = tokens.create({ name: 'suite-operator', role: 'operator', createdBy: 'attack-suite' }).secret;
    this.viewerToken = tokens.create({ name: 'suite-viewer', role: 'viewer', createdBy: 'attack-suite' }).secret;
  }

  /** Stops every device, the relay, the server and both brokers. */
  async stop(): Promise<void> {
    for (const d of this.devices) await d.net.powerOff().catch(() => undefined);
    await this.relay?.stop().catch(() => undefined);
    await this.server?.close().catch(() => undefined);
    await Promise.all([this.serverBroker?.stop(), this.deviceBroker?.stop()]);
    if (this.dir !== '') rmSync(this.dir, { recursive: true, force: true });
  }

  /** A validly signed bundle (both image keys unless `signers` says otherwise). */
  bundle(spec: ImageSpec): SuiteBundle {
    const payload = makeSimImage({ version: spec.version, behaviour: 'ok' }, spec.size ?? 16 * 1024);
    const bytes = createBundle(
      {
        product: 'uniota-attack-suite',
        version: spec.version,
        securityCounter: spec.securityCounter ?? FACTORY_COUNTER + 1,
        compatibleHardware: [spec.hardware ?? HARDWARE],
        createdAt: new Date(NOW - 86_400_000),
        expiresAt: new Date(NOW + (spec.expiresInMs ?? 30 * 86_400_000)),
        chunkSize: spec.chunkSize ?? 2048,
      },
      payload,
      spec.signers ?? this.trust.imageSigners,
    );
    return split(bytes);
  }

  /** A fresh legitimate update (unique version, so a new content-addressed image id). */
  freshUpdate(spec: Partial<ImageSpec> = {}): SuiteBundle {
    this.versions += 1;
    return this.bundle({ version: `2.0.${this.versions}`, ...spec });
  }

  /** Powers on a fresh factory device (slot A, v1.0.0) on the devices' broker and waits until the server knows it. */
  async newDevice(id: string, transfer: AgentServiceOptions['transfer'] = {}): Promise<SuiteDevice> {
    this.factory ??= this.bundle({ version: '1.0.0', securityCounter: FACTORY_COUNTER }).bytes;
    const spec = smallDeviceSpec(this.trust.root, HARDWARE);
    const { disk, layout } = await provisionSimDisk(spec, this.factory);
    const sim = new SimDevice(disk, spec, layout);
    const net = new NetworkedSimDevice(sim, {
      deviceId: id,
      brokerUrl: this.deviceBroker.url,
      protocolVersion: this.deviceBroker.protocolVersion,
      transfer: { window: 8, requestTimeoutMs: 300, maxRetries: 3, ...transfer },
    });
    await net.powerOn();
    const envStore = new UBootEnvStore(disk, { offsets: layout.envOffsets, envSize: layout.envSize });
    const d: SuiteDevice = {
      id,
      net,
      env: async () => Object.fromEntries((await envStore.read())?.vars ?? new Map<string, string>()),
      slotB: () => disk.read(layout.slotB.offset, layout.slotB.length),
    };
    this.devices.push(d);
    await until(`server knows ${id}`, () => this.deviceRow(id)?.current_version === '1.0.0', 10_000);
    return d;
  }

  /** The server's row for a device. */
  deviceRow(id: string): { current_version: string | null; booted_slot: string | null } | undefined {
    return this.server.app.db.prepare('SELECT current_version, booted_slot FROM devices WHERE id = ?').get(id) as
      | { current_version: string | null; booted_slot: string | null }
      | undefined;
  }

  /** An HTTP request to the server's API. */
  async api(method: string, path: string, opts: { token?: string | null; body?: unknown; raw?: Uint8Array; headers?: Record<string, string> } = {}): Promise<{ status: number; json: { error?: { code: string; message: string } } & Record<string, unknown> }> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const token = opts.token === undefined ? this.operatorToken : opts.token;
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    let body: string | Buffer | undefined;
    if (opts.raw !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      body = Buffer.from(opts.raw);
    } else if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const res = await fetch(`${this.server.address}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = { text };
    }
    return { status: res.status, json: json as { error?: { code: string; message: string } } & Record<string, unknown> };
  }

  /** Uploads a bundle through the API; returns the image id. */
  async upload(b: SuiteBundle): Promise<string> {
    const r = await this.api('POST', '/api/v1/images', { raw: b.bytes });
    if (r.status !== 201 && r.status !== 200) throw new Error(`upload refused: ${JSON.stringify(r.json)}`);
    return r.json['id'] as string;
  }

  /** Creates a one-device campaign through the API; returns its id. */
  async campaign(imageId: string, deviceId: string, retry: { maxAttempts: number; baseDelayMs: number } = { maxAttempts: 1, baseDelayMs: 0 }): Promise<number> {
    const r = await this.api('POST', '/api/v1/campaigns', {
      body: { name: `attack on ${deviceId}`, imageId, target: { deviceIds: [deviceId] }, waves: { canary: 0, percents: [100] }, timeoutMs: 20_000, retry, abort: [] },
    });
    if (r.status !== 201 && r.status !== 200) throw new Error(`campaign refused: ${JSON.stringify(r.json)}`);
    return (r.json['campaign'] as { id: number }).id;
  }

  /** Waits until the campaign's only action has finished; returns its row. */
  async finished(campaignId: number, ms = 20_000): Promise<{ id: number; state: string; detail: string | null; attempt: number }> {
    return until(
      `campaign ${campaignId} finished`,
      () => {
        const a = this.server.app.db.prepare('SELECT id, state, detail, attempt FROM actions WHERE campaign_id = ?').get(campaignId) as
          | { id: number; state: string; detail: string | null; attempt: number }
          | undefined;
        return a !== undefined && ['succeeded', 'failed', 'rejected', 'timed_out', 'canceled', 'rolled_back'].includes(a.state) ? a : undefined;
      },
      ms,
    );
  }
}
