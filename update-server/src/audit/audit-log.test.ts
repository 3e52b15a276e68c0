import { describe, expect, it } from 'vitest';
import { openDb } from '../db/open.ts';
import { AuditLog, verifyAuditChain } from './audit-log.ts';

function seeded() {
  const db = openDb({ path: ':memory:' });
  let t = 1000;
  const log = new AuditLog(db, () => t++);
  log.append('alice', 'image.upload', 'image:aa', { version: '1' });
  log.append('alice', 'campaign.create', 'campaign:1', {});
  log.append('bob', 'campaign.pause', 'campaign:1', {});
  return { db, log };
}

describe('audit log', () => {
  it('verifies an untouched chain', () => {
    const { db, log } = seeded();
    const v = verifyAuditChain(db);
    expect(v).toEqual({ ok: true, entries: 3, head: log.list().at(-1)!.hash });
  });

  it('refuses UPDATE and DELETE through SQL', () => {
    const { db } = seeded();
    expect(() => db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_log WHERE seq = 2').run()).toThrow(/append-only/);
  });

  it.each([
    ['edited actor', "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2", 2, /content/],
    ['rewritten link to the previous entry', "UPDATE audit_log SET prev_hash = 'x' WHERE seq = 3", 3, /link/],
    ['deleted middle entry', 'DELETE FROM audit_log WHERE seq = 2', 3, /removed/],
  ])('detects tampering: %s', (_n, sql, brokenAt, reason) => {
    const { db } = seeded();
    // Someone with write access to the file can drop the triggers; the chain still catches it.
    db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
    db.exec(sql);
    const v = verifyAuditChain(db);
    expect(v.ok).toBe(false);
    if (!v.ok) {
      expect(v.brokenAt).toBe(brokenAt);
      expect(v.reason).toMatch(reason);
    }
  });
});
