/**
 * The campaign engine's link to devices over MQTT.
 *
 * Out: offers and cancels as signed command envelopes (server-role key) on
 * each device's command topic; image chunks on request through the
 * protocol's ChunkServer, fan-out by default so one publish serves a wave.
 * In: hello and online status update the fleet; status reports are batched
 * into the engine (one SQLite transaction per batch); chunk requests drive
 * the transfer. Every inbound message was validated by the protocol decoder;
 * anything else was counted and dropped before it got here.
 */
import { randomBytes } from 'node:crypto';
import {
  BROKER_LOG_TOPIC,
  ChunkServer,
  MqttLink,
  RejectionCounter,
  allDevicesFilter,
  deviceTopic,
  parseBrokerLogLine,
  realTimers,
  signCommand,
} from '@uniota/protocol';
import type { BrokerDenial, CommandBody, CommandSigner, Hello, ProtocolLogger, RefusalReport, StatusReport, TransferMode } from '@uniota/protocol';
import { parseBundleHeader, validateManifest } from '@uniota/image';
import type { BlobStore } from '../images/blob-store.ts';
import type { CampaignEngine } from '../campaign/engine.ts';
import type { CancelCommand, DeviceGateway, DeviceReport, UpdateOffer } from '../campaign/gateway.ts';
import type { DeviceHello } from '../db/devices-repo.ts';
import { BrokerDenialRecorder } from './broker-denials.ts';
import { PublishPacer } from './publish-pacer.ts';
import { RefusalIngest } from './refusal-ingest.ts';
import { toEngineReport, wireActionId } from './report-map.ts';
import type { RootDelivery } from '../roots/root-service.ts';

/** MQTT 5's largest Receive Maximum: the broker may keep this many reports in flight to the server. */
export const SERVER_RECEIVE_MAXIMUM = 65_535;

export interface MqttGatewayOptions {
  brokerUrl: string;
  protocolVersion?: 4 | 5;
  clientId?: string;
  signer: CommandSigner;
  blobs: BlobStore;
  transferMode?: TransferMode;
  /** How long a command stays valid on the wire. */
  commandTtlMs?: number;
  /** Reports are ingested in batches at least this often. */
  ingestEveryMs?: number;
  /** Chunk publishes handed to the MQTT client at once (default 64; see PublishPacer). */
  chunkPublishLimit?: number;
  now?: () => number;
  logger?: ProtocolLogger;
  link?: Partial<Pick<Parameters<typeof MqttLink.connect>[0], 'username' | 'password' | 'tls'>>;
  /** Root rotation: offers carry the roots newer than each device reported (see roots/root-service.ts). */
  roots?: RootDelivery;
}

interface ImageEntry {
  bundle: Uint8Array;
  payloadOffset: number;
  chunkSize: number;
  chunkCount: number;
  headerB64: string;
  payloadSize: number;
}

/** Gateway counters (exported as metrics). */
export interface GatewayStats {
  offersSent: number;
  cancelsSent: number;
  reportsIngested: number;
  reportsIgnored: number;
  hellos: number;
  /** Offers sent again because the device reconnected before answering them. */
  offersResent: number;
  /** Devices' refusal reports recorded as `device.refused` events (and of those, actions failed by one). */
  refusalsRecorded: number;
  refusalsFailedAction: number;
  /** Broker ACL (and other) denials recorded as `broker.denied` events (see broker-denials.ts). */
  brokerDenialsRecorded: number;
}

export class MqttGateway implements DeviceGateway {
  readonly rejections: RejectionCounter;
  readonly chunks: ChunkServer;
  readonly stats: GatewayStats = { offersSent: 0, cancelsSent: 0, reportsIngested: 0, reportsIgnored: 0, hellos: 0, offersResent: 0, refusalsRecorded: 0, refusalsFailedAction: 0, brokerDenialsRecorded: 0 };
  #link: MqttLink | null = null;
  #engine: CampaignEngine | null = null;
  readonly #images = new Map<string, ImageEntry>();
  /** Highest command seq sent or seen per device: commands must keep increasing across restarts. */
  readonly #seq = new Map<string, number>();
  #pending: DeviceReport[] = [];
  /** Hellos not yet applied: ingested with the next report batch. */
  #hellos: DeviceHello[] = [];
  /**
   * The last offer per device that no status report has answered yet. A
   * broker restart (no persistence) or a device that was reconnecting loses
   * an offer published at that moment, and nothing else would ever send it
   * again (the action sat in `offered` until it timed out). A hello follows
   * every (re)connect, after the device re-subscribed, so an unanswered offer
   * is sent again then; the device treats a repeat of the same action id as
   * the same update.
   */
  readonly #unanswered = new Map<string, UpdateOffer>();
  #connectedOnce = false;
  #flushTimer: NodeJS.Timeout | null = null;
  #denials: BrokerDenialRecorder | null = null;

