import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ServerApp } from '../../app.ts';
import { CampaignSpecSchema } from '../../campaign/spec.ts';
import { CampaignStatusBody, ErrorBody, NumericIdParam } from '../schemas.ts';
import { actorOf } from '../actor.ts';

/** Campaign create/list/get and the pause, resume and cancel commands. */
export const campaignsRoutes: FastifyPluginAsync<{ app: ServerApp }> = async (f, { app }) => {
  f.post<{ Body: unknown }>(
    '/campaigns',
    {
      schema: {
        tags: ['campaigns'], body: CampaignSpecSchema,
        response: { 201: CampaignStatusBody, 400: ErrorBody, 404: ErrorBody, 422: ErrorBody },
      },
    },
    async (req, reply) => {
      const status = app.engine.createCampaign(req.body, actorOf(req));
      // Hand out the first offers now rather than waiting for the next tick.
      void app.tick().catch((err: unknown) => req.log.error({ err }, 'tick after create failed'));
      return reply.status(201).send(status);
    },
  );

  f.get<{ Querystring: { state?: string } }>(
    '/campaigns',
    {
      schema: {
        tags: ['campaigns'],
        querystring: Type.Object({ state: Type.Optional(Type.String()) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(CampaignStatusBody) }) },
      },
    },
    async (req) => ({
      items: app.engine.campaigns
        .list()
        .filter((c) => req.query.state === undefined || c.state === req.query.state)
        .map((c) => app.engine.status(c.id)),
    }),
  );

  f.get<{ Params: { id: number } }>(
    '/campaigns/:id',
    { schema: { tags: ['campaigns'], params: NumericIdParam, response: { 200: CampaignStatusBody, 404: ErrorBody } } },
    async (req) => app.engine.status(req.params.id),
  );

  for (const cmd of ['pause', 'resume', 'cancel'] as const) {
    f.post<{ Params: { id: number } }>(
      `/campaigns/:id/${cmd}`,
      { schema: { tags: ['campaigns'], params: NumericIdParam, response: { 200: CampaignStatusBody, 404: ErrorBody, 409: ErrorBody } } },
      async (req) => {
        const status = app.engine.command(req.params.id, cmd, actorOf(req));
        void app.tick().catch((err: unknown) => req.log.error({ err }, `tick after ${cmd} failed`));
        return status;
      },
    );
  }
};
