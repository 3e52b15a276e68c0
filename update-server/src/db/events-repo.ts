import type { Db } from './open.ts';
import { statement } from './statements.ts';

/** One progress event (what the SSE stream and the console replay). */
export interface FleetEvent {
  id: number;
  campaignId: number | null;
  deviceId: string | null;
  type: string;
  data: Record<string, unknown>;
  at: number;
}

interface Row { id: number; campaign_id: number | null; device_id: string | null; type: string; data: string; at: number }

/** Event table access; ids are monotonic so a stream can resume from the last id it saw. */
export class EventsRepo {
  private readonly insertStmt;
  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare('INSERT INTO events (campaign_id, device_id, type, data, at) VALUES (?, ?, ?, ?, ?)');
  }

  /** Appends an event and returns its id. */
  append(campaignId: number | null, deviceId: string | null, type: string, data: Record<string, unknown>, at: number): number {
    return Number(this.insertStmt.run(campaignId, deviceId, type, JSON.stringify(data), at).lastInsertRowid);
  }

  /** Events of a campaign after `afterId`, oldest first. */
  since(campaignId: number, afterId: number, limit = 1000): FleetEvent[] {
    const rows = statement(this.db, 'SELECT * FROM events WHERE campaign_id = ? AND id > ? ORDER BY id LIMIT ?')
      .all(campaignId, afterId, limit) as Row[];
    return rows.map((r) => ({
      id: r.id, campaignId: r.campaign_id, deviceId: r.device_id, type: r.type,
      data: JSON.parse(r.data) as Record<string, unknown>, at: r.at,
    }));
  }
}
