/**
 * The update agent: executes the lifecycle table against injected side
 * effects (slots, boot control, journal, health check, transport, source).
 *
 * Discipline that makes it power-safe:
 *  1. The next state is journaled BEFORE its entry action runs.
 *  2. Every entry action is idempotent, so re-running it after a cut is safe.
 *  3. The signed header is re-verified from the journal on every resume;
 *     nothing from memory or the network is trusted across a reboot.
 *  4. The anti-rollback floor rises only in the same journal write that
 *     records the commit, after the bootloader env says the slot is good.
 */
import type { BlockDevice } from '@uniota/block-device';
import { isPowerCut } from '@uniota/block-device';
import type { BootControl, SlotName } from '@uniota/boot-control';
import { otherSlot } from '@uniota/boot-control';
import {
  ImageError,
  decodeSlotTrailer,
  encodeSlotTrailer,
  erasedTrailerPrefix,
  parseBundleHeader,
  slotCapacity,
  threadedChunkHasher,
  trailerOffset,
  verifyManifest,
  verifySlot,
} from '@uniota/image';
import type { ChunkHasher, Manifest, RootSigned } from '@uniota/image';
import { UniotaError } from '@uniota/errors';
import { HISTORY_LIMIT, initialState } from './agent-state.ts';
import type { AgentStateName, CommittedImage, JournalState, UpdateJob, UpdateOutcome } from './agent-state.ts';
import { AgentError } from './errors.ts';
import type { HealthCheck } from './health-check.ts';
import type { ImageSource } from './image-source.ts';
import type { Journal } from './journal.ts';
import { nextState } from './lifecycle-table.ts';
import type { AgentEvent } from './lifecycle-table.ts';
import { resumeAction } from './resume-table.ts';
import { adoptOfferedRoots, trustedRootOf } from './root-delivery.ts';
import { DEFAULT_DURABLE_BYTES, firstMissingChunk, streamIntoSlot } from './slot-writer.ts';
import type { AgentTransport, StatusReport, UpdateOffer } from './transport.ts';

export interface AgentDeps {
  bootControl: BootControl;
  slots: Record<SlotName, BlockDevice>;
  journal: Journal;
  /** The slot the bootloader booted (from the boot result, kernel command line or env). */
  runningSlot: SlotName;
  hardware: string;
  root: RootSigned;
  trailerSize: number;
  clock: () => Date;
  healthCheck: HealthCheck;
  transport: AgentTransport;
  source: ImageSource;
  /**
   * Where payload chunks are hashed (download and slot verification);
   * default: worker threads for large runs. A simulated fleet passes one
   * that hashes identical bytes once per process (FleetChunkHasher).
   */
  hasher?: ChunkHasher;
  /** Chunks between durable progress records (resume granularity vs. flushes); default: every 4 MiB. */
  progressEvery?: number;
  log?: (line: string) => void;
  /** Deliberate defects for the fault tester's self-test only (see UnsafeAgentOptions); default none. */
  unsafe?: UnsafeAgentOptions;
}

/**
 * Deliberately broken behaviours. They exist ONLY so `uniota fault-test` can
 * prove it reports violations (a tester that cannot fail proves nothing);
 * every flag defaults off and no production path sets one.
 */
export interface UnsafeAgentOptions {
  /** Commit the trial image without running its health check. */
  commitWithoutHealthCheck?: boolean;
  /** Raise the anti-rollback floor when an offer is accepted instead of at commit. */
  raiseCounterAtOffer?: boolean;
}

/** Why the agent's run returned. */
export type RunResult =
  | { kind: 'idle' }
  | { kind: 'reboot' }
  | { kind: 'waiting-install' }
  /** A transient download failure: the job is kept and resumes on the next offer of the same action. */
  | { kind: 'stalled'; code: string };

/** How many times a rollback is re-issued before the agent accepts that the old slot cannot boot. */
const MAX_ROLLBACK_ATTEMPTS = 3;
/** How many times the arm write is retried after power cuts before the update is abandoned. */
const MAX_ARM_ATTEMPTS = 5;

export class UpdateAgent {
  private s: JournalState;

  private constructor(
    private readonly d: AgentDeps,
    state: JournalState,
  ) {
    this.s = state;
  }

