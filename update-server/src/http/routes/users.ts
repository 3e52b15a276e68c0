import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ServerApp } from '../../app.ts';
import type { AuthService } from '../../auth/auth-service.ts';
import { roles, type Role } from '../../auth/roles.ts';
import { USERNAME_PATTERN } from '../../auth/users-repo.ts';
import { ServerError, ServerErrorCode } from '../../errors.ts';
import { actorOf } from '../actor.ts';
import { ErrorBody, NumericIdParam } from '../schemas.ts';

const RoleSchema = Type.Union(roles.map((r) => Type.Literal(r)));
const UserBody = Type.Object({ id: Type.Integer(), username: Type.String(), role: Type.String(), disabled: Type.Boolean(), createdAt: Type.Integer() });

/** Admin-only account management: list, create, disable. */
export const usersRoutes: FastifyPluginAsync<{ app: ServerApp; auth: AuthService }> = async (f, { app, auth }) => {
  f.get('/users', { schema: { tags: ['users'], response: { 200: Type.Object({ items: Type.Array(UserBody) }) } } }, async () => ({
    items: auth.users.list(),
  }));

  f.post<{ Body: { username: string; password: string; role: Role } }>(
    '/users',
    {
      schema: {
        tags: ['users'],
        body: Type.Object({ username: Type.String({ pattern: USERNAME_PATTERN }), password: Type.String({ maxLength: 1024 }), role: RoleSchema }, { additionalProperties: false }),
        response: { 201: UserBody, 400: ErrorBody, 409: ErrorBody },
      },
    },
    async (req, reply) => {
      const u = await auth.createUser(req.body.username, req.body.password, req.body.role);
      app.engine.audit.append(actorOf(req), 'user.create', u.username, { role: u.role });
      return reply.status(201).send(u);
    },
  );

  f.post<{ Params: { id: number } }>(
    '/users/:id/disable',
    { schema: { tags: ['users'], params: NumericIdParam, response: { 200: UserBody, 404: ErrorBody, 409: ErrorBody } } },
    async (req) => {
      const u = auth.users.get(req.params.id);
      if (u === undefined) throw new ServerError(ServerErrorCode.NotFound, `user ${req.params.id} not found`);
      // The last way in must not lock itself out; another admin can do it.
      if (u.id === req.principal?.userId) throw new ServerError(ServerErrorCode.IllegalState, 'you cannot disable your own account');
      auth.users.disable(u.id);
      auth.sessions.destroyAllFor(u.id);
      app.engine.audit.append(actorOf(req), 'user.disable', u.username);
      return { ...u, disabled: true };
    },
  );
};
