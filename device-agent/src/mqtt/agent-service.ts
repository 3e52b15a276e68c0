/**
 * The agent on the network: connects to the broker as its device, announces
 * itself (retained online status with an offline last will, then hello with
 * its inventory), accepts only signed, fresh, own commands, feeds offers and
 * cancels to the lifecycle, and publishes every report.
 *
 * Commands are handled one at a time (a queue): the lifecycle never runs two
 * steps at once. A cancel additionally aborts a running download at once, so
 * it does not wait behind it.
 */
import { CommandGuard, MqttLink, RejectionCounter, deviceTopic, imageChunksTopic } from '@uniota/protocol';
import type { CommandEnvelope, Hello, MqttLinkOptions, ProtocolLogger, StatusReport as WireReport } from '@uniota/protocol';
import type { SlotName } from '@uniota/boot-control';
import { ImageError, threadedChunkHasher, verifySlot } from '@uniota/image';
import { UpdateAgent } from '../agent.ts';
import type { AgentDeps, RunResult } from '../agent.ts';
import type { AgentTransport, StatusReport } from '../transport.ts';
import { MqttImageSource } from './mqtt-image-source.ts';
import type { DownloadStatus } from './mqtt-image-source.ts';
import { trackSlots } from './slot-inventory.ts';
import type { SlotInventory } from './slot-inventory.ts';
import { toProtocolStep } from './step-map.ts';
import { RefusalReporter } from './refusal-reporter.ts';

export const AGENT_VERSION = '0.1.0';

/**
 * A PUBACK/SUBACK/UNSUBACK later than this drops and re-opens the connection
 * (see MqttLinkOptions.ackTimeoutMs). Far above the answer time of a broker
 * that works, far below the campaign timeouts operators set (minutes).
 */
export const DEFAULT_ACK_TIMEOUT_MS = 30_000;

/**
 * Last report timestamp per device in this process. The server orders and
 * deduplicates one attempt's reports by `at`, so it must strictly increase,
 * also across a simulated reboot that takes less than a millisecond.
 */
const lastReportAt = new Map<string, number>();

export interface AgentServiceOptions {
  deviceId: string;
  brokerUrl: string;
  /** 5 for mosquitto and production brokers; 4 for the embedded aedes broker. */
  protocolVersion?: 4 | 5;
  deps: Omit<AgentDeps, 'transport' | 'source'>;
  /** What a reboot means here: run the reboot command, or restart the simulated device. */
  reboot: () => Promise<void>;
  /** MQTT connection options added to the defaults (TLS, credentials, backoff). */
  link?: Partial<Pick<MqttLinkOptions, 'username' | 'password' | 'backoff' | 'random' | 'tls' | 'ackTimeoutMs'>>;

  logger?: ProtocolLogger;
  /** Chunk transfer tuning. */
  transfer?: { window?: number; requestTimeoutMs?: number; maxRetries?: number; minBytesPerSecond?: number; throughputWindowMs?: number; subscribeTimeoutMs?: number };
  /** How long a report waits for the broker's PUBACK before the lifecycle moves on. */
  reportTimeoutMs?: number;
  /** Shortest time between two refusal reports of the same code (default 10 s; see RefusalReporter). */
  refusalReportIntervalMs?: number;
  now?: () => number;
  /**
   * The hello's slot reports, cached until a slot is written. Give one that
   * outlives a reboot only if its generations see every write to the slots
   * (the simulated device tracks its whole disk); by default each start
   * tracks the writes made through this agent.
   */
  slotInventory?: SlotInventory;
}

export class AgentService {
  readonly rejections: RejectionCounter;
  /** Commands refused by the guard, by reason (foreign, replayed, expired, ...). */
  readonly refusedCommands = new Map<string, number>();
  readonly #refusals: RefusalReporter;
  #link: MqttLink | null = null;
  #agent: UpdateAgent | null = null;
  #queue: Promise<void> = Promise.resolve();
  #guard: CommandGuard | null = null;
  #closed = false;
  readonly #source: MqttImageSource;
  readonly #campaigns = new Map<string, string>();
  #inventory: SlotInventory | null = null;

