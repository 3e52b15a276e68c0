import Database from 'better-sqlite3';
import { migrate } from './migrations.ts';

export type Db = Database.Database;

/** Options for opening the server database. */
export interface OpenDbOptions {
  /** File path, or ':memory:' for throwaway databases. */
  path: string;
  /** How long a writer waits for a lock before failing (ms). */
  busyTimeoutMs?: number;
  /** SQLite page cache size in MiB (default 64). */
  cacheMb?: number;
}

/**
 * Opens (creating if needed) the server database and brings its schema up to
 * date. WAL lets the HTTP API read while the engine writes; foreign keys are
 * off by default in SQLite and must be switched on per connection.
 */
export function openDb(opts: OpenDbOptions): Db {
  const db = new Database(opts.path);
  db.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode (only an OS crash can
  // lose the last commits), which is the failure the engine must survive.
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
  db.pragma('foreign_keys = ON');
  // The hot set (actions of running campaigns, recent events) must stay in
  // memory: with the 2 MB default, status ingest spends its time re-reading pages.
  db.pragma(`cache_size = -${Math.max(2, Math.floor(opts.cacheMb ?? 64)) * 1024}`);
  migrate(db);
  return db;
}
