import type { Db } from '../db/open.ts';
import type { Role } from './roles.ts';

/** An operator account (never carries the password hash out of this file except via `passwordHash`). */
export interface User {
  id: number;
  username: string;
  role: Role;
  disabled: boolean;
  createdAt: number;
}

interface Row { id: number; username: string; role: Role; password_hash: string; disabled: number; created_at: number }

const toUser = (r: Row): User => ({ id: r.id, username: r.username, role: r.role, disabled: r.disabled === 1, createdAt: r.created_at });

/** Usernames: short, printable, no spaces (they end up in the audit log). */
export const USERNAME_PATTERN = '^[A-Za-z0-9._@-]{1,64}$';

/** The users table. */
export class UsersRepo {
  constructor(private readonly db: Db) {}

  /** Number of accounts (zero means the server still needs its first admin). */
  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
  }

  /** Inserts an account; throws on a duplicate username (UNIQUE). */
  insert(u: { username: string; role: Role; passwordHash: string }, now: number): User {
    const r = this.db
      .prepare('INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING *')
      .get(u.username, u.role, u.passwordHash, now) as Row;
    return toUser(r);
  }

  /** One account with its hash, by name. */
  byName(username: string): (User & { passwordHash: string }) | undefined {
    const r = this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as Row | undefined;
    return r === undefined ? undefined : { ...toUser(r), passwordHash: r.password_hash };
  }

  /** One account by id. */
  get(id: number): User | undefined {
    const r = this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
    return r === undefined ? undefined : toUser(r);
  }

  /** Every account. */
  list(): User[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY id').all() as Row[]).map(toUser);
  }

  /** Disables an account (kept, so the audit log's names still resolve). */
  disable(id: number): void {
    this.db.prepare('UPDATE users SET disabled = 1 WHERE id = ?').run(id);
  }
}