  /** Opens the agent: loads the journal, or provisions it from the running slot on first start. */
  static async open(deps: AgentDeps): Promise<UpdateAgent> {
    let state = await deps.journal.load();
    if (state === null) {
      // No journal (first start, or both copies lost). If the running slot is
      // on trial we cannot know it passed a health check: treat the other
      // slot as the known-good one so start() rolls back to it, unless it
      // does not verify (then what runs is all we have).
      const boot = await deps.bootControl.readState();
      const onTrial = boot.upgradeAvailable && boot.bootPart === deps.runningSlot;
      const known = (onTrial ? await verifiedImage(deps, otherSlot(deps.runningSlot)) : null) ?? (await verifiedImage(deps, deps.runningSlot));
      if (known === null) throw new AgentError('JOURNAL_EMPTY', 'no journal and no slot that verifies: cannot provision');
      state = initialState(known);
      await deps.journal.save(state);
    }
    return new UpdateAgent(deps, state);
  }

  /** The persisted state (a copy). */
  get state(): JournalState {
    return structuredClone(this.s);
  }

  /** Version of the trust root the agent verifies with (reported to the server so it sends only newer roots). */
  get rootVersion(): number {
    return this.root.version;
  }

  /** The trust root in force now (images, server keys); changes when an offer rotates it. */
  get trustedRoot(): RootSigned {
    return this.root;
  }

  /** The trust root in force: the newest one rotated into the journal, else the provisioned one. */
  private get root(): RootSigned {
    return trustedRootOf(this.s, this.d.root).signed;
  }

  /** Resumes after a (re)boot: reconciles the journal with what the bootloader did, then runs. */
  async start(): Promise<RunResult> {
    await this.resendUnreportedOutcomes();
    const job = this.s.update;
    if (this.s.state === 'idle' || job === null) return this.reconcileIdle();
    const boot = await this.d.bootControl.readState();
    const onTarget = this.d.runningSlot === job.targetSlot;
    const trial = boot.upgradeAvailable && boot.bootPart === this.d.runningSlot;
    const row = resumeAction(this.s.state, { onTarget, trial });
    this.log(`resume ${this.s.state} (onTarget=${onTarget} trial=${trial}): ${row.why}`);
    if (row.action === 'none') return { kind: 'idle' };
    if (row.action === 'reenter') return this.guard(() => this.drive(true));
    if ('fail' in row.action) {
      const code = row.action.fail;
      return this.guard(() => this.finish('slot-invalid', 'failed', code, row.why, false));
    }
    const event = row.action.event;
    return this.guard(async () => {
      if (event === 'booted-old-slot') return this.finish(event, 'rolled-back', 'TRIAL_BOOT_FAILED', 'the bootloader rolled back before the new image was committed', false);
      if (event === 'rollback-done') return this.finish(event, 'rolled-back', 'HEALTH_CHECK_FAILED', 'the new image failed its health check', false);
      if (event === 'arm-not-landed') {
        if (job.armAttempts >= MAX_ARM_ATTEMPTS) return this.finish('slot-invalid', 'failed', 'SLOT_VERIFY_FAILED', 'arming kept failing', true);
        await this.transition(event, (s) => ((s.update as UpdateJob).armAttempts += 1));
        return this.drive(false);
      }
      await this.transition(event);
      return this.drive(false);
    });
  }

