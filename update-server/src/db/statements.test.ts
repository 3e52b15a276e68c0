import { describe, expect, it } from 'vitest';
import { openDb } from './open.ts';
import { statement } from './statements.ts';

describe('statement', () => {
  it('compiles each SQL text once per connection and the statement keeps working', () => {
    const db = openDb({ path: ':memory:' });
    const other = openDb({ path: ':memory:' });
    const sql = 'SELECT COUNT(*) AS n FROM devices WHERE hardware = ?';
    const first = statement(db, sql);
    expect(statement(db, sql)).toBe(first);
    expect(statement(other, sql)).not.toBe(first);
    expect(statement(db, 'SELECT 1 AS one')).not.toBe(first);
    expect(first.get('board')).toEqual({ n: 0 });
    db.prepare(`INSERT INTO devices (id, hardware, first_seen, last_seen) VALUES ('d1', 'board', 1, 1)`).run();
    expect(statement(db, sql).get('board')).toEqual({ n: 1 });
    db.close();
    other.close();
  });
});
