import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ServerApp } from '../../app.ts';
import type { RootService } from '../../roots/root-service.ts';
import { ServerError, ServerErrorCode } from '../../errors.ts';
import { actorOf } from '../actor.ts';
import { ErrorBody } from '../schemas.ts';

const RootBody = Type.Object({
  version: Type.Integer(),
  expiresAt: Type.String(),
  source: Type.String({ description: "'config' for the root.json the server started with, else who uploaded it" }),
  uploadedAt: Type.Union([Type.Integer(), Type.Null()]),
  devices: Type.Integer({ description: 'devices whose last report named this version' }),
});

/** GET /roots (the chain), POST /roots (admin: the next root, verified against the current one, audited). */
export const rootsRoutes: FastifyPluginAsync<{ app: ServerApp }> = async (f, { app }) => {
  const service = (): RootService => {
    if (app.roots === null) throw new ServerError(ServerErrorCode.NotFound, 'this server was started without a trust root');
    return app.roots;
  };

  f.get('/roots', { schema: { tags: ['roots'], response: { 200: Type.Object({ items: Type.Array(RootBody) }), 404: ErrorBody } } }, async () => ({
    items: service().list(),
  }));

  f.post<{ Body: unknown }>(
    '/roots',
    {
      schema: {
        tags: ['roots'],
        description: 'rotate the trust root: root.json of version N+1 signed by thresholds of both the current and its own root keys; devices receive it with their next offer',
        response: { 201: RootBody, 404: ErrorBody, 422: ErrorBody },
      },
    },
    async (req, reply) => reply.status(201).send(service().upload(JSON.stringify(req.body), actorOf(req))),
  );
};