  /** Handles an update offer: verifies the signed header before anything else, then installs. */
  async offer(offer: UpdateOffer): Promise<RunResult> {
    const done = this.s.history.find((h) => h.actionId === offer.actionId);
    if (done !== undefined) {
      await this.d.transport.report({ actionId: offer.actionId, campaignId: done.campaignId, step: done.outcome, version: done.version, ...(done.code === null ? {} : { code: done.code }) });
      return { kind: 'idle' };
    }
    const job = this.s.update;
    if (job !== null) {
      if (job.actionId === offer.actionId) {
        if (this.s.state === 'downloading') return this.guard(() => this.drive(true));
        if (this.s.state === 'installed' && !offer.downloadOnly) return this.install(offer.actionId);
        await this.report(this.s.state);
        return this.s.state === 'installed' ? { kind: 'waiting-install' } : { kind: 'idle' };
      }
      if (this.s.state !== 'downloading' && this.s.state !== 'installed' && this.s.state !== 'verifying-slot') {
        await this.reject(offer.actionId, new AgentError('BUSY', `update ${job.actionId} is in state ${this.s.state}`, { transient: true }), offer.campaignId);
        return { kind: 'idle' };
      }
      // A newer action supersedes one that has not touched the boot state yet.
      await this.guard(() => this.finish('cancel', 'failed', 'CANCELLED', `superseded by ${offer.actionId}`, false));
    }
    let manifest: Manifest;
    try {
      // Newer roots first: the bundle must verify against the root the
      // operator rotated to, and that root is journaled BEFORE it is used so
      // a power cut can never leave a device trusting a root it did not keep.
      const rotated = adoptOfferedRoots(this.s, this.d.root, offer.roots, this.d.clock());
      if (rotated !== null) {
        await this.save(rotated);
        this.log(`trust root rotated to version ${this.root.version}`);
      }
      const header = parseBundleHeader(offer.header);
      manifest = verifyManifest(header, this.root, {
        hardware: this.d.hardware,
        minSecurityCounter: this.s.minSecurityCounter,
        now: this.d.clock(),
      });
    } catch (err) {
      if (isPowerCut(err)) throw err;
      await this.reject(offer.actionId, err, offer.campaignId);
      return { kind: 'idle' };
    }
    const running = this.d.runningSlot;
    if (await this.alreadyRunning(offer.header)) {
      // Exactly this signed image runs already (a retried offer whose first
      // attempt committed): report it, change nothing.
      const version = manifest.version;
      await this.save({
        ...this.s,
        // ALREADY_INSTALLED marks an acknowledgement, not a second install.
        history: [...this.s.history, { actionId: offer.actionId, campaignId: offer.campaignId, version, outcome: 'committed' as const, code: 'ALREADY_INSTALLED', reported: true }].slice(-HISTORY_LIMIT),
      });
      await this.d.transport.report({ actionId: offer.actionId, campaignId: offer.campaignId, step: 'committed', version, code: 'ALREADY_INSTALLED', reason: 'already installed' });
      return { kind: 'idle' };
    }
    const target = otherSlot(running);
    const capacity = slotCapacity(this.d.slots[target].size, this.d.trailerSize);
    if (manifest.payload.size > capacity) {
      await this.reject(offer.actionId, new AgentError('IMAGE_TOO_LARGE', `image of ${manifest.payload.size} bytes exceeds the slot capacity of ${capacity} bytes`), offer.campaignId);
      return { kind: 'idle' };
    }
    const newJob: UpdateJob = {
      actionId: offer.actionId,
      campaignId: offer.campaignId,
      headerB64: Buffer.from(offer.header).toString('base64'),
      version: manifest.version,
      securityCounter: manifest.securityCounter,
      payloadSize: manifest.payload.size,
      chunkSize: manifest.payload.chunkSize,
      chunkCount: manifest.payload.chunks.length,
      fromSlot: running,
      targetSlot: target,
      nextChunk: 0,
      downloadOnly: offer.downloadOnly,
      armAttempts: 0,
      rollbackAttempts: 0,
    };
    return this.guard(async () => {
      await this.transition('offer-accepted', (s) => {
        s.update = newJob;
        if (this.d.unsafe?.raiseCounterAtOffer === true) s.minSecurityCounter = Math.max(s.minSecurityCounter, newJob.securityCounter);
      });
      return this.drive(false);
    });
  }

  /** Installs a downloaded (download-only) update. */
  async install(actionId: string): Promise<RunResult> {
    if (this.s.state !== 'installed' || this.s.update?.actionId !== actionId) {
      throw new AgentError('ILLEGAL_TRANSITION', `no downloaded update ${actionId} to install (state ${this.s.state})`);
    }
    return this.guard(async () => {
      await this.transition('install', (s) => ((s.update as UpdateJob).downloadOnly = false));
      return this.drive(false);
    });
  }

  /** Cancels an update that has not reached the boot state yet. */
  async cancel(actionId: string): Promise<boolean> {
    if (this.s.update?.actionId !== actionId) return false;
    if (!['downloading', 'verifying-slot', 'installed'].includes(this.s.state)) return false;
    await this.guard(() => this.finish('cancel', 'failed', 'CANCELLED', 'cancelled by the server', false));
    return true;
  }

  /** The accepted command sequence number (replay guard), persisted with the journal. */
  get lastCommandSeq(): number {
    return this.s.lastCommandSeq;
  }

  /** Records a newly accepted command sequence number. */
  async acceptCommandSeq(seq: number): Promise<void> {
    if (seq <= this.s.lastCommandSeq) return;
    await this.save({ ...this.s, lastCommandSeq: seq });
  }

  // ---- the engine ------------------------------------------------------------

