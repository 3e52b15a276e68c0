import type { Db } from './open.ts';
import { statement } from './statements.ts';
import type { CampaignState } from '../campaign/states.ts';
import type { CampaignSpec } from '../campaign/spec.ts';

/** A stored campaign. */
export interface Campaign {
  id: number;
  name: string;
  imageId: string;
  state: CampaignState;
  spec: CampaignSpec;
  currentWave: number;
  stateReason: string | null;
  /** Failures the operator accepted on the last resume; pause criteria only fire on failures beyond these. */
  ackFailures: number;
  createdAt: number;
  updatedAt: number;
}

/** A stored wave of a campaign. */
export interface Wave {
  campaignId: number;
  idx: number;
  kind: 'canary' | 'percent';
  plannedSize: number;
  openedAt: number | null;
}

interface Row {
  id: number; name: string; image_id: string; state: string; spec: string; current_wave: number;
  state_reason: string | null; ack_failures: number; created_at: number; updated_at: number;
}

function toCampaign(r: Row): Campaign {
  return {
    id: r.id, name: r.name, imageId: r.image_id, state: r.state as CampaignState, spec: JSON.parse(r.spec) as CampaignSpec,
    currentWave: r.current_wave, stateReason: r.state_reason, ackFailures: r.ack_failures, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

/** Campaign and wave table access. */
export class CampaignsRepo {
  constructor(private readonly db: Db) {}

  /** Inserts a running campaign with its planned waves; returns its id. */
  insert(spec: CampaignSpec, waves: readonly Omit<Wave, 'campaignId'>[], now: number): number {
    const id = Number(
      statement(
        this.db,
        `INSERT INTO campaigns (name, image_id, state, spec, current_wave, created_at, updated_at)
         VALUES (?, ?, 'running', ?, 0, ?, ?)`,
      )
        .run(spec.name, spec.imageId, JSON.stringify(spec), now, now).lastInsertRowid,
    );
    const w = statement(this.db, 'INSERT INTO waves (campaign_id, idx, kind, planned_size, opened_at) VALUES (?, ?, ?, ?, ?)');
    for (const wave of waves) w.run(id, wave.idx, wave.kind, wave.plannedSize, wave.openedAt);
    return id;
  }

  /** One campaign, or undefined. */
  get(id: number): Campaign | undefined {
    const r = statement(this.db, 'SELECT * FROM campaigns WHERE id = ?').get(id) as Row | undefined;
    return r === undefined ? undefined : toCampaign(r);
  }

  /** All campaigns, newest first, optionally only those in `states`. */
  list(states?: readonly CampaignState[]): Campaign[] {
    const rows = statement(this.db, 'SELECT * FROM campaigns ORDER BY id DESC').all() as Row[];
    return rows.map(toCampaign).filter((c) => states === undefined || states.includes(c.state));
  }

  /** Moves a campaign to `to` only if it is still in `from` (so two writers cannot both win). */
  setState(id: number, from: CampaignState, to: CampaignState, reason: string | null, now: number): boolean {
    return (
      statement(this.db, 'UPDATE campaigns SET state = ?, state_reason = ?, updated_at = ? WHERE id = ? AND state = ?')
        .run(to, reason, now, id, from).changes === 1
    );
  }

  /** Records how many failures the operator accepted when resuming. */
  setAckFailures(id: number, n: number): void {
    statement(this.db, 'UPDATE campaigns SET ack_failures = ? WHERE id = ?').run(n, id);
  }

  /** Opens wave `idx` (idempotent: an opened wave keeps its first open time). */
  openWave(id: number, idx: number, now: number): void {
    statement(this.db, 'UPDATE campaigns SET current_wave = MAX(current_wave, ?), updated_at = ? WHERE id = ?').run(idx, now, id);
    statement(this.db, 'UPDATE waves SET opened_at = COALESCE(opened_at, ?) WHERE campaign_id = ? AND idx = ?').run(now, id, idx);
  }

  /** The waves of a campaign in order. */
  waves(id: number): Wave[] {
    const rows = statement(this.db, 'SELECT * FROM waves WHERE campaign_id = ? ORDER BY idx').all(id) as {
      campaign_id: number; idx: number; kind: string; planned_size: number; opened_at: number | null;
    }[];
    return rows.map((r) => ({
      campaignId: r.campaign_id, idx: r.idx, kind: r.kind as Wave['kind'], plannedSize: r.planned_size, openedAt: r.opened_at,
    }));
  }
}
