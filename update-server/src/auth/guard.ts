import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServerError, ServerErrorCode } from '../errors.ts';
import type { AuthService } from './auth-service.ts';
import { readCookie, sessionCookieName } from './cookies.ts';
import { sameSiteRequest } from './cross-site.ts';
import { accessFor, roleAtLeast, type Access, type Role } from './roles.ts';

/** Who is calling, as established by the guard. */
export interface Principal {
  kind: 'session' | 'token';
  /** The name the audit log records. */
  name: string;
  role: Role;
  userId?: number;
  tokenId?: number;
  /** The session's CSRF token (sessions only). */
  csrf?: string;
  /** The raw session id, so logout can end it. */
  sessionId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Overrides the access table for this route (see auth/roles.ts). */
    access?: Access;
  }
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether the request arrived over TLS (decides the cookie prefix and Secure). */
export function isSecure(req: FastifyRequest): boolean {
  return req.protocol === 'https';
}

/** Finds the caller from a bearer token or the session cookie; undefined when neither is valid. */
function identify(auth: AuthService, req: FastifyRequest): Principal | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string' && h.startsWith('Bearer ')) {
    const t = auth.tokens.authenticate(h.slice(7).trim());
    return t === undefined ? undefined : { kind: 'token', name: `token:${t.name}#${t.id}`, role: t.role, tokenId: t.id };
  }
  const sid = readCookie(req.headers.cookie, sessionCookieName(isSecure(req)));
  if (sid === undefined) return undefined;
  const s = auth.sessions.touch(sid);
  if (s === undefined) return undefined;
  const user = auth.users.get(s.userId);
  if (user === undefined || user.disabled) return undefined;
  return { kind: 'session', name: user.username, role: user.role, userId: user.id, csrf: s.csrf, sessionId: sid };
}

/**
 * One onRequest hook in front of every route: cross-site check on each
 * state-changing request, then authentication, then the route's role from
 * the access table. Running before body parsing means an unauthenticated
 * upload is refused before its bytes are read.
 */
export function installGuard(f: FastifyInstance, auth: AuthService): void {
  f.addHook('onRequest', async (req) => {
    const url = req.routeOptions.url;
    if (url === undefined) return; // no route: the not-found handler answers
    const changing = !safeMethods.has(req.method);
    try {
      check(auth, req, url, changing);
    } catch (err) {
      // A refused attempt to change something is a security event worth an
      // audit entry (who, what, which code); refused reads are not, so
      // browsing without a session cannot grow the audit chain.
      if (changing && err instanceof ServerError) auth.recordDenied(`${req.principal?.name ?? 'anonymous'}@${req.ip}`, err.code, `${req.method} ${url}`);
      throw err;
    }
  });
}

function check(auth: AuthService, req: FastifyRequest, url: string, changing: boolean): void {
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const access = accessFor(method, url, req.routeOptions.config.access);
  if (changing) {
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    const ok = sameSiteRequest({
      origin: typeof origin === 'string' ? origin : undefined,
      secFetchSite: typeof site === 'string' ? site : undefined,
      selfOrigin: `${req.protocol}://${req.host}`,
    });
    if (!ok) throw new ServerError(ServerErrorCode.CrossSite, 'cross-site request refused');
  }
  const p = identify(auth, req);
  if (p !== undefined) req.principal = p;
  if (access === 'public') return;
  if (p === undefined) throw new ServerError(ServerErrorCode.Unauthenticated, 'sign in or send an API token (Authorization: Bearer)');
  // A cookie rides along on any request the browser makes, so a session
  // must also prove the request came from the console's own script.
  if (changing && p.kind === 'session' && req.headers['x-csrf-token'] !== p.csrf) {
    throw new ServerError(ServerErrorCode.CrossSite, 'missing or wrong X-CSRF-Token for this session');
  }
  if (!roleAtLeast(p.role, access)) {
    throw new ServerError(ServerErrorCode.Forbidden, `${p.role} may not ${req.method} ${url} (needs ${access})`);
  }
}
