import { createHash } from 'node:crypto';
import type { Db } from '../db/open.ts';

/** One audit entry as stored. */
export interface AuditEntry {
  seq: number;
  at: number;
  actor: string;
  action: string;
  subject: string;
  details: string;
  prevHash: string;
  hash: string;
}

/** The hash the first entry links to. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * The hash of an entry covers every stored field plus the previous hash, so
 * editing, deleting or reordering any entry breaks every hash after it.
 * A JSON array fixes field order without needing a canonicaliser.
 */
export function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  const material = JSON.stringify([e.seq, e.at, e.actor, e.action, e.subject, e.details, e.prevHash]);
  return createHash('sha256').update(material).digest('hex');
}

interface Row { seq: number; at: number; actor: string; action: string; subject: string; details: string; prev_hash: string; hash: string }

function toEntry(r: Row): AuditEntry {
  return { seq: r.seq, at: r.at, actor: r.actor, action: r.action, subject: r.subject, details: r.details, prevHash: r.prev_hash, hash: r.hash };
}

/** Append-only, hash-chained record of who changed what. */
export class AuditLog {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  /**
   * Appends an entry. Runs inside the caller's transaction when there is one,
   * so the audit entry and the change it records commit together.
   */
  append(actor: string, action: string, subject: string, details: Record<string, unknown> = {}): AuditEntry {
    const last = this.db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as
      | { seq: number; hash: string }
      | undefined;
    const base = {
      seq: (last?.seq ?? 0) + 1, at: this.now(), actor, action, subject,
      details: JSON.stringify(details), prevHash: last?.hash ?? GENESIS_HASH,
    };
    const entry: AuditEntry = { ...base, hash: entryHash(base) };
    this.db
      .prepare('INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(entry.seq, entry.at, entry.actor, entry.action, entry.subject, entry.details, entry.prevHash, entry.hash);
    return entry;
  }

  /** Entries after `afterSeq`, oldest first. */
  list(afterSeq = 0, limit = 100): AuditEntry[] {
    return (this.db.prepare('SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit) as Row[]).map(toEntry);
  }
}

/** Result of checking the chain. */
export type AuditVerification =
  | { ok: true; entries: number; head: string }
  | { ok: false; entries: number; brokenAt: number; reason: string };

/** Walks the whole audit log and checks every link and hash. */
export function verifyAuditChain(db: Db): AuditVerification {
  let prev = GENESIS_HASH;
  let expectedSeq = 1;
  let n = 0;
  for (const r of db.prepare('SELECT * FROM audit_log ORDER BY seq').iterate() as IterableIterator<Row>) {
    const e = toEntry(r);
    n++;
    if (e.seq !== expectedSeq) return { ok: false, entries: n, brokenAt: e.seq, reason: `expected entry ${expectedSeq}, found ${e.seq} (entry removed?)` };
    if (e.prevHash !== prev) return { ok: false, entries: n, brokenAt: e.seq, reason: 'link to the previous entry does not match' };
    if (entryHash(e) !== e.hash) return { ok: false, entries: n, brokenAt: e.seq, reason: 'entry content does not match its hash (edited?)' };
    prev = e.hash;
    expectedSeq++;
  }
  return { ok: true, entries: n, head: prev };
}