  /** Runs entry actions until the agent waits (idle, reboot, waiting for install, stalled). */
  private async drive(resumed: boolean): Promise<RunResult> {
    let again = resumed;
    for (;;) {
      const r = await this.enterAction(this.s.state as AgentStateName, again);
      again = false;
      if (r !== 'continue') return r;
    }
  }

  /** The entry action of `state`. Returns 'continue' after a transition. */
  private async enterAction(state: AgentStateName, resumed: boolean): Promise<RunResult | 'continue'> {
    const job = this.s.update;
    if (state === 'idle' || job === null) return { kind: 'idle' };
    switch (state) {
      case 'downloading':
        return this.download(job);
      case 'verifying-slot':
        return this.verifyInstalledSlot(job);
      case 'installed':
        if (job.downloadOnly) return { kind: 'waiting-install' };
        await this.transition('install');
        return 'continue';
      case 'arming':
        return this.arm(job);
      case 'rebooting':
        return { kind: 'reboot' };
      case 'health-check': {
        const health = this.d.unsafe?.commitWithoutHealthCheck === true ? { healthy: true, reason: 'UNSAFE: health check skipped' } : await this.d.healthCheck.run();
        this.log(`health check: ${health.healthy ? 'healthy' : 'unhealthy'} (${health.reason})`);
        if (health.healthy) await this.transition('health-ok');
        else await this.transition('health-fail');
        return 'continue';
      }
      case 'committing':
        await this.d.bootControl.markGood();
        await this.finish('commit-done', 'committed', null, 'health check passed', false, (s) => {
          s.committed = { slot: job.targetSlot, version: job.version, securityCounter: job.securityCounter };
          s.minSecurityCounter = Math.max(s.minSecurityCounter, job.securityCounter);
        });
        return 'continue';
      case 'rolling-back':
        if (resumed) {
          if (job.rollbackAttempts >= MAX_ROLLBACK_ATTEMPTS) {
            // The old slot keeps failing to boot; the image we run is the only
            // one that boots. Keep it rather than loop forever.
            await this.finish('rollback-done', 'failed', 'TRIAL_BOOT_FAILED', 'rollback did not take; the old slot does not boot', false, (s) => {
              s.committed = { slot: job.targetSlot, version: job.version, securityCounter: s.committed?.securityCounter ?? 0 };
            });
            return 'continue';
          }
          await this.save({ ...this.s, update: { ...job, rollbackAttempts: job.rollbackAttempts + 1 } });
        }
        await this.d.bootControl.markBad(job.fromSlot);
        return { kind: 'reboot' };
    }
  }

  private verifiedManifest(job: UpdateJob): Manifest {
    const header = parseBundleHeader(Buffer.from(job.headerB64, 'base64'));
    // Expiry was checked when the offer was accepted; an image must not
    // become uninstallable half-way through because its deadline passed.
    return verifyManifest(header, this.root, { hardware: this.d.hardware, minSecurityCounter: this.s.minSecurityCounter, now: this.d.clock(), checkExpiry: false });
  }

  private async download(job: UpdateJob): Promise<RunResult | 'continue'> {
    const manifest = this.verifiedManifest(job);
    const slot = this.d.slots[job.targetSlot];
    if (job.nextChunk === 0) {
      // Erase the trailer first: from here until the new trailer is written
      // last, no bootloader will take this slot for a complete image.
      await slot.write(trailerOffset(slot.size, this.d.trailerSize), erasedTrailerPrefix());
      await slot.flush();
    }
    const every = Math.max(1, this.d.progressEvery ?? Math.floor(DEFAULT_DURABLE_BYTES / job.chunkSize));
    const from = await firstMissingChunk(slot, manifest, job.nextChunk);
    let next = from;
    try {
      if (from < job.chunkCount) {
        next = await streamIntoSlot({
          slot,
          manifest,
          source: this.d.source,
          actionId: job.actionId,
          from,
          every,
          ...(this.d.hasher === undefined ? {} : { hasher: this.d.hasher }),
          onDurable: async (reached) => {
            await this.save({ ...this.s, update: { ...job, nextChunk: reached } });
            await this.report('downloading', { progress: { chunksDone: reached, chunkCount: job.chunkCount } });
          },
        });
      }
      if (next !== job.chunkCount) throw new AgentError('DOWNLOAD_FAILED', `source ended at chunk ${next} of ${job.chunkCount}`, { transient: true });
    } catch (err) {
      if (isPowerCut(err)) throw err;
      const code = err instanceof UniotaError ? err.code : 'DOWNLOAD_FAILED';
      const reason = err instanceof Error ? err.message : String(err);
      // A bad chunk or a dropped link is the network's fault, not the image's:
      // keep what is durably written and resume from it on the next offer.
      // Only an agent error that says otherwise (an offer contradicting its
      // own signed manifest) is reported as not worth retrying.
      const transient = err instanceof AgentError ? err.transient : true;
      await this.d.transport.report({ actionId: job.actionId, campaignId: job.campaignId, step: 'failed', version: job.version, code, reason, transient });
      return { kind: 'stalled', code };
    }
    await slot.flush();
    await this.transition('download-complete', (s) => ((s.update as UpdateJob).nextChunk = job.chunkCount));
    return 'continue';
  }

