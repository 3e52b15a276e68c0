import type { Db } from './open.ts';
import { statement } from './statements.ts';
import type { ActionState, FailureKind } from '../campaign/states.ts';

/** One device's part in one campaign. */
export interface Action {
  id: number;
  campaignId: number;
  deviceId: string;
  wave: number;
  state: ActionState;
  /** Offer attempt number; reports must echo it, so a report for an old attempt is ignored. */
  attempt: number;
  /** Highest report sequence number applied for this attempt; a duplicate or older one is ignored. */
  lastSeq: number;
  /** Bumped on every write (optimistic concurrency). */
  version: number;
  failureKind: FailureKind | null;
  detail: string | null;
  nextAttemptAt: number | null;
  sentAt: number | null;
  progressAt: number | null;
  updatedAt: number;
}

interface Row {
  id: number; campaign_id: number; device_id: string; wave: number; state: string; attempt: number; last_seq: number;
  version: number; failure_kind: string | null; detail: string | null; next_attempt_at: number | null;
  sent_at: number | null; progress_at: number | null; updated_at: number;
}

function toAction(r: Row): Action {
  return {
    id: r.id, campaignId: r.campaign_id, deviceId: r.device_id, wave: r.wave, state: r.state as ActionState,
    attempt: r.attempt, lastSeq: r.last_seq, version: r.version, failureKind: r.failure_kind as FailureKind | null,
    detail: r.detail, nextAttemptAt: r.next_attempt_at, sentAt: r.sent_at, progressAt: r.progress_at, updatedAt: r.updated_at,
  };
}

/** The fields report ingestion needs; read in raw mode because it runs once per device report. */
export type ActionCore = Pick<Action, 'id' | 'campaignId' | 'deviceId' | 'wave' | 'state' | 'attempt' | 'lastSeq' | 'version'>;

/** Fields an update may change. */
export type ActionChange = Partial<Pick<Action, 'state' | 'attempt' | 'lastSeq' | 'failureKind' | 'detail' | 'nextAttemptAt' | 'sentAt' | 'progressAt'>>;

const columns: Record<keyof ActionChange, string> = {
  state: 'state', attempt: 'attempt', lastSeq: 'last_seq', failureKind: 'failure_kind', detail: 'detail',
  nextAttemptAt: 'next_attempt_at', sentAt: 'sent_at', progressAt: 'progress_at',
};

/** Action table access. */
export class ActionsRepo {
  private readonly getStmt;
  private readonly coreStmt;
  private readonly enrollStmt;
  private readonly updateStmts = new Map<string, ReturnType<Db['prepare']>>();
  constructor(private readonly db: Db) {
    this.getStmt = db.prepare('SELECT * FROM actions WHERE id = ?');
    this.coreStmt = db.prepare('SELECT id, campaign_id, device_id, wave, state, attempt, last_seq, version FROM actions WHERE id = ?').raw();
    this.enrollStmt = db.prepare(`INSERT OR IGNORE INTO actions (campaign_id, device_id, wave, state, updated_at) VALUES (?, ?, ?, 'queued', ?)`);
  }

  /** Enrolls a device in a campaign wave; false if it already was (enrollment is idempotent). */
  enroll(campaignId: number, deviceId: string, wave: number, now: number): boolean {
    return this.enrollStmt.run(campaignId, deviceId, wave, now).changes === 1;
  }

  /** One action, or undefined. */
  get(id: number): Action | undefined {
    const r = this.getStmt.get(id) as Row | undefined;
    return r === undefined ? undefined : toAction(r);
  }

  /** The ingest fields of one action, or undefined (about 3x cheaper than get()). */
  getCore(id: number): ActionCore | undefined {
    const r = this.coreStmt.get(id) as [number, number, string, number, ActionState, number, number, number] | undefined;
    if (r === undefined) return undefined;
    return { id: r[0], campaignId: r[1], deviceId: r[2], wave: r[3], state: r[4], attempt: r[5], lastSeq: r[6], version: r[7] };
  }

