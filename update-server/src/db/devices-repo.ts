import type { Db } from './open.ts';
import { statement } from './statements.ts';
import type { AdmissionState } from '../admission/transitions.ts';

/** A device as the server knows it. */
export interface Device {
  id: string;
  hardware: string;
  tags: string[];
  currentVersion: string | null;
  bootedSlot: string | null;
  online: boolean;
  firstSeen: number;
  lastSeen: number;
  /** Admission state (migration 3); only `accepted` devices are targeted. */
  admission: AdmissionState;
  /** Both slots as the agent last reported them (migration 4); null before its first hello. */
  slots: DeviceSlots | null;
}

/** One slot as the agent reports it: the image version it verified there, and whether it verifies (bootable). */
export interface SlotReport {
  version: string | null;
  bootable: boolean;
}

/** Both slots and whether the running one is still on trial. */
export interface DeviceSlots {
  a: SlotReport;
  b: SlotReport;
  trial: boolean;
}

/** What a device says about itself when it connects. */
export interface DeviceHello {
  deviceId: string;
  hardware: string;
  tags?: readonly string[];
  currentVersion?: string | null;
  bootedSlot?: string | null;
  slots?: DeviceSlots;
}

interface Row {
  id: string; hardware: string; tags: string; current_version: string | null; booted_slot: string | null;
  online: number; first_seen: number; last_seen: number; admission: AdmissionState; slots: string | null;
}

function toDevice(r: Row): Device {
  return {
    id: r.id, hardware: r.hardware, tags: JSON.parse(r.tags) as string[], currentVersion: r.current_version,
    bootedSlot: r.booted_slot, online: r.online === 1, firstSeen: r.first_seen, lastSeen: r.last_seen,
    admission: r.admission, slots: r.slots === null ? null : (JSON.parse(r.slots) as DeviceSlots),
  };
}

/** Filters for listing devices. */
export interface DeviceQuery {
  hardware?: string;
  tag?: string;
  version?: string;
  online?: boolean;
  /** Part of the device id (the console's search box). */
  q?: string;
  limit: number;
  offset: number;
}

/** Device table access. */
export class DevicesRepo {
  private readonly stmts;
  constructor(private readonly db: Db) {
    // Prepared once: these run per report/hello on the ingest path.
    this.stmts = {
      upsert: db.prepare(
        `INSERT INTO devices (id, hardware, tags, current_version, booted_slot, slots, online, first_seen, last_seen)
         VALUES (@id, @hardware, @tags, @version, @slot, @slots, 1, @now, @now)
         ON CONFLICT(id) DO UPDATE SET hardware = @hardware,
           tags = COALESCE(@tagsOrNull, tags), current_version = @version, booted_slot = @slot,
           slots = COALESCE(@slots, slots), online = 1, last_seen = @now`,
      ),
      setOffline: db.prepare('UPDATE devices SET online = 0, last_seen = ? WHERE id = ?'),
      setVersion: db.prepare('UPDATE devices SET current_version = ?, last_seen = ? WHERE id = ?'),
      get: db.prepare('SELECT * FROM devices WHERE id = ?'),
    };
  }

  /** Inserts or refreshes a device from its hello; returns the stored row. */
  upsert(h: DeviceHello, now: number): Device {
    this.stmts.upsert
      .run({
        id: h.deviceId, hardware: h.hardware, tags: JSON.stringify(h.tags ?? []),
        tagsOrNull: h.tags === undefined ? null : JSON.stringify(h.tags),
        version: h.currentVersion ?? null, slot: h.bootedSlot ?? null, slots: h.slots === undefined ? null : JSON.stringify(h.slots), now,
      });
    return this.get(h.deviceId)!;
  }

  /** Marks a device offline (its connection dropped). */
  setOffline(id: string, now: number): void {
    this.stmts.setOffline.run(now, id);
  }

  /** Records the version a device now runs (after it committed an update). */
  setVersion(id: string, version: string, now: number): void {
    this.stmts.setVersion.run(version, now, id);
  }

  /** One device, or undefined. */
  get(id: string): Device | undefined {
    const r = this.stmts.get.get(id) as Row | undefined;
    return r === undefined ? undefined : toDevice(r);
  }

  /** Every device (for target selection). */
  all(): Device[] {
    return (statement(this.db, 'SELECT * FROM devices ORDER BY id').all() as Row[]).map(toDevice);
  }

  /** Devices matching `q`, plus the total before pagination. */
  list(q: DeviceQuery): { items: Device[]; total: number } {
    const where: string[] = [];
    const args: Record<string, unknown> = { limit: q.limit, offset: q.offset };
    if (q.hardware !== undefined) { where.push('hardware = @hardware'); args['hardware'] = q.hardware; }
    if (q.version !== undefined) { where.push('current_version = @version'); args['version'] = q.version; }
    if (q.online !== undefined) { where.push('online = @online'); args['online'] = q.online ? 1 : 0; }
    if (q.q !== undefined && q.q !== '') { where.push('instr(id, @q) > 0'); args['q'] = q.q; }
    if (q.tag !== undefined) {
      where.push('EXISTS (SELECT 1 FROM json_each(devices.tags) WHERE value = @tag)');
      args['tag'] = q.tag;
    }
    const w = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const total = (statement(this.db, `SELECT COUNT(*) AS n FROM devices ${w}`).get(args) as { n: number }).n;
    const items = (statement(this.db, `SELECT * FROM devices ${w} ORDER BY id LIMIT @limit OFFSET @offset`).all(args) as Row[]).map(toDevice);
    return { items, total };
  }
}
