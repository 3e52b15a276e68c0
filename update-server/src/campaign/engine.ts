import type { Db } from '../db/open.ts';
import { ActionsRepo, type Action, type ActionChange, type ActionCore } from '../db/actions-repo.ts';
import { CampaignsRepo, type Campaign, type Wave } from '../db/campaigns-repo.ts';
import { DevicesRepo, type DeviceHello } from '../db/devices-repo.ts';
import { EventsRepo } from '../db/events-repo.ts';
import { ImagesRepo, type ImageRecord } from '../db/images-repo.ts';
import { statement } from '../db/statements.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { AdmissionRepo } from '../admission/admission-repo.ts';
import { initialAdmission, nextAdmission, type AdmissionCommand, type AdmissionPolicy, type AdmissionState } from '../admission/transitions.ts';
import { ServerError, ServerErrorCode } from '../errors.ts';
import { nextActionState } from './action-transitions.ts';
import { evaluateAbortCriteria } from './abort-criteria.ts';
import { nextCampaignState, type CampaignCommand } from './campaign-transitions.ts';
import type { CancelCommand, DeviceGateway, DeviceReport, UpdateOffer } from './gateway.ts';
import { inMaintenanceWindow } from './maintenance-window.ts';
import { parseCampaignSpec } from './parse-spec.ts';
import { decideRetry } from './retry-policy.ts';
import { failureStates, inFlightStates, terminalStates, type ActionState, type CampaignState } from './states.ts';
import { matchesTarget } from './targeting.ts';
import { isTimedOut } from './timeout.ts';
import { decideWave, planWaves } from './waves.ts';

/** Dependencies of the engine; every side effect comes in here. */
export interface CampaignEngineOptions {
  db: Db;
  gateway: DeviceGateway;
  /** Milliseconds since the epoch. */
  clock: () => number;
  /** Called after a commit that appended events for these campaigns (drives the SSE stream). */
  onEvents?: (campaignIds: ReadonlySet<number>) => void;
  /** Called with the outcome of every ingested report batch (metrics). */
  onIngest?: (outcomes: readonly IngestOutcome[]) => void;
  /** Called when the gateway fails to deliver; the send is retried on the next tick. */
  onGatewayError?: (err: unknown, what: UpdateOffer | CancelCommand) => void;
  /** How a device first seen is admitted; default `open` (see admission/transitions.ts). */
  admission?: AdmissionPolicy;
}

/** Why a report did or did not change anything. */
export type IngestOutcome = 'applied' | 'unknown_action' | 'stale_attempt' | 'duplicate' | 'out_of_order' | 'refused_device';

/** Campaign progress as the API and console show it. */
export interface CampaignStatus {
  campaign: Campaign;
  image: { id: string; version: string };
  counts: Partial<Record<ActionState, number>>;
  total: number;
  waves: (Wave & { counts: Partial<Record<ActionState, number>> })[];
}

/** What one tick did (for logs, metrics and tests). */
export interface TickResult {
  offersSent: number;
  cancelsSent: number;
  sendFailures: number;
}

const preInstall: readonly ActionState[] = ['offered', 'downloading', 'downloaded'];

/**
 * Offers and cancels in flight to the gateway at once. Sending them one by
 * one, each waiting for its PUBACK, made a 5,000-device wave wait seconds
 * for its offers; a bound keeps a broker that stopped answering from
 * collecting an unbounded pile of publishes.
 */
export const DELIVERY_CONCURRENCY = 256;

/**
 * Decides who gets which update when. All state lives in SQLite and every
 * decision reads it back, so `tick()` can run any number of times, after a
 * crash or a restart, and converges to the same result: counts are derived
 * from action rows (never kept as counters), and reports carry an attempt and
 * a sequence number so a replayed report cannot be counted twice.
 */