  constructor(private readonly o: MqttGatewayOptions) {
    this.rejections = new RejectionCounter(o.logger === undefined ? {} : { logger: o.logger });
    const pacer = new PublishPacer(o.chunkPublishLimit ?? 64);
    this.chunks = new ChunkServer({
      // A lost chunk is asked for again by its device: a failed publish is only logged by its absence.
      publish: (topic, payload) => pacer.run(async () => this.#link?.publish(topic, payload, { qos: 0 })).catch(() => undefined),
      readChunk: (imageId, index) => {
        const img = this.#image(imageId);
        const start = img.payloadOffset + index * img.chunkSize;
        return img.bundle.subarray(start, Math.min(img.payloadOffset + img.payloadSize, start + img.chunkSize));
      },
      timers: realTimers,
    });
  }

  /** Connects to the broker and starts feeding `engine`. */
  async start(engine: CampaignEngine): Promise<void> {
    this.#engine = engine;
    const refusals = new RefusalIngest(engine, this.o.now ?? Date.now, (deviceId, actionId) => {
      const offer = this.#unanswered.get(deviceId);
      return offer !== undefined && wireActionId(offer.actionId, offer.attempt) === actionId;
    });
    this.#denials = new BrokerDenialRecorder(engine.events, this.o.now ?? Date.now);
    this.#link = await MqttLink.connect({
      url: this.o.brokerUrl,
      clientId: this.o.clientId ?? `uniota-server-${randomBytes(4).toString('hex')}`,
      protocolVersion: this.o.protocolVersion ?? 5,
      // The whole fleet reports to this one session: a wave's burst of
      // reports must stay in flight, not in the broker's per-client queue,
      // which drops past max_queued_messages (see MqttLinkOptions.receiveMaximum).
      receiveMaximum: SERVER_RECEIVE_MAXIMUM,
      subscriptions: [allDevicesFilter('hello'), allDevicesFilter('online'), allDevicesFilter('status'), allDevicesFilter('chunk-request')],
      handlers: {
        hello: (m) => this.#onHello(m.message),
        online: (m) => {
          if (m.message.online) return;
          // Reports the device sent before it dropped come first: a device
          // that reported `rebooting` and then went offline is rebooting, not lost.
          this.#flush();
          engine.deviceDisconnected(m.deviceId);
        },
        status: (m) => this.#onStatus(m.message),
        refusal: (m) => this.#onRefusal(m.message, refusals),
        'chunk-request': (m) => {
          if (!this.#mayReceiveChunks(m.deviceId)) return;
          const refused = this.chunks.handleRequest(m.deviceId, m.message);
          if (refused !== null) this.rejections.record({ ok: false, reason: 'unexpected', detail: `chunk request refused: ${refused}`, kind: 'chunk-request' }, `chunk-request/${m.deviceId}`);
        },
      },
      counter: this.rejections,
      // After the server's own reconnect: hellos devices sent while it was
      // away are gone, so offers they never answered are sent again now
      // (devices still away get theirs at their next hello). Seen in the
      // broker-restart test: a device reconnected before the server did, its
      // hello was lost, and its offer sat unanswered until the campaign timeout.
      onConnect: () => {
        if (this.#connectedOnce) this.#resendUnanswered();
        this.#connectedOnce = true;
      },
      ...(this.o.link ?? {}),
      onHandlerError: (err, kind) => this.o.logger?.warn({ err: err instanceof Error ? err.message : String(err), kind }, 'gateway handler failed'),
      // Only the broker writes $SYS (clients' publishes there are refused); of it, only the warning log is read.
      onBrokerMessage: (topic, payload) => (topic === BROKER_LOG_TOPIC ? this.#onBrokerLog(payload.toString('utf8')) : undefined),
    });
    // mosquitto with the uniota ACL plugin logs its denials there; a broker that refuses it only costs that record.
    await this.#link.subscribe([BROKER_LOG_TOPIC]).catch((err: unknown) =>
      this.o.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, `broker log ${BROKER_LOG_TOPIC} not readable: broker denials are not recorded`),
    );
  }

