import { describe, expect, it } from 'vitest';
import { openDb } from './open.ts';
import { migrate, migrations } from './migrations.ts';

describe('migrations', () => {
  it('applies every migration once and records it', () => {
    const db = openDb({ path: ':memory:' });
    const rows = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[];
    expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
    expect(migrate(db)).toBe(migrations.length);
    expect((db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number }).n).toBe(migrations.length);
  });

  it('applies a new migration on top and refuses a database newer than the code', () => {
    const db = openDb({ path: ':memory:' });
    const next = [...migrations, { version: 99, name: 'add note', sql: 'ALTER TABLE devices ADD COLUMN note TEXT' }];
    expect(migrate(db, next)).toBe(99);
    expect(() => db.prepare('SELECT note FROM devices').all()).not.toThrow();
    expect(() => migrate(db)).toThrow(expect.objectContaining({ code: 'SERVER_MIGRATION_FAILED' }));
  });

  it('rolls back a failing migration and reports it', () => {
    const db = openDb({ path: ':memory:' });
    const bad = [...migrations, { version: 1000, name: 'broken', sql: 'CREATE TABLE t (x); SELECT nope FROM missing' }];
    expect(() => migrate(db, bad)).toThrow(expect.objectContaining({ code: 'SERVER_MIGRATION_FAILED' }));
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 't'").get()).toBeUndefined();
  });

  it('switches foreign keys on for every connection', () => {
    const db = openDb({ path: ':memory:' });
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(() => db.prepare("INSERT INTO actions (campaign_id, device_id, wave, state, updated_at) VALUES (7, 'x', 0, 'queued', 0)").run()).toThrow(/FOREIGN KEY/);
  });
});
