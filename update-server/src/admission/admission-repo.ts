import type { Db } from '../db/open.ts';
import type { AdmissionState } from './transitions.ts';

/** Admission columns of the devices table and the pre-authorization list (migration 3). */
export class AdmissionRepo {
  private readonly stmts;
  // Ids whose messages are refused, in memory: checked on every report of
  // the ingest path, where a query per report would cost measurable time.
  private readonly refused = new Set<string>();

  constructor(db: Db) {
    this.stmts = {
      state: db.prepare('SELECT admission FROM devices WHERE id = ?').pluck(),
      set: db.prepare('UPDATE devices SET admission = ?, admission_changed_at = ? WHERE id = ?'),
      countRefused: db.prepare('UPDATE devices SET refused_messages = refused_messages + ? WHERE id = ?'),
      refusedCount: db.prepare('SELECT refused_messages FROM devices WHERE id = ?').pluck(),
      preauth: db.prepare('INSERT OR IGNORE INTO device_preauth (device_id, actor, created_at) VALUES (?, ?, ?)'),
      isPreauth: db.prepare('SELECT 1 FROM device_preauth WHERE device_id = ?').pluck(),
      byState: db.prepare('SELECT id FROM devices WHERE admission = ?').pluck(),
      preauthList: db.prepare('SELECT device_id AS deviceId, actor, created_at AS createdAt FROM device_preauth ORDER BY device_id'),
    };
    for (const s of ['rejected', 'decommissioned'] as const) for (const id of this.stmts.byState.all(s) as string[]) this.refused.add(id);
  }

  /** Admission of a registered device, or undefined when unknown. */
  state(id: string): AdmissionState | undefined {
    return this.stmts.state.get(id) as AdmissionState | undefined;
  }

  /** Sets a device's admission. */
  set(id: string, state: AdmissionState, now: number): void {
    this.stmts.set.run(state, now, id);
    if (state === 'rejected' || state === 'decommissioned') this.refused.add(id);
    else this.refused.delete(id);
  }

  /** True when the device's messages must be ignored. */
  isRefused(id: string): boolean {
    return this.refused.has(id);
  }

  /** Counts `n` ignored messages of a refused device. */
  countRefused(id: string, n = 1): void {
    this.stmts.countRefused.run(n, id);
  }

  /** Messages ignored so far for a device. */
  refusedCount(id: string): number {
    return (this.stmts.refusedCount.get(id) as number | undefined) ?? 0;
  }

  /** Records a pre-authorization; false when it was already there. */
  preauthorize(id: string, actor: string, now: number): boolean {
    return this.stmts.preauth.run(id, actor, now).changes > 0;
  }

  /** Whether an id was pre-authorized. */
  isPreauthorized(id: string): boolean {
    return this.stmts.isPreauth.get(id) !== undefined;
  }

  /** Ids currently in `state`. */
  idsIn(state: AdmissionState): Set<string> {
    return new Set(this.stmts.byState.all(state) as string[]);
  }

  /** Every pre-authorization. */
  preauthorizations(): Array<{ deviceId: string; actor: string; createdAt: number }> {
    return this.stmts.preauthList.all() as Array<{ deviceId: string; actor: string; createdAt: number }>;
  }
}