export class CampaignEngine {
  private readonly db: Db;
  private readonly gateway: DeviceGateway;
  private readonly clock: () => number;
  private readonly onEvents: ((ids: ReadonlySet<number>) => void) | undefined;
  private readonly onGatewayError: ((err: unknown, what: UpdateOffer | CancelCommand) => void) | undefined;
  private readonly onIngest: ((outcomes: readonly IngestOutcome[]) => void) | undefined;
  readonly devices: DevicesRepo;
  readonly images: ImagesRepo;
  readonly campaigns: CampaignsRepo;
  readonly actions: ActionsRepo;
  readonly events: EventsRepo;
  readonly audit: AuditLog;
  readonly admission: AdmissionRepo;
  private readonly admissionPolicy: AdmissionPolicy;
  /** Campaign specs and images never change after creation, so they are safe to cache. */
  private readonly specCache = new Map<number, { campaign: Campaign; image: ImageRecord }>();
  private touched = new Set<number>();
  private ticking: Promise<TickResult> | null = null;
  /**
   * Devices whose hello or admission changed since the last tick: only they
   * can have joined a campaign's target set. Reading every device on every
   * tick cost O(fleet) per tick (a third of the server's CPU at 1,000
   * devices); this keeps a tick proportional to what changed.
   */
  private joinCandidates = new Set<string>();
  /**
   * Campaigns whose whole target set this engine instance has checked once.
   * After a restart the in-memory candidates are gone, so each live
   * campaign gets one full pass, as every tick used to do.
   */
  private readonly fullyScanned = new Set<number>();

  constructor(opts: CampaignEngineOptions) {
    this.db = opts.db;
    this.gateway = opts.gateway;
    this.clock = opts.clock;
    this.onEvents = opts.onEvents;
    this.onGatewayError = opts.onGatewayError;
    this.onIngest = opts.onIngest;
    this.admissionPolicy = opts.admission ?? 'open';
    this.devices = new DevicesRepo(this.db);
    this.images = new ImagesRepo(this.db);
    this.campaigns = new CampaignsRepo(this.db);
    this.actions = new ActionsRepo(this.db);
    this.events = new EventsRepo(this.db);
    this.audit = new AuditLog(this.db, this.clock);
    this.admission = new AdmissionRepo(this.db);
  }

  /** Creates and starts a campaign (wave 0 opens at once; offers go out on the next tick). */
  createCampaign(input: unknown, actor: string): CampaignStatus {
    const spec = parseCampaignSpec(input);
    const image = this.images.get(spec.imageId);
    if (image === undefined) throw new ServerError(ServerErrorCode.NotFound, `image ${spec.imageId} not found`);
    const now = this.clock();
    // Only accepted devices are ever targeted (pending ones wait for an operator).
    const accepted = this.admission.idsIn('accepted');
    const all = this.devices.all().filter((d) => accepted.has(d.id));
    if (spec.target.deviceIds !== undefined) {
      const byId = new Map(all.map((d) => [d.id, d]));
      for (const id of spec.target.deviceIds) {
        const d = byId.get(id);
        if (d !== undefined && !image.compatible.includes(d.hardware)) {
          throw new ServerError(
            ServerErrorCode.IncompatibleImage,
            `device ${id} is ${d.hardware}; image ${image.version} is built for ${image.compatible.join(', ')}`,
          );
        }
      }
    }
    let targets = all.filter((d) => matchesTarget(d, spec.target, image));
    if (spec.target.deviceIds !== undefined) {
      // The operator's order picks the canary.
      const order = new Map(spec.target.deviceIds.map((id, i) => [id, i]));
      targets = targets.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
    }
    if (targets.length === 0 && !spec.continuous) {
      throw new ServerError(ServerErrorCode.NoTargets, 'no registered device matches the target (use continuous to wait for devices)');
    }
    const sizes = planWaves(targets.length, spec.waves);
    const id = this.db.transaction(() => {
      const waves = sizes.map((size, idx) => ({
        idx, kind: (spec.waves.canary > 0 && idx === 0 ? 'canary' : 'percent') as Wave['kind'], plannedSize: size, openedAt: null,
      }));
      const cid = this.campaigns.insert(spec, waves, now);
      let i = 0;
      for (const [wave, size] of sizes.entries()) {
        for (let k = 0; k < size; k++) this.actions.enroll(cid, targets[i++]!.id, wave, now);
      }
      this.campaigns.openWave(cid, 0, now);
      this.event(cid, null, 'campaign', { state: 'running', reason: 'created', targets: targets.length, waves: sizes }, now);
      this.audit.append(actor, 'campaign.create', `campaign:${cid}`, { spec, targets: targets.length, waves: sizes });
      return cid;
    })();
    this.flushEvents();
    return this.status(id);
  }