  private constructor(private readonly o: AgentServiceOptions) {
    const now = o.now ?? Date.now;
    this.#refusals = new RefusalReporter({
      send: (refused) => void this.#publish(deviceTopic('status', o.deviceId), JSON.stringify({ v: 1, deviceId: o.deviceId, at: now(), refused }), 1),
      now,
      ...(o.refusalReportIntervalMs === undefined ? {} : { intervalMs: o.refusalReportIntervalMs }),
    });
    this.rejections = new RejectionCounter({
      ...(o.logger === undefined ? {} : { logger: o.logger }),
      // A command naming another device is dropped by the decoder, before the guard: it is a refusal too.
      onReject: (r) => {
        if (r.kind === 'command' && r.reason === 'id-mismatch') this.#refusals.refused('id-mismatch', r.actionId);
      },
    });
    this.#source = new MqttImageSource({
      sendRequest: (r) => this.#publish(deviceTopic('chunk-request', o.deviceId), JSON.stringify(r), 1),
      onFanout: async (imageId, active) => {
        if (this.#link === null) return;
        if (active) await this.#link.subscribe([imageChunksTopic(imageId)]);
        else await this.#link.unsubscribe([imageChunksTopic(imageId)]);
      },
      ...(o.transfer ?? {}),
      ...(o.deps.hasher === undefined ? {} : { hasher: o.deps.hasher }),
    });
  }

  /** Opens the agent, connects, resumes whatever the journal holds, then serves commands. */
  static async start(o: AgentServiceOptions): Promise<AgentService> {
    const s = new AgentService(o);
    const transport: AgentTransport = { report: (r) => s.#report(r) };
    let slots = o.deps.slots;
    if (o.slotInventory !== undefined) s.#inventory = o.slotInventory;
    else ({ slots, inventory: s.#inventory } = trackSlots(o.deps.slots));
    s.#agent = await UpdateAgent.open({ ...o.deps, slots, transport, source: s.#source });
    // The root in force, not the provisioned one: a rotation may change the server keys.
    const rootNow = () => (s.#agent as UpdateAgent).trustedRoot;
    s.#guard = new CommandGuard({
      deviceId: o.deviceId,
      serverKey: (keyId) => {
        const root = rootNow();
        return root.roles.server.keyids.includes(keyId) && root.keys[keyId] !== undefined ? Buffer.from(root.keys[keyId].public, 'base64') : undefined;
      },
      now: o.now ?? Date.now,
      state: { lastSeq: s.#agent.lastCommandSeq },
    });
    const hello = await s.#hello();
    const online = (v: boolean) => JSON.stringify({ v: 1, online: v, at: (o.now ?? Date.now)() });
    s.#link = await MqttLink.connect({
      url: o.brokerUrl,
      clientId: o.deviceId,
      protocolVersion: o.protocolVersion ?? 5,
      will: { topic: deviceTopic('online', o.deviceId), payload: JSON.stringify({ v: 1, online: false }), qos: 1, retain: true },
      onConnectPublish: () => [
        { topic: deviceTopic('online', o.deviceId), payload: online(true), qos: 1, retain: true },
        { topic: deviceTopic('hello', o.deviceId), payload: JSON.stringify(hello), qos: 1, retain: false },
      ],
      subscriptions: [deviceTopic('command', o.deviceId), deviceTopic('chunk-data', o.deviceId)],
      handlers: {
        command: (m) => s.#onCommand(m.message),
        'chunk-data': (m) => s.#source.handleFrame(m.message),
        'chunk-fanout': (m) => s.#source.handleFrame(m.message),
      },
      counter: s.rejections,
      ackTimeoutMs: DEFAULT_ACK_TIMEOUT_MS,
      onAckTimeout: (waitedMs) => o.logger?.warn({ waitedMs }, 'broker stopped acknowledging; reconnecting'),
      ...(o.link ?? {}),
      // A handler that throws must be seen: the link swallows the exception so the process survives it.
      onHandlerError: (err, kind) => o.logger?.warn({ err: err instanceof Error ? err.message : String(err), kind }, 'agent handler failed'),
    });
    s.#enqueue(async () => s.#handle(await (s.#agent as UpdateAgent).start()));
    return s;
  }

  /** The lifecycle (for inspection). */
  get agent(): UpdateAgent {
    return this.#agent as UpdateAgent;
  }

  /** The running download, if any (diagnostics: where a download that does not move waits). */
  get download(): DownloadStatus | null {
    return this.#source.download;
  }

  /** Whether the broker connection is up. */
  get connected(): boolean {
    return this.#link?.connected ?? false;
  }

  /** Resolves when every queued command has been handled. */
  idle(): Promise<void> {
    return this.#queue;
  }

  /** Drops the connection (network loss); the link reconnects with backoff and re-announces itself. */
  async dropConnection(): Promise<void> {
    this.#link?.dropConnection();
  }

  /** Disconnects. `powerLoss` drops the socket so the broker publishes the offline will. */
  async stop(powerLoss = false): Promise<void> {
    this.#closed = true;
    this.#refusals.stop();
    this.#source.abort('agent stopping');
    await this.#link?.close(powerLoss);
    this.#link = null;
  }

  #enqueue(job: () => Promise<void>): void {
    this.#queue = this.#queue.then(job).catch((err: unknown) => {
      this.o.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'agent step failed');
    });
  }

  #onCommand(envelope: CommandEnvelope): void {
    const guard = this.#guard as CommandGuard;
    const check = guard.check(envelope);
    if (!check.ok) {
      this.refusedCommands.set(check.reason, (this.refusedCommands.get(check.reason) ?? 0) + 1);
      this.o.logger?.warn({ reason: check.reason, detail: check.detail }, 'command refused');
      this.#refusals.refused(check.reason, envelope.actionId);
      return;
    }
    // A cancel must not wait behind the download it cancels.
    if (envelope.body.type === 'cancel') this.#source.abort('cancelled by the server');
    this.#enqueue(async () => {
      const agent = this.#agent as UpdateAgent;
      // Journal the sequence number first: after a power cut the same command is refused, never run twice.
      await agent.acceptCommandSeq(check.state.lastSeq);
      guard.accept(check.state);
      const body = envelope.body;
      if (body.type === 'cancel') {
        await agent.cancel(envelope.actionId);
        return;
      }
      this.#campaigns.set(envelope.actionId, body.campaignId);
      const header = new Uint8Array(Buffer.from(body.header, 'base64'));
      this.#source.plan(envelope.actionId, { imageId: body.imageId, mode: body.transfer, chunkCount: body.chunkCount, payloadSize: body.payloadSize, chunkSize: body.chunkSize, header });
      const now = (this.o.now ?? Date.now)();
      const w = body.maintenanceWindow;
      const outside = w !== null && (now < w.start || now >= w.end);
      const result = await agent.offer({ actionId: envelope.actionId, campaignId: body.campaignId, header, downloadOnly: body.downloadOnly || outside, ...(body.roots === undefined ? {} : { roots: body.roots }) });
      if (result.kind === 'waiting-install' && !body.downloadOnly && w !== null && now < w.start) {
        // Downloaded ahead of the window; install when it opens.
        setTimeout(() => this.#enqueue(async () => this.#handle(await agent.install(envelope.actionId).catch(() => ({ kind: 'idle' }) as RunResult))), w.start - now).unref();
      }
      await this.#handle(result);
    });
  }

  async #handle(result: RunResult): Promise<void> {
    if (result.kind === 'reboot' && !this.#closed) {
      await this.o.reboot();
      return;
    }
    // The inventory changed (a slot written, a commit, a rollback): announce it
    // again so the server's view of both slots stays current.
    if (!this.#closed) await this.#publish(deviceTopic('hello', this.o.deviceId), JSON.stringify(await this.#hello()), 1);
  }

  async #report(r: StatusReport): Promise<void> {
    const step = toProtocolStep(r);
    const campaignId = r.campaignId ?? this.#campaigns.get(r.actionId);
    if (step === null || campaignId === undefined) return;
    const at = Math.max((this.o.now ?? Date.now)(), (lastReportAt.get(this.o.deviceId) ?? 0) + 1);
    lastReportAt.set(this.o.deviceId, at);
    const wire: WireReport = { v: 1, deviceId: this.o.deviceId, campaignId, actionId: r.actionId, at, step, rootVersion: (this.#agent as UpdateAgent).rootVersion };
    await this.#publish(deviceTopic('status', this.o.deviceId), JSON.stringify(wire), 1);
  }

  /** Publishes; waits for the PUBACK at most reportTimeoutMs, so a broker outage never wedges the lifecycle. */
  async #publish(topic: string, payload: string, qos: 0 | 1): Promise<void> {
    const link = this.#link;
    if (link === null) return;
    const sent = link.publish(topic, payload, { qos }).catch(() => undefined);
    await Promise.race([sent, new Promise((r) => setTimeout(r, this.o.reportTimeoutMs ?? 2000).unref())]);
  }

  async #hello(): Promise<Hello> {
    const d = this.o.deps;
    const inventory = this.#inventory as SlotInventory;
    const slot = (s: SlotName) => inventory.report(s, async () => {
      try {
        const v = await verifySlot(d.slots[s], d.trailerSize, (this.#agent as UpdateAgent).trustedRoot, { hardware: d.hardware, minSecurityCounter: 0, now: d.clock(), checkExpiry: false }, d.hasher ?? threadedChunkHasher);
        return { version: v.manifest.version.slice(0, 64), bootable: true };
      } catch (err) {
        if (err instanceof ImageError) return { version: null, bootable: false };
        throw err;
      }
    });
    return {
      v: 1,
      deviceId: this.o.deviceId,
      hardware: d.hardware.slice(0, 64),
      agentVersion: AGENT_VERSION,
      runningSlot: d.runningSlot === 'A' ? 'a' : 'b',
      slots: { a: await slot('A'), b: await slot('B') },
      lastCommandSeq: (this.#agent as UpdateAgent).lastCommandSeq,
      trial: await d.bootControl.readState().then((b) => b.upgradeAvailable && b.bootPart === d.runningSlot),
      rootVersion: (this.#agent as UpdateAgent).rootVersion,
    };
  }
}