  private async verifyInstalledSlot(job: UpdateJob): Promise<RunResult | 'continue'> {
    const slot = this.d.slots[job.targetSlot];
    const off = trailerOffset(slot.size, this.d.trailerSize);
    await slot.write(off, encodeSlotTrailer(Buffer.from(job.headerB64, 'base64'), this.d.trailerSize));
    await slot.flush();
    const problem = await this.checkSlot(job);
    if (problem !== null) {
      await slot.write(off, erasedTrailerPrefix());
      await slot.flush();
      await this.finish('slot-invalid', 'failed', 'SLOT_VERIFY_FAILED', problem, true);
      return 'continue';
    }
    await this.transition('slot-verified');
    return 'continue';
  }

  private async arm(job: UpdateJob): Promise<RunResult | 'continue'> {
    // Re-verify exactly the bytes that will boot, right before activating them.
    const problem = await this.checkSlot(job);
    if (problem !== null) {
      await this.finish('slot-invalid', 'failed', 'SLOT_VERIFY_FAILED', problem, true);
      return 'continue';
    }
    await this.d.bootControl.setTrySlot(job.targetSlot);
    await this.transition('armed');
    return 'continue';
  }

  /** Reads the whole target slot back and verifies it; returns the problem or null. */
  private async checkSlot(job: UpdateJob): Promise<string | null> {
    try {
      const v = await verifySlot(
        this.d.slots[job.targetSlot],
        this.d.trailerSize,
        this.root,
        { hardware: this.d.hardware, minSecurityCounter: this.s.minSecurityCounter, now: this.d.clock(), checkExpiry: false },
        this.d.hasher ?? threadedChunkHasher,
      );
      if (v.manifest.version !== job.version || Buffer.from(job.headerB64, 'base64').length === 0) return 'slot holds a different image';
      return null;
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
      return `${err.code}: ${err.message}`;
    }
  }

  /** True when the running slot holds exactly the image whose signed header is `header`. */
  private async alreadyRunning(header: Uint8Array): Promise<boolean> {
    if (this.s.committed?.slot !== this.d.runningSlot) return false;
    const slot = this.d.slots[this.d.runningSlot];
    const stored = decodeSlotTrailer(await slot.read(trailerOffset(slot.size, this.d.trailerSize), this.d.trailerSize));
    if (stored === null) return false;
    try {
      return Buffer.from(parseBundleHeader(stored).manifestBytes).equals(Buffer.from(parseBundleHeader(header).manifestBytes));
    } catch (err) {
      if (err instanceof ImageError) return false;
      throw err;
    }
  }

  /** Idle start-up: make sure the env and the journal agree on the committed image. */
  private async reconcileIdle(): Promise<RunResult> {
    const boot = await this.d.bootControl.readState();
    const running = this.d.runningSlot;
    const committed = this.s.committed;
    if (boot.upgradeAvailable && boot.bootPart === running) {
      // A trial nobody journaled: the journal is the authority on what is
      // known good, and an image that never passed a health check is not.
      if (committed !== null && committed.slot !== running) {
        this.log(`unexpected trial of slot ${running}; returning to committed slot ${committed.slot}`);
        await this.d.bootControl.markBad(committed.slot);
        return { kind: 'reboot' };
      }
      await this.d.bootControl.markGood();
    }
    if (committed === null || committed.slot !== running) {
      // The bootloader fell back (e.g. the committed slot no longer verifies):
      // what runs now is what we have. The anti-rollback floor is not raised.
      const image = await verifiedImage(this.d, running, this.root);
      if (image !== null) await this.save({ ...this.s, committed: image });
    }
    return { kind: 'idle' };
  }

  // ---- persistence and reporting -----------------------------------------------