  /** Operator command: pause, resume or cancel. Illegal changes throw SERVER_ILLEGAL_STATE. */
  command(id: number, cmd: 'pause' | 'resume' | 'cancel', actor: string): CampaignStatus {
    this.db.transaction(() => {
      const c = this.requireCampaign(id);
      const now = this.clock();
      const to = nextCampaignState(c.state, cmd);
      if (to === null) throw new ServerError(ServerErrorCode.IllegalState, `cannot ${cmd} a campaign that is ${c.state}`);
      if (cmd === 'resume') {
        // Resuming means the operator looked at the failures so far and accepts them:
        // pause criteria fire again only on new failures, and a wave gate opens.
        const counts = this.actions.countByState(id);
        const failures = [...failureStates].reduce((n, s) => n + (counts[s] ?? 0), 0);
        this.campaigns.setAckFailures(id, failures);
        if (c.stateReason?.startsWith('wave_gate') === true && c.currentWave + 1 < this.campaigns.waves(id).length) {
          this.campaigns.openWave(id, c.currentWave + 1, now);
        }
      }
      this.transitionCampaign(c, cmd, to, cmd === 'resume' ? null : `operator_${cmd}`, now);
      if (cmd === 'cancel') this.withdrawPending(c, now);
      this.audit.append(actor, `campaign.${cmd}`, `campaign:${id}`, { from: c.state, to });
    })();
    this.flushEvents();
    return this.status(id);
  }

  /**
   * Registers or refreshes a device that connected. A device seen for the
   * first time is admitted by policy (pending unless pre-authorized when
   * admission is required); a rejected or decommissioned device is refused:
   * its hello changes nothing but a counter.
   */
  deviceHello(h: DeviceHello): void {
    this.deviceHellos([h]);
  }

  /**
   * deviceHello for a batch, in one transaction (the gateway batches hellos
   * as it batches reports: a transaction per hello cost ~0.6 ms of server
   * CPU, and a device says hello about twice per update).
   */
  deviceHellos(hellos: readonly DeviceHello[]): void {
    const now = this.clock();
    const admitted = hellos.filter((h) => {
      if (!this.admission.isRefused(h.deviceId)) return true;
      this.admission.countRefused(h.deviceId);
      return false;
    });
    if (admitted.length === 0) return;
    this.db.transaction(() => {
      for (const h of admitted) {
        const known = this.admission.state(h.deviceId) !== undefined;
        this.devices.upsert(h, now);
        if (!known) {
          const state = initialAdmission(this.admissionPolicy, this.admission.isPreauthorized(h.deviceId));
          // Not audited: registration is the device's doing; the audit log
          // records operator decisions (accept, reject, ...), below.
          this.admission.set(h.deviceId, state, now);
        }
      }
    })();
    for (const h of admitted) this.joinCandidates.add(h.deviceId);
  }

  /**
   * Accepts, rejects or decommissions a registered device (transition table
   * in admission/transitions.ts). Refusing a device withdraws its unfinished
   * actions that have not started installing; its later reports are ignored.
   */
  setAdmission(deviceId: string, cmd: AdmissionCommand, actor: string): AdmissionState {
    const now = this.clock();
    const to = this.db.transaction(() => {
      const from = this.admission.state(deviceId);
      if (from === undefined) throw new ServerError(ServerErrorCode.NotFound, `device ${deviceId} not found`);
      const next = nextAdmission(from, cmd);
      if (next === null) throw new ServerError(ServerErrorCode.IllegalState, `cannot ${cmd} a device that is ${from}`);
      this.admission.set(deviceId, next, now);
      if (next !== 'accepted') {
        for (const a of this.actions.forDevice(deviceId)) {
          if (a.state === 'queued' || a.state === 'retry_wait' || preInstall.includes(a.state)) {
            this.setAction(a, { state: 'canceled', nextAttemptAt: null, detail: `device ${next}` }, now, {});
          }
        }
      }
      this.audit.append(actor, `device.${cmd}`, `device:${deviceId}`, { from, to: next });
      return next;
    })();
    if (to === 'accepted') this.joinCandidates.add(deviceId);
    this.flushEvents();
    return to;
  }

