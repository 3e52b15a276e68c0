import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ServerApp } from '../../app.ts';
import type { AuthService } from '../../auth/auth-service.ts';
import { sessionCookie } from '../../auth/cookies.ts';
import { isSecure } from '../../auth/guard.ts';
import { USERNAME_PATTERN } from '../../auth/users-repo.ts';
import { ServerError, ServerErrorCode } from '../../errors.ts';
import { ErrorBody } from '../schemas.ts';

const Me = Type.Object({ username: Type.String(), role: Type.String(), kind: Type.String(), csrf: Type.Optional(Type.String()) });
const Credentials = Type.Object(
  { username: Type.String({ pattern: USERNAME_PATTERN }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);

/** Login, logout, who-am-I and the one-time first-admin setup. */
export const authRoutes: FastifyPluginAsync<{ app: ServerApp; auth: AuthService }> = async (f, { app, auth }) => {
  f.post<{ Body: { username: string; password: string } }>(
    '/auth/login',
    { schema: { tags: ['auth'], body: Credentials, response: { 200: Me, 401: ErrorBody, 429: ErrorBody } } },
    async (req, reply) => {
      const { username, password } = req.body;
      let user;
      try {
        user = await auth.login(username, password, req.ip);
      } catch (err) {
        if (err instanceof ServerError && err.code === ServerErrorCode.RateLimited) {
          reply.header('retry-after', String(auth.retryAfterSeconds(username, req.ip)));
        }
        if (err instanceof ServerError) app.engine.audit.append(`${username}@${req.ip}`, 'auth.login_failed', username, { code: err.code });
        throw err;
      }
      // A fresh id at every login, and any session the browser already had is
      // ended, so an id planted before login is worth nothing after it.
      if (req.principal?.sessionId !== undefined) auth.sessions.destroy(req.principal.sessionId);
      const s = auth.sessions.create(user.id);
      reply.header('set-cookie', sessionCookie(isSecure(req), s.id));
      app.engine.audit.append(`${user.username}@${req.ip}`, 'auth.login', user.username);
      return { username: user.username, role: user.role, kind: 'session', csrf: s.csrf };
    },
  );

  f.post('/auth/logout', { schema: { tags: ['auth'], response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, async (req, reply) => {
    if (req.principal?.sessionId !== undefined) auth.sessions.destroy(req.principal.sessionId);
    reply.header('set-cookie', sessionCookie(isSecure(req), '', 0));
    return { ok: true };
  });

  f.get('/auth/me', { schema: { tags: ['auth'], response: { 200: Me } } }, async (req) => {
    const p = req.principal!;
    return { username: p.name, role: p.role, kind: p.kind, ...(p.csrf !== undefined ? { csrf: p.csrf } : {}) };
  });

  f.get('/auth/setup', { schema: { tags: ['auth'], response: { 200: Type.Object({ open: Type.Boolean() }) } } }, async () => ({
    open: auth.setupOpen(),
  }));

  f.post<{ Body: { token: string; username: string; password: string } }>(
    '/auth/setup',
    {
      schema: {
        tags: ['auth'],
        description: 'create the first admin with the one-time token printed at first start',
        body: Type.Object(
          { token: Type.String({ minLength: 1, maxLength: 200 }), username: Type.String({ pattern: USERNAME_PATTERN }), password: Type.String({ maxLength: 1024 }) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ username: Type.String(), role: Type.String() }), 400: ErrorBody, 403: ErrorBody },
      },
    },
    async (req, reply) => {
      const u = await auth.setup(req.body.token, req.body.username, req.body.password);
      app.engine.audit.append(`setup@${req.ip}`, 'user.create', u.username, { role: u.role, via: 'setup-token' });
      return reply.status(201).send({ username: u.username, role: u.role });
    },
  );
};