  private async save(next: JournalState): Promise<void> {
    await this.d.journal.save(next);
    this.s = next;
  }

  /** Journals the table's next state for `event` (plus any change), then reports it. */
  private async transition(event: AgentEvent, change?: (s: JournalState) => void): Promise<void> {
    const next = structuredClone(this.s);
    next.state = nextState(this.s.state, event);
    change?.(next);
    this.log(`${this.s.state} --${event}--> ${next.state}`);
    await this.save(next);
    if (next.state !== 'idle') await this.report(next.state);
  }

  /** Ends the current job with `outcome` in one journal write, then reports it. */
  private async finish(
    event: AgentEvent,
    outcome: UpdateOutcome,
    code: string | null,
    reason: string,
    transient: boolean,
    change?: (s: JournalState) => void,
  ): Promise<RunResult> {
    const job = this.s.update as UpdateJob;
    await this.transition(event, (s) => {
      s.update = null;
      s.history = [...s.history, { actionId: job.actionId, campaignId: job.campaignId, version: job.version, outcome, code, reported: false }].slice(-HISTORY_LIMIT);
      change?.(s);
    });
    await this.d.transport.report({
      actionId: job.actionId,
      campaignId: job.campaignId,
      step: outcome,
      version: job.version,
      ...(code === null ? {} : { code, transient }),
      reason,
    });
    await this.markReported(job.actionId);
    return { kind: 'idle' };
  }

  private async markReported(actionId: string): Promise<void> {
    const history = this.s.history.map((h) => (h.actionId === actionId ? { ...h, reported: true } : h));
    await this.save({ ...this.s, history });
  }

  private async resendUnreportedOutcomes(): Promise<void> {
    for (const h of this.s.history.filter((x) => !x.reported)) {
      await this.d.transport.report({ actionId: h.actionId, campaignId: h.campaignId, step: h.outcome, version: h.version, ...(h.code === null ? {} : { code: h.code }) });
      await this.markReported(h.actionId);
    }
  }

  private async report(step: AgentStateName, extra: Partial<StatusReport> = {}): Promise<void> {
    const job = this.s.update;
    if (job === null) return;
    const progress = step === 'downloading' ? { progress: { chunksDone: job.nextChunk, chunkCount: job.chunkCount } } : {};
    await this.d.transport.report({ actionId: job.actionId, campaignId: job.campaignId, step, version: job.version, ...progress, ...extra });
  }

  private async reject(actionId: string, err: unknown, campaignId: string | null = null): Promise<void> {
    const code = err instanceof UniotaError ? err.code : 'OFFER_INVALID';
    const reason = err instanceof Error ? err.message : String(err);
    const transient = err instanceof UniotaError ? err.transient : false;
    this.log(`offer ${actionId} rejected: ${code}: ${reason}`);
    await this.d.transport.report({ actionId, campaignId, step: 'rejected', version: null, code, reason, transient });
  }

  /**
   * Runs a step; an unexpected error (not a power cut) ends the job as failed
   * instead of leaving the agent wedged. The boot state is never touched here:
   * whatever the bootloader holds stays consistent on its own.
   */
  private async guard(step: () => Promise<RunResult>): Promise<RunResult> {
    try {
      return await step();
    } catch (err) {
      if (isPowerCut(err) || this.s.update === null) throw err;
      const code = err instanceof UniotaError ? err.code : 'INTERNAL';
      this.log(`step failed in ${this.s.state}: ${code}: ${err instanceof Error ? err.message : String(err)}`);
      if (['downloading', 'verifying-slot', 'installed', 'arming'].includes(this.s.state)) {
        return this.finish('slot-invalid', 'failed', code, err instanceof Error ? err.message : String(err), true);
      }
      throw err;
    }
  }

  private log(line: string): void {
    this.d.log?.(line);
  }
}

/** The committed-image record of `slot` if it verifies, else null. */
async function verifiedImage(deps: AgentDeps, slot: SlotName, root: RootSigned = deps.root): Promise<CommittedImage | null> {
  try {
    const v = await verifySlot(
      deps.slots[slot],
      deps.trailerSize,
      root,
      { hardware: deps.hardware, minSecurityCounter: 0, now: deps.clock(), checkExpiry: false },
      deps.hasher ?? threadedChunkHasher,
    );
    return { slot, version: v.manifest.version, securityCounter: v.manifest.securityCounter };
  } catch (err) {
    if (err instanceof ImageError) return null;
    throw err;
  }
}