  /**
   * Applies `change` only if the row is still at `expectedVersion`; false if
   * someone else changed it first (the caller re-reads and re-decides).
   */
  update(a: Pick<Action, 'id' | 'version'>, change: ActionChange, now: number): boolean {
    const keys = (Object.keys(change) as (keyof ActionChange)[]).sort();
    const sig = keys.join(',');
    let stmt = this.updateStmts.get(sig);
    if (stmt === undefined) {
      const sets = keys.map((k) => `${columns[k]} = ?`).join(', ');
      stmt = this.db.prepare(
        `UPDATE actions SET ${sets}${sets ? ', ' : ''}version = version + 1, updated_at = ? WHERE id = ? AND version = ?`,
      );
      this.updateStmts.set(sig, stmt);
    }
    // Positional binding: this runs once per device report, and building a
    // named-parameter object per call was a measurable share of ingest time.
    const values: unknown[] = keys.map((k) => change[k] ?? null);
    values.push(now, a.id, a.version);
    return stmt.run(values).changes === 1;
  }

  /** Actions of a campaign, optionally only in the given states, ordered by wave then id. */
  byCampaign(campaignId: number, states?: readonly ActionState[]): Action[] {
    const rows = (
      states === undefined
        ? statement(this.db, 'SELECT * FROM actions WHERE campaign_id = ? ORDER BY wave, id').all(campaignId)
        : statement(this.db, `SELECT * FROM actions WHERE campaign_id = ? AND state IN (SELECT value FROM json_each(?)) ORDER BY wave, id`)
            .all(campaignId, JSON.stringify(states))
    ) as Row[];
    return rows.map(toAction);
  }

  /**
   * In-flight actions (given states) whose last progress is at or before
   * `progressBefore`: the timeout sweep's candidates, found through the
   * (campaign_id, state) index instead of reading every in-flight row each tick.
   */
  stale(campaignId: number, states: readonly ActionState[], progressBefore: number): Action[] {
    const rows = statement(
      this.db,
      `SELECT * FROM actions WHERE campaign_id = ? AND state IN (SELECT value FROM json_each(?))
       AND progress_at IS NOT NULL AND progress_at <= ? ORDER BY wave, id`,
    )
      .all(campaignId, JSON.stringify(states), progressBefore) as Row[];
    return rows.map(toAction);
  }

  /**
   * Up to `limit` actions due for an offer in waves up to `maxWave`: queued,
   * or waiting for a retry whose time has come. Ordered by wave then id, the
   * order the engine hands out offers in.
   */
  due(campaignId: number, maxWave: number, now: number, limit: number): Action[] {
    if (limit <= 0) return [];
    const rows = statement(
      this.db,
      `SELECT * FROM actions WHERE campaign_id = ? AND wave <= ?
       AND (state = 'queued' OR (state = 'retry_wait' AND COALESCE(next_attempt_at, 0) <= ?))
       ORDER BY wave, id LIMIT ?`,
    )
      .all(campaignId, maxWave, now, limit) as Row[];
    return rows.map(toAction);
  }

  /** Every action of a device across campaigns, oldest first. */
  forDevice(deviceId: string): Action[] {
    const rows = statement(this.db, 'SELECT * FROM actions WHERE device_id = ? ORDER BY id').all(deviceId) as Row[];
    return rows.map(toAction);
  }

  /** Count of actions per state for a campaign (optionally one wave). */
  countByState(campaignId: number, wave?: number): Partial<Record<ActionState, number>> {
    const rows = (
      wave === undefined
        ? statement(this.db, 'SELECT state, COUNT(*) AS n FROM actions WHERE campaign_id = ? GROUP BY state').all(campaignId)
        : statement(this.db, 'SELECT state, COUNT(*) AS n FROM actions WHERE campaign_id = ? AND wave = ? GROUP BY state').all(campaignId, wave)
    ) as { state: ActionState; n: number }[];
    const out: Partial<Record<ActionState, number>> = {};
    for (const r of rows) out[r.state] = r.n;
    return out;
  }

  /** Count per wave and state for a campaign. */
  countByWave(campaignId: number): Map<number, Partial<Record<ActionState, number>>> {
    const rows = statement(this.db, 'SELECT wave, state, COUNT(*) AS n FROM actions WHERE campaign_id = ? GROUP BY wave, state')
      .all(campaignId) as { wave: number; state: ActionState; n: number }[];
    const out = new Map<number, Partial<Record<ActionState, number>>>();
    for (const r of rows) {
      const m = out.get(r.wave) ?? {};
      m[r.state] = r.n;
      out.set(r.wave, m);
    }
    return out;
  }

  /** Count of actions per state across all campaigns (for metrics). */
  countAll(): { state: ActionState; n: number }[] {
    return statement(this.db, 'SELECT state, COUNT(*) AS n FROM actions GROUP BY state').all() as { state: ActionState; n: number }[];
  }
}
