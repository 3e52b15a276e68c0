import { randomBytes, timingSafeEqual } from 'node:crypto';
import { AuditLog } from '../audit/audit-log.ts';
import type { Db } from '../db/open.ts';
import { ServerError, ServerErrorCode } from '../errors.ts';
import { defaultPasswordCost, hashPassword, MIN_PASSWORD_LENGTH, verifyPassword, type PasswordCost } from './password.ts';
import { defaultLoginLimit, FailureLimiter, type RateLimitOptions } from './rate-limit.ts';
import type { Role } from './roles.ts';
import { defaultSessionTimeouts, SessionStore, type SessionTimeouts } from './session-store.ts';
import { TokenStore } from './token-store.ts';
import { UsersRepo, type User } from './users-repo.ts';

/** Tunables of authentication (tests lower the KDF cost and the timeouts). */
export interface AuthOptions {
  passwordCost?: PasswordCost;
  sessions?: SessionTimeouts;
  loginLimit?: RateLimitOptions;
  /** One-time token that lets the first admin be created over HTTP (printed at first start). */
  setupToken?: string;
}

/** Makes a setup token to print at first start. */
export function newSetupToken(): string {
  return randomBytes(18).toString('base64url');
}

/** Accounts, sessions, tokens and the login limit, over one database. */
export class AuthService {
  readonly users: UsersRepo;
  readonly sessions: SessionStore;
  readonly tokens: TokenStore;
  private readonly limiter: FailureLimiter;
  private readonly cost: PasswordCost;
  private setupToken: string | undefined;
  private readonly audit: AuditLog;
  /** Verified against for unknown usernames so a login takes as long whether or not the name exists. */
  private dummyHash: Promise<string> | undefined;

  constructor(db: Db, private readonly clock: () => number, opts: AuthOptions = {}) {
    this.users = new UsersRepo(db);
    this.sessions = new SessionStore(db, clock, opts.sessions ?? defaultSessionTimeouts);
    this.tokens = new TokenStore(db, clock);
    this.limiter = new FailureLimiter(clock, opts.loginLimit ?? defaultLoginLimit);
    this.cost = opts.passwordCost ?? defaultPasswordCost;
    this.setupToken = opts.setupToken;
    this.audit = new AuditLog(db, clock);
  }

  /** Audits a refused state-changing request (`auth.denied` with its code). */
  recordDenied(actor: string, code: string, request: string): void {
    this.audit.append(actor, 'auth.denied', request, { code });
  }

  /** Creates an account after checking the name is free and the password long enough. */
  async createUser(username: string, password: string, role: Role): Promise<User> {
    if (password.length < MIN_PASSWORD_LENGTH) {
      throw new ServerError(ServerErrorCode.BadRequest, `passwords need at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    if (this.users.byName(username) !== undefined) throw new ServerError(ServerErrorCode.UserExists, `user ${username} exists already`);
    return this.users.insert({ username, role, passwordHash: await hashPassword(password, this.cost) }, this.clock());
  }

  /** Whether the first admin can still be created with the setup token. */
  setupOpen(): boolean {
    return this.setupToken !== undefined && this.users.count() === 0;
  }

  /** Creates the first admin with the one-time setup token; the token is spent on success. */
  async setup(token: string, username: string, password: string): Promise<User> {
    const expected = this.setupToken;
    const ok = expected !== undefined && this.users.count() === 0 && token.length === expected.length && timingSafeEqual(Buffer.from(token), Buffer.from(expected));
    if (!ok) throw new ServerError(ServerErrorCode.Forbidden, 'setup is closed or the setup token is wrong');
    const user = await this.createUser(username, password, 'admin');
    this.setupToken = undefined;
    return user;
  }

  /**
   * Checks a login. Failures are counted per username and per client
   * address; past the limit every attempt is refused with SERVER_RATE_LIMITED
   * (and a retry time) before the password is even looked at.
   */
  async login(username: string, password: string, ip: string): Promise<User> {
    const keys = [`user:${username}`, `ip:${ip}`];
    const wait = Math.max(...keys.map((k) => this.limiter.retryAfterMs(k)));
    if (wait > 0) {
      throw new ServerError(ServerErrorCode.RateLimited, `too many failed logins; try again in ${Math.ceil(wait / 1000)} s`, {
        transient: true,
      });
    }
    const u = this.users.byName(username);
    this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'), this.cost);
    const ok = await verifyPassword(password, u?.passwordHash ?? (await this.dummyHash));
    if (u === undefined || !ok || u.disabled) {
      for (const k of keys) this.limiter.fail(k);
      throw new ServerError(ServerErrorCode.Unauthenticated, 'wrong username or password');
    }
    this.limiter.reset(keys[0]!);
    const { passwordHash: _hidden, ...user } = u;
    return user;
  }

  /** Seconds a rate-limited client should wait (for the Retry-After header). */
  retryAfterSeconds(username: string, ip: string): number {
    return Math.ceil(Math.max(this.limiter.retryAfterMs(`user:${username}`), this.limiter.retryAfterMs(`ip:${ip}`)) / 1000);
  }
}
