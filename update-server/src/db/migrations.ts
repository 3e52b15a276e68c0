import type { Db } from './open.ts';
import { ServerError, ServerErrorCode } from '../errors.ts';

/** One schema step. Versions are never renumbered or edited once released; fix forward. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

// States are stored as strings (never ordinals) so adding a state can never
// silently re-label old rows.
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial fleet schema',
    sql: `
CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  hardware TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  current_version TEXT,
  booted_slot TEXT,
  online INTEGER NOT NULL DEFAULT 0,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
);
CREATE INDEX devices_hardware ON devices(hardware);

CREATE TABLE images (
  id TEXT PRIMARY KEY,            -- sha256 of the bundle bytes (content address)
  version TEXT NOT NULL,
  compatible TEXT NOT NULL,       -- JSON array of hardware types
  size INTEGER NOT NULL,
  manifest TEXT NOT NULL,         -- JSON, as verified
  dev_signed INTEGER NOT NULL DEFAULT 0,
  uploaded_at INTEGER NOT NULL
);

CREATE TABLE campaigns (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  image_id TEXT NOT NULL REFERENCES images(id),
  state TEXT NOT NULL,
  spec TEXT NOT NULL,             -- JSON CampaignSpec (targets, waves, policies)
  current_wave INTEGER NOT NULL DEFAULT 0,
  state_reason TEXT,
  ack_failures INTEGER NOT NULL DEFAULT 0, -- failures the operator accepted when resuming a paused campaign
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE waves (
  campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
  idx INTEGER NOT NULL,
  kind TEXT NOT NULL,             -- 'canary' | 'percent'
  planned_size INTEGER NOT NULL,
  opened_at INTEGER,
  PRIMARY KEY (campaign_id, idx)
);

CREATE TABLE actions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
  device_id TEXT NOT NULL REFERENCES devices(id),
  wave INTEGER NOT NULL,
  state TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  last_seq INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 0,
  failure_kind TEXT,
  detail TEXT,
  next_attempt_at INTEGER,
  sent_at INTEGER,               -- last time the current offer or cancel was handed to the gateway
  progress_at INTEGER,
  updated_at INTEGER NOT NULL,
  UNIQUE (campaign_id, device_id)
);
CREATE INDEX actions_campaign_state ON actions(campaign_id, state);
CREATE INDEX actions_device ON actions(device_id);

CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  campaign_id INTEGER,
  device_id TEXT,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX events_campaign ON events(campaign_id, id);

CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  details TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
-- Append-only at the SQL level too; someone editing the file directly is
-- caught by verifyAuditChain instead.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
`,
  },
  {
    version: 2,
    name: 'operator accounts, sessions and API tokens',
    // Only hashes of session ids and token secrets are stored. Roles are
    // strings (viewer, operator, admin), never ordinals.
    sql: `
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,    -- scrypt$N$r$p$salt$hash
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,       -- sha256 of the cookie value
  user_id INTEGER NOT NULL REFERENCES users(id),
  csrf TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE, -- sha256 of the secret, which is shown once
  role TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used INTEGER,
  revoked_at INTEGER
);
`,
  },
  {
    version: 3,
    name: 'device admission (pending/accepted/rejected/decommissioned) and pre-authorization',
    // Devices already registered were trusted before admission existed, so
    // they stay accepted; new rows get their state from the engine at hello.
    sql: `
ALTER TABLE devices ADD COLUMN admission TEXT NOT NULL DEFAULT 'accepted';
ALTER TABLE devices ADD COLUMN admission_changed_at INTEGER;
ALTER TABLE devices ADD COLUMN refused_messages INTEGER NOT NULL DEFAULT 0; -- hellos/reports ignored while rejected or decommissioned
CREATE INDEX devices_admission ON devices(admission);

CREATE TABLE device_preauth (
  device_id TEXT PRIMARY KEY,
  actor TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`,
  },
  {
    version: 4,
    name: 'both slots of a device as its agent last reported them',
    sql: `ALTER TABLE devices ADD COLUMN slots TEXT; -- JSON {a:{version,bootable}, b:{version,bootable}, trial}`,
  },
  {
    version: 5,
    name: 'trust root chain (rotations after the configured root.json) and the root version each device reported',
    sql: `
CREATE TABLE trust_roots (
  version INTEGER PRIMARY KEY,
  document TEXT NOT NULL,     -- root.json exactly as uploaded (sent to devices verbatim)
  uploaded_by TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL
);
CREATE TABLE device_root_versions (
  device_id TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  reported_at INTEGER NOT NULL
);
`,
  },
];

/** Applies every migration newer than the database's recorded version, each in its own transaction. */
export function migrate(db: Db, list: readonly Migration[] = migrations): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  const current = row.v ?? 0;
  const known = Math.max(0, ...list.map((m) => m.version));
  if (current > known) {
    throw new ServerError(
      ServerErrorCode.Migration,
      `database schema version ${current} is newer than this server knows (${known}); refusing to run an older server on it`,
    );
  }
  const insert = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of [...list].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    try {
      db.transaction(() => {
        db.exec(m.sql);
        insert.run(m.version, m.name, Date.now());
      })();
    } catch (err) {
      throw new ServerError(ServerErrorCode.Migration, `migration ${m.version} (${m.name}) failed`, { cause: err });
    }
  }
  return Math.max(current, known);
}