  /** Pre-authorizes a device id: its first hello makes it accepted, not pending. An already pending device is accepted now. */
  preauthorizeDevice(deviceId: string, actor: string): AdmissionState | 'preauthorized' {
    const now = this.clock();
    const state = this.admission.state(deviceId);
    if (state === 'pending') return this.setAdmission(deviceId, 'accept', actor);
    if (state !== undefined) throw new ServerError(ServerErrorCode.IllegalState, `device ${deviceId} is already ${state}`);
    this.db.transaction(() => {
      this.admission.preauthorize(deviceId, actor, now);
      this.audit.append(actor, 'device.preauthorize', `device:${deviceId}`, {});
    })();
    return 'preauthorized';
  }

  /**
   * A device's connection dropped. That fails none of its actions: the agent
   * journals its progress and carries on after reconnecting (or rebooting),
   * and the gateway re-sends an offer that is still unanswered when the
   * device says hello again. A device that stays away is ended by the
   * campaign timeout. (Failing pre-install actions here made every reconnect
   * a failed attempt whose retry offer then found the device already past its
   * download and was refused as BUSY: a 5,000-device fan-out bench paused on
   * 17 such failures while those devices were still updating.)
   */
  deviceDisconnected(deviceId: string): void {
    const now = this.clock();
    this.devices.setOffline(deviceId, now);
    this.flushEvents();
  }

  /** Applies one report. */
  ingestReport(r: DeviceReport): IngestOutcome {
    return this.ingestReports([r])[0]!;
  }

  /**
   * Applies a batch of reports in one transaction (the gateway batches MQTT
   * messages this way; one fsync per batch is what makes ingest fast).
   */
  ingestReports(reports: readonly DeviceReport[]): IngestOutcome[] {
    const now = this.clock();
    const out = this.db.transaction(() => reports.map((r) => this.applyReport(r, now)))();
    this.flushEvents();
    this.onIngest?.(out);
    return out;
  }

  private applyReport(r: DeviceReport, now: number): IngestOutcome {
    if (this.admission.isRefused(r.deviceId)) {
      this.admission.countRefused(r.deviceId);
      return 'refused_device';
    }
    const a = this.actions.getCore(r.actionId);
    if (a === undefined || a.deviceId !== r.deviceId) return 'unknown_action';
    if (r.attempt !== a.attempt) return 'stale_attempt';
    if (r.seq <= a.lastSeq) return 'duplicate';
    const { campaign, image } = this.cached(a.campaignId);
    const next = nextActionState(r.step, a.state, campaign.spec.downloadOnly);
    if (next === 'ignore') return 'out_of_order';
    const detail = r.detail ?? null;
    if (next === 'failed') {
      this.fail(a, next, r.failureKind ?? 'other', detail, now, { lastSeq: r.seq });
      return 'applied';
    }
    this.setAction(a, { state: next, lastSeq: r.seq, progressAt: now, detail, failureKind: null }, now, { step: r.step });
    if (next === 'succeeded' && !campaign.spec.downloadOnly) this.devices.setVersion(a.deviceId, image.version, now);
    return 'applied';
  }

  /** Records a failure, turning it into a scheduled retry when the policy allows. */
  private fail(a: ActionCore, state: ActionState, kind: NonNullable<Action['failureKind']>, detail: string | null, now: number, extra: ActionChange): void {
    const { campaign } = this.cached(a.campaignId);
    const live = this.campaigns.get(a.campaignId)!;
    const retry =
      a.state !== 'canceling' && (live.state === 'running' || live.state === 'paused')
        ? decideRetry(kind, a.attempt, campaign.spec.retry, now)
        : ({ retry: false } as const);
    const change: ActionChange = retry.retry
      ? { ...extra, state: 'retry_wait', failureKind: kind, detail, nextAttemptAt: retry.at, progressAt: now }
      : { ...extra, state, failureKind: kind, detail, progressAt: now };
    this.setAction(a, change, now, {});
  }

