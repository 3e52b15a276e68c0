/**
 * Prepared statements, compiled once per database connection.
 *
 * The repositories used to call `db.prepare(sql)` on every query. Compiling
 * SQL is far dearer than running these queries (profiled at 1,000 devices:
 * ~1 ms of server CPU per device per update, from the per-device lookups a
 * disconnect, a tick or a report makes), so each text is compiled on first
 * use and kept for the life of the connection. Only statements used with
 * `.get()`, `.all()` and `.run()` belong here: a statement switched to
 * `.raw()` or `.pluck()` keeps that mode, so those are prepared apart.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from './open.ts';

const byDb = new WeakMap<Db, Map<string, Statement>>();

/** The statement for `sql` on `db`, compiled on first use. */
export function statement(db: Db, sql: string): Statement {
  let cache = byDb.get(db);
  if (cache === undefined) {
    cache = new Map();
    byDb.set(db, cache);
  }
  let stmt = cache.get(sql);
  if (stmt === undefined) {
    stmt = db.prepare(sql);
    cache.set(sql, stmt);
  }
  return stmt;
}