  /** Records a denial the broker reported (the embedded broker's onDenied hook) as a `broker.denied` event. */
  recordBrokerDenial(d: BrokerDenial): void {
    if (this.#denials?.record(d) === 'recorded') this.stats.brokerDenialsRecorded += 1;
  }

  #onBrokerLog(line: string): void {
    const entry = parseBrokerLogLine(line);
    if (entry === null) return;
    const outcome = entry.kind === 'denied' ? this.#denials?.record(entry.denial) : this.#denials?.recordBrokerSuppressed(entry.count);
    if (outcome === 'recorded') this.stats.brokerDenialsRecorded += 1;
  }

  async stop(): Promise<void> {
    // Reports keep arriving until the link is closed; flushing only after
    // that ingests them all while the database is still open. (Flushing
    // first left a report arriving during close() to a timer that fired
    // after the server closed the database: an uncaught exception.)
    await this.#link?.close();
    this.#link = null;
    this.#flush();
  }

  async sendOffer(offer: UpdateOffer): Promise<void> {
    const img = this.#image(offer.imageId);
    const mode = this.o.transferMode ?? 'fanout';
    this.chunks.addImage(offer.imageId, img.chunkCount);
    if (mode === 'fanout') this.chunks.expectDevices(offer.imageId, [offer.deviceId]);
    await this.#send(offer.deviceId, wireActionId(offer.actionId, offer.attempt), {
      type: 'offer',
      campaignId: String(offer.campaignId),
      imageId: offer.imageId,
      header: img.headerB64,
      payloadSize: img.payloadSize,
      chunkSize: img.chunkSize,
      chunkCount: img.chunkCount,
      transfer: mode,
      downloadOnly: offer.downloadOnly,
      maintenanceWindow: null,
      ...rootsField(this.o.roots?.rootsFor(offer.deviceId)),
    });
    this.stats.offersSent += 1;
    this.#unanswered.set(offer.deviceId, offer);
  }

  async sendCancel(cancel: CancelCommand): Promise<void> {
    this.#unanswered.delete(cancel.deviceId);
    await this.#send(cancel.deviceId, wireActionId(cancel.actionId, cancel.attempt), { type: 'cancel', campaignId: String(cancel.campaignId), reason: 'cancelled by the operator' });
    this.stats.cancelsSent += 1;
  }

  async #send(deviceId: string, actionId: string, body: CommandBody): Promise<void> {
    const link = this.#link;
    if (link === null) throw new Error('gateway not connected');
    const now = (this.o.now ?? Date.now)();
    // Time-based and monotonic: a restarted server (with nothing persisted)
    // still issues sequence numbers above everything the device accepted.
    const seq = Math.max(now * 1000, (this.#seq.get(deviceId) ?? 0) + 1);
    this.#seq.set(deviceId, seq);
    const envelope = signCommand(
      { deviceId, actionId, seq, nonce: randomBytes(12).toString('base64url'), expiresAt: now + (this.o.commandTtlMs ?? 3_600_000), body },
      this.o.signer,
    );
    await link.publish(deviceTopic('command', deviceId), JSON.stringify(envelope), { qos: 1 });
  }

  #onHello(h: Hello): void {
    this.stats.hellos += 1;
    if (h.rootVersion !== undefined) this.o.roots?.noteDeviceRoot(h.deviceId, h.rootVersion);
    if (h.lastCommandSeq > (this.#seq.get(h.deviceId) ?? 0)) this.#seq.set(h.deviceId, h.lastCommandSeq);
    const running = h.slots[h.runningSlot];
    // Batched with the reports (one transaction per batch, hellos first).
    this.#hellos.push({
      deviceId: h.deviceId,
      hardware: h.hardware,
      currentVersion: running.version,
      bootedSlot: h.runningSlot.toUpperCase(),
      slots: { a: h.slots.a, b: h.slots.b, trial: h.trial ?? false },
    });
    this.#scheduleFlush();
    const lost = this.#unanswered.get(h.deviceId);
    if (lost !== undefined) this.#resend(lost);
  }

  #resend(offer: UpdateOffer): void {
    this.stats.offersResent += 1;
    this.sendOffer(offer).catch((err: unknown) => this.o.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'offer resend failed'));
  }

  #resendUnanswered(): void {
    for (const offer of [...this.#unanswered.values()]) this.#resend(offer);
  }

  #onStatus(r: StatusReport): void {
    if (r.rootVersion !== undefined) this.o.roots?.noteDeviceRoot(r.deviceId, r.rootVersion);
    const waiting = this.#unanswered.get(r.deviceId);
    if (waiting !== undefined && wireActionId(waiting.actionId, waiting.attempt) === r.actionId) this.#unanswered.delete(r.deviceId);
    const report = toEngineReport(r);
    if (report === null) {
      this.stats.reportsIgnored += 1;
      return;
    }
    this.#pending.push(report);
    this.#scheduleFlush();
  }

  #onRefusal(r: RefusalReport, ingest: RefusalIngest): void {
    // Reports the device sent before this one are applied first (a refusal may close their action).
    this.#flush();
    const outcome = ingest.ingest(r);
    if (outcome === 'recorded' || outcome === 'recorded-and-failed') this.stats.refusalsRecorded += 1;
    if (outcome === 'recorded-and-failed') {
      this.stats.refusalsFailedAction += 1;
      this.#unanswered.delete(r.deviceId);
    } else if (outcome === 'refused-device' || outcome === 'throttled') {
      this.rejections.record({ ok: false, reason: 'unexpected', detail: `refusal report ${outcome}`, kind: 'status' }, `refusal/${r.deviceId}`);
    }
  }

  #scheduleFlush(): void {
    if (this.#pending.length + this.#hellos.length >= 500) this.#flush();
    else this.#flushTimer ??= setTimeout(() => this.#flush(), this.o.ingestEveryMs ?? 20);
  }

  #flush(): void {
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    const hellos = this.#hellos;
    this.#hellos = [];
    if (hellos.length > 0) this.#engine?.deviceHellos(hellos);
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0 || this.#engine === null) return;
    const outcomes = this.#engine.ingestReports(batch);
    for (const o of outcomes) {
      if (o === 'applied') this.stats.reportsIngested += 1;
      else this.stats.reportsIgnored += 1;
    }
  }

  /**
   * Only an accepted device gets image data. A pending, rejected or
   * decommissioned one (or an id that never said hello) could otherwise pull
   * any stored image by naming its id; the refusal is counted like every
   * other dropped message and, for a known device, in its refused counter.
   */
  #mayReceiveChunks(deviceId: string): boolean {
    const admission = this.#engine?.admission;
    const state = admission?.state(deviceId);
    if (state === 'accepted') return true;
    if (state !== undefined) admission?.countRefused(deviceId);
    this.rejections.record(
      { ok: false, reason: 'unexpected', detail: `chunk request refused: device is ${state ?? 'unknown'}`, kind: 'chunk-request' },
      `chunk-request/${deviceId}`,
    );
    return false;
  }

  #image(imageId: string): ImageEntry {
    let img = this.#images.get(imageId);
    if (img === undefined) {
      const bundle = this.o.blobs.get(imageId);
      if (bundle === undefined) throw new Error(`image ${imageId} is not in the blob store`);
      const header = parseBundleHeader(bundle);
      // Stored bundles were verified against the trust root on upload.
      const manifest = validateManifest(JSON.parse(new TextDecoder().decode(header.manifestBytes)));
      img = {
        bundle,
        payloadOffset: header.headerLength,
        chunkSize: manifest.payload.chunkSize,
        chunkCount: manifest.payload.chunks.length,
        headerB64: Buffer.from(bundle.subarray(0, header.headerLength)).toString('base64'),
        payloadSize: manifest.payload.size,
      };
      this.#images.set(imageId, img);
    }
    return img;
  }
}

/** The optional `roots` field of an offer (absent rather than empty: the schema wants at least one). */
function rootsField(roots: string[] | undefined): { roots?: string[] } {
  return roots === undefined || roots.length === 0 ? {} : { roots };
}