  /**
   * One pass over every live campaign: enroll newcomers, time out silent
   * devices, apply abort criteria and wave gates, hand out offers up to the
   * concurrency cap, then deliver unsent offers and cancels. Concurrent calls
   * share one pass.
   */
  tick(): Promise<TickResult> {
    if (this.ticking !== null) return this.ticking;
    this.ticking = this.runTick().finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  private async runTick(): Promise<TickResult> {
    const now = this.clock();
    const candidates = this.joinCandidates;
    this.joinCandidates = new Set();
    let toSend: { offers: UpdateOffer[]; cancels: CancelCommand[] };
    try {
      toSend = this.db.transaction(() => {
        const offers: UpdateOffer[] = [];
        const cancels: CancelCommand[] = [];
        for (const c of this.campaigns.list()) {
          this.sweepTimeouts(c, now);
          if (c.state === 'running' || c.state === 'paused') this.tickCampaign(c, now, candidates);
          this.collectUnsent(c.id, offers, cancels);
        }
        return { offers, cancels };
      })();
    } catch (err) {
      // The transaction rolled back: the candidates still need their check.
      for (const id of candidates) this.joinCandidates.add(id);
      throw err;
    }
    this.flushEvents();
    const result: TickResult = { offersSent: 0, cancelsSent: 0, sendFailures: 0 };
    // Cancels go out after every offer of this tick, as before.
    const offers = await this.deliverAll(toSend.offers, (o) => this.gateway.sendOffer(o));
    const cancels = await this.deliverAll(toSend.cancels, (c) => this.gateway.sendCancel(c));
    result.offersSent = offers.length;
    result.cancelsSent = cancels.length;
    result.sendFailures = toSend.offers.length - offers.length + toSend.cancels.length - cancels.length;
    this.markSent([...offers, ...cancels]);
    return result;
  }

  /** Sends each item (at most DELIVERY_CONCURRENCY at once, started in order); returns those the gateway took. */
  private async deliverAll<T extends UpdateOffer | CancelCommand>(items: readonly T[], send: (what: T) => Promise<void>): Promise<T[]> {
    const ok: T[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const what = items[next++]!;
        try {
          await send(what);
          ok.push(what);
        } catch (err) {
          this.onGatewayError?.(err, what);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(DELIVERY_CONCURRENCY, items.length) }, worker));
    return ok;
  }

  /**
   * Marks delivered offers and cancels sent, in one transaction. Marked after
   * the send: a crash in between re-sends, which the device tolerates (same
   * actionId + attempt), whereas marking first could lose it.
   */
  private markSent(delivered: readonly (UpdateOffer | CancelCommand)[]): void {
    if (delivered.length === 0) return;
    const at = this.clock();
    this.db.transaction(() => {
      for (const what of delivered) {
        const a = this.actions.get(what.actionId);
        if (a !== undefined && a.attempt === what.attempt && a.sentAt === null) this.actions.update(a, { sentAt: at }, at);
      }
    })();
  }

  private collectUnsent(campaignId: number, offers: UpdateOffer[], cancels: CancelCommand[]): void {
    const unsent = statement(this.db, `SELECT id FROM actions WHERE campaign_id = ? AND sent_at IS NULL AND state IN ('offered', 'canceling') ORDER BY id`)
      .all(campaignId) as { id: number }[];
    if (unsent.length === 0) return;
    const { campaign, image } = this.cached(campaignId);
    for (const { id } of unsent) {
      const a = this.actions.get(id)!;
      const base = { deviceId: a.deviceId, campaignId, actionId: a.id, attempt: a.attempt };
      if (a.state === 'canceling') cancels.push(base);
      else offers.push({ ...base, imageId: image.id, version: image.version, size: image.size, downloadOnly: campaign.spec.downloadOnly });
    }
  }

