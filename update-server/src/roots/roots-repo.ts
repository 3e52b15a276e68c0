import type { Db } from '../db/open.ts';

/** One stored root version. */
export interface StoredRoot {
  version: number;
  /** root.json text exactly as uploaded (what devices receive). */
  document: string;
  uploadedBy: string;
  uploadedAt: number;
}

interface Row { version: number; document: string; uploaded_by: string; uploaded_at: number }

const toRoot = (r: Row): StoredRoot => ({ version: r.version, document: r.document, uploadedBy: r.uploaded_by, uploadedAt: r.uploaded_at });

/** The trust_roots and device_root_versions tables (migration 5). */
export class RootsRepo {
  constructor(private readonly db: Db) {}

  /** Appends a root version; false if that version is already stored (versions are never replaced). */
  insert(root: StoredRoot): boolean {
    const res = this.db
      .prepare('INSERT OR IGNORE INTO trust_roots (version, document, uploaded_by, uploaded_at) VALUES (?, ?, ?, ?)')
      .run(root.version, root.document, root.uploadedBy, root.uploadedAt);
    return res.changes === 1;
  }

  /** The newest stored root, or undefined before the first rotation. */
  latest(): StoredRoot | undefined {
    const r = this.db.prepare('SELECT * FROM trust_roots ORDER BY version DESC LIMIT 1').get() as Row | undefined;
    return r === undefined ? undefined : toRoot(r);
  }

  /** Stored roots with a version above `after`, ascending, at most `limit`. */
  after(after: number, limit: number): StoredRoot[] {
    return (this.db.prepare('SELECT * FROM trust_roots WHERE version > ? ORDER BY version LIMIT ?').all(after, limit) as Row[]).map(toRoot);
  }

  /** Every stored root, ascending. */
  list(): StoredRoot[] {
    return (this.db.prepare('SELECT * FROM trust_roots ORDER BY version').all() as Row[]).map(toRoot);
  }

  /** Records the root version a device reported. */
  setDeviceVersion(deviceId: string, version: number, at: number): void {
    this.db
      .prepare(
        `INSERT INTO device_root_versions (device_id, version, reported_at) VALUES (?, ?, ?)
         ON CONFLICT(device_id) DO UPDATE SET version = excluded.version, reported_at = excluded.reported_at`,
      )
      .run(deviceId, version, at);
  }

  /** The root version a device last reported, or undefined (never reported: an agent without root delivery). */
  deviceVersion(deviceId: string): number | undefined {
    const r = this.db.prepare('SELECT version FROM device_root_versions WHERE device_id = ?').get(deviceId) as { version: number } | undefined;
    return r?.version;
  }

  /** How many devices reported each root version. */
  deviceCounts(): Array<{ version: number; devices: number }> {
    return this.db.prepare('SELECT version, COUNT(*) AS devices FROM device_root_versions GROUP BY version ORDER BY version').all() as Array<{ version: number; devices: number }>;
  }
}
