import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/open.ts';

/** Session lifetimes in milliseconds. */
export interface SessionTimeouts {
  /** Ends a session nobody used for this long. */
  idleMs: number;
  /** Ends every session this long after login, used or not. */
  absoluteMs: number;
}

export const defaultSessionTimeouts: SessionTimeouts = { idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000 };

/** A live session as the auth hook sees it. */
export interface Session {
  userId: number;
  csrf: string;
  createdAt: number;
  lastSeen: number;
}

/** Only the SHA-256 of a secret is stored, so a copy of the database cannot be replayed as cookies or tokens. */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * Server-side sessions. The cookie holds a random id; a new id is made at
 * every login (no fixation), and a session past its idle or absolute
 * timeout is deleted when it is next presented.
 */
export class SessionStore {
  constructor(
    private readonly db: Db,
    private readonly clock: () => number,
    private readonly timeouts: SessionTimeouts = defaultSessionTimeouts,
  ) {}

  /** Opens a session; returns the cookie value and the CSRF token the console sends back in a header. */
  create(userId: number): { id: string; csrf: string } {
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const now = this.clock();
    this.db.prepare('INSERT INTO sessions (id_hash, user_id, csrf, created_at, last_seen) VALUES (?, ?, ?, ?, ?)').run(secretHash(id), userId, csrf, now, now);
    return { id, csrf };
  }

  /** The session for a cookie value if it is still within both timeouts (refreshing its idle clock), else undefined. */
  touch(id: string): Session | undefined {
    const key = secretHash(id);
    const r = this.db.prepare('SELECT user_id, csrf, created_at, last_seen FROM sessions WHERE id_hash = ?').get(key) as
      | { user_id: number; csrf: string; created_at: number; last_seen: number }
      | undefined;
    if (r === undefined) return undefined;
    const now = this.clock();
    if (now - r.last_seen > this.timeouts.idleMs || now - r.created_at > this.timeouts.absoluteMs) {
      this.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(key);
      return undefined;
    }
    this.db.prepare('UPDATE sessions SET last_seen = ? WHERE id_hash = ?').run(now, key);
    return { userId: r.user_id, csrf: r.csrf, createdAt: r.created_at, lastSeen: now };
  }

  /** Ends one session (logout). */
  destroy(id: string): void {
    this.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(secretHash(id));
  }

  /** Ends every session of a user (account disabled). */
  destroyAllFor(userId: number): void {
    this.db.prepare('DELETE FROM sessions WHERE user_id = ?').run(userId);
  }
}
