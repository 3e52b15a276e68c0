import { randomBytes } from 'node:crypto';
import type { Db } from '../db/open.ts';
import type { Role } from './roles.ts';
import { secretHash } from './session-store.ts';

/** An API token as listed (the secret itself is shown once, at creation, and never stored). */
export interface ApiToken {
  id: number;
  name: string;
  role: Role;
  createdBy: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

interface Row { id: number; name: string; role: Role; created_by: string; created_at: number; last_used: number | null; revoked_at: number | null }

const toToken = (r: Row): ApiToken => ({
  id: r.id, name: r.name, role: r.role, createdBy: r.created_by, createdAt: r.created_at, lastUsedAt: r.last_used, revokedAt: r.revoked_at,
});

/** Prefix that makes a leaked token easy to recognise in logs and secret scanners. */
export const TOKEN_PREFIX = 'uniota_';

/** API tokens for CI and scripts: scoped to one role, revocable, stored as hashes. */
export class TokenStore {
  constructor(private readonly db: Db, private readonly clock: () => number) {}

  /** Creates a token; the returned secret is the only copy there will ever be. */
  create(t: { name: string; role: Role; createdBy: string }): { token: ApiToken; secret: string } {
    const secret = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const r = this.db
      .prepare('INSERT INTO api_tokens (name, token_hash, role, created_by, created_at) VALUES (?, ?, ?, ?, ?) RETURNING *')
      .get(t.name, secretHash(secret), t.role, t.createdBy, this.clock()) as Row;
    return { token: toToken(r), secret };
  }

  /** The live token for a bearer secret (recording its use), or undefined if unknown or revoked. */
  authenticate(secret: string): ApiToken | undefined {
    const r = this.db.prepare('SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL').get(secretHash(secret)) as Row | undefined;
    if (r === undefined) return undefined;
    const now = this.clock();
    this.db.prepare('UPDATE api_tokens SET last_used = ? WHERE id = ?').run(now, r.id);
    return toToken({ ...r, last_used: now });
  }

  /** Every token, revoked ones included (they stay listed for the record). */
  list(): ApiToken[] {
    return (this.db.prepare('SELECT * FROM api_tokens ORDER BY id').all() as Row[]).map(toToken);
  }

  /** Revokes a token; returns false if there is no such live token. */
  revoke(id: number): boolean {
    return this.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(this.clock(), id).changes === 1;
  }
}
