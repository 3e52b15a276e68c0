import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ServerApp } from '../../app.ts';
import type { AuthService } from '../../auth/auth-service.ts';
import { roles, type Role } from '../../auth/roles.ts';
import { ServerError, ServerErrorCode } from '../../errors.ts';
import { actorOf } from '../actor.ts';
import { ErrorBody, NumericIdParam } from '../schemas.ts';

const TokenBody = Type.Object({
  id: Type.Integer(), name: Type.String(), role: Type.String(), createdBy: Type.String(), createdAt: Type.Integer(),
  lastUsedAt: Type.Union([Type.Integer(), Type.Null()]), revokedAt: Type.Union([Type.Integer(), Type.Null()]),
});

/** Admin-only API tokens: the secret is in the creation answer and nowhere else. */
export const tokensRoutes: FastifyPluginAsync<{ app: ServerApp; auth: AuthService }> = async (f, { app, auth }) => {
  f.get('/tokens', { schema: { tags: ['tokens'], response: { 200: Type.Object({ items: Type.Array(TokenBody) }) } } }, async () => ({
    items: auth.tokens.list(),
  }));

  f.post<{ Body: { name: string; role: Role } }>(
    '/tokens',
    {
      schema: {
        tags: ['tokens'],
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._ -]+$' }), role: Type.Union(roles.map((r) => Type.Literal(r))) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ token: TokenBody, secret: Type.String({ description: 'shown once; store it now' }) }) },
      },
    },
    async (req, reply) => {
      const created = auth.tokens.create({ name: req.body.name, role: req.body.role, createdBy: req.principal!.name });
      app.engine.audit.append(actorOf(req), 'token.create', `token#${created.token.id}`, { name: created.token.name, role: created.token.role });
      return reply.status(201).send(created);
    },
  );

  f.post<{ Params: { id: number } }>(
    '/tokens/:id/revoke',
    { schema: { tags: ['tokens'], params: NumericIdParam, response: { 200: Type.Object({ ok: Type.Boolean() }), 404: ErrorBody } } },
    async (req) => {
      if (!auth.tokens.revoke(req.params.id)) throw new ServerError(ServerErrorCode.NotFound, `no live token ${req.params.id}`);
      app.engine.audit.append(actorOf(req), 'token.revoke', `token#${req.params.id}`);
      return { ok: true };
    },
  );
};