  /** Ends in-flight actions that went silent (also in finished campaigns, where cancels may be pending). */
  private sweepTimeouts(c: Campaign, now: number): void {
    const { campaign } = this.cached(c.id);
    for (const a of this.actions.stale(c.id, [...inFlightStates], now - campaign.spec.timeoutMs)) {
      if (!isTimedOut(a.state, a.progressAt, now, campaign.spec.timeoutMs)) continue;
      // A cancel the device never answered is done as far as the server is concerned.
      this.setAction(a, { state: a.state === 'canceling' ? 'canceled' : 'timed_out', progressAt: now, detail: `no progress in ${a.state}` }, now, {});
    }
  }

  private tickCampaign(c: Campaign, now: number, candidates: ReadonlySet<string>): void {
    const { campaign, image } = this.cached(c.id);
    const spec = campaign.spec;
    const waves = this.campaigns.waves(c.id);
    const waveCount = waves.length;

    // Devices that joined the target set since creation go to the last wave,
    // so they never skip the canary's verdict. Enrollment is idempotent
    // (one action per device and campaign), so checking a device twice is harmless.
    const full = !this.fullyScanned.has(c.id);
    this.fullyScanned.add(c.id);
    const accepted = full ? this.admission.idsIn('accepted') : null;
    const joiners = full ? this.devices.all() : [...candidates].map((id) => this.devices.get(id));
    for (const d of joiners) {
      if (d === undefined || !(accepted?.has(d.id) ?? this.admission.state(d.id) === 'accepted') || !matchesTarget(d, spec.target, image)) continue;
      if (this.actions.enroll(c.id, d.id, waveCount - 1, now)) {
        this.event(c.id, d.id, 'action', { to: 'queued', reason: 'joined_target', wave: waveCount - 1 }, now);
      }
    }

    if (c.state !== 'running') return;
    const counts = this.actions.countByState(c.id);
    const hit = evaluateAbortCriteria(counts, spec.abort);
    if (hit !== null && (hit.criterion.action === 'abort' || hit.failures > c.ackFailures)) {
      const cmd: CampaignCommand = hit.criterion.action === 'abort' ? 'auto_abort' : 'auto_pause';
      const to = nextCampaignState(c.state, cmd)!;
      const reason = `abort_criteria: ${hit.failures}/${hit.finished} ${hit.criterion.failureType} (${hit.percent.toFixed(1)}% >= ${hit.criterion.thresholdPercent}%)`;
      this.transitionCampaign(c, cmd, to, reason, now);
      if (to === 'aborted') this.withdrawPending(c, now);
      this.audit.append('engine', `campaign.${cmd}`, `campaign:${c.id}`, { reason, counts });
      return;
    }

    let wave = c.currentWave;
    for (;;) {
      const t = this.actions.countByState(c.id, wave);
      const tally = {
        planned: waves[wave]?.plannedSize ?? 0,
        pending: Object.entries(t).reduce((n, [s, k]) => n + (terminalStates.has(s as ActionState) ? 0 : k), 0),
        succeeded: t.succeeded ?? 0,
        failed: [...failureStates].reduce((n, s) => n + (t[s] ?? 0), 0),
      };
      const { decision, row } = decideWave(tally, spec.waves.successPercent);
      if (decision === 'wait') break;
      // Failures the operator already accepted by resuming do not close the gate again.
      const accepted = [...failureStates].reduce((n, s) => n + (counts[s] ?? 0), 0) <= c.ackFailures;
      if (decision === 'pause' && !accepted) {
        const reason = `wave_gate: wave ${wave} ${tally.succeeded}/${tally.succeeded + tally.failed} succeeded, needs ${spec.waves.successPercent}% (${row})`;
        this.transitionCampaign(c, 'auto_pause', 'paused', reason, now);
        this.audit.append('engine', 'campaign.auto_pause', `campaign:${c.id}`, { reason });
        return;
      }
      if (wave + 1 < waveCount) {
        wave++;
        this.campaigns.openWave(c.id, wave, now);
        this.event(c.id, null, 'wave', { opened: wave }, now);
        continue;
      }
      if (!spec.continuous) {
        this.transitionCampaign(c, 'complete', 'completed', null, now);
        this.audit.append('engine', 'campaign.complete', `campaign:${c.id}`, { counts: this.actions.countByState(c.id) });
        return;
      }
      break;
    }

    if (!inMaintenanceWindow(spec.maintenanceWindow, now)) return;
    // No action changed state since `counts` was read (enrollment only adds queued ones).
    const slots = spec.concurrency - [...inFlightStates].reduce((n, s) => n + (counts[s] ?? 0), 0);
    // Nothing queued or waiting for a retry: nothing can be due, and the
    // query (an ordered scan of the campaign's actions) is skipped; once a
    // wave is out, most ticks of a large campaign are like that.
    if ((counts.queued ?? 0) + (counts.retry_wait ?? 0) === 0) return;
    for (const a of this.actions.due(c.id, wave, now, slots)) {
      this.setAction(
        a,
        { state: 'offered', attempt: a.attempt + 1, lastSeq: 0, progressAt: now, sentAt: null, nextAttemptAt: null },
        now,
        {},
      );
    }
  }

  /** Cancels everything not yet started and asks in-flight devices to stop before they install. */
  private withdrawPending(c: Campaign, now: number): void {
    for (const a of this.actions.byCampaign(c.id)) {
      if (a.state === 'queued' || a.state === 'retry_wait') this.setAction(a, { state: 'canceled', nextAttemptAt: null }, now, {});
      else if (preInstall.includes(a.state)) this.setAction(a, { state: 'canceling', sentAt: null, progressAt: now }, now, {});
      // installing/rebooting cannot be stopped safely; their real outcome is still recorded.
    }
  }

  private transitionCampaign(c: Campaign, cmd: CampaignCommand, to: CampaignState, reason: string | null, now: number): void {
    if (!this.campaigns.setState(c.id, c.state, to, reason, now)) {
      throw new ServerError(ServerErrorCode.IllegalState, `campaign ${c.id} changed concurrently; retry`, { transient: true });
    }
    this.event(c.id, null, 'campaign', { from: c.state, to, command: cmd, reason }, now);
  }

  private setAction(a: ActionCore, change: ActionChange, now: number, extra: Record<string, unknown>): void {
    if (!this.actions.update(a, change, now)) {
      throw new ServerError(ServerErrorCode.IllegalState, `action ${a.id} changed concurrently`, { transient: true });
    }
    if (change.state !== undefined && change.state !== a.state) {
      this.event(a.campaignId, a.deviceId, 'action', {
        actionId: a.id, from: a.state, to: change.state, attempt: change.attempt ?? a.attempt, wave: a.wave,
        ...(change.failureKind ? { failureKind: change.failureKind } : {}),
        // The device's code and reason: the event log must say WHY (a
        // signature, a rollback attempt, a slow sender), not only that it failed.
        ...(change.detail ? { detail: change.detail } : {}), ...extra,
      }, now);
    }
  }

  private event(campaignId: number, deviceId: string | null, type: string, data: Record<string, unknown>, now: number): void {
    this.events.append(campaignId, deviceId, type, data, now);
    this.touched.add(campaignId);
  }

  private flushEvents(): void {
    if (this.touched.size === 0) return;
    const ids = this.touched;
    this.touched = new Set();
    this.onEvents?.(ids);
  }

  private cached(id: number): { campaign: Campaign; image: ImageRecord } {
    let hit = this.specCache.get(id);
    if (hit === undefined) {
      const campaign = this.requireCampaign(id);
      const image = this.images.get(campaign.imageId)!;
      hit = { campaign, image };
      this.specCache.set(id, hit);
    }
    return hit;
  }

  private requireCampaign(id: number): Campaign {
    const c = this.campaigns.get(id);
    if (c === undefined) throw new ServerError(ServerErrorCode.NotFound, `campaign ${id} not found`);
    return c;
  }

  /** Campaign progress: counts per state overall and per wave. */
  status(id: number): CampaignStatus {
    const campaign = this.requireCampaign(id);
    const image = this.images.get(campaign.imageId)!;
    const counts = this.actions.countByState(id);
    const byWave = this.actions.countByWave(id);
    return {
      campaign,
      image: { id: image.id, version: image.version },
      counts,
      total: Object.values(counts).reduce((n, k) => n + (k ?? 0), 0),
      waves: this.campaigns.waves(id).map((w) => ({ ...w, counts: byWave.get(w.idx) ?? {} })),
    };
  }
}
