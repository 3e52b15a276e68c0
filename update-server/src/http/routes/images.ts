import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ServerApp } from '../../app.ts';
import { ErrorBody, ImageBody, ImageIdParam } from '../schemas.ts';
import { actorOf } from '../actor.ts';

/** POST /images (raw signed bundle), GET /images, GET /images/:id, GET /images/:id/manifest. */
export const imagesRoutes: FastifyPluginAsync<{ app: ServerApp; maxBundleBytes: number }> = async (f, { app, maxBundleBytes }) => {
  // Bundles arrive as raw bytes; parsing is scoped to this plugin.
  f.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: maxBundleBytes }, (_req, body, done) => {
    done(null, body);
  });

  f.post<{ Body: Buffer }>(
    '/images',
    {
      bodyLimit: maxBundleBytes,
      schema: {
        tags: ['images'],
        description: 'upload a signed bundle (application/octet-stream); it is verified against the trust root before anything is stored',
        response: { 201: ImageBody, 409: ErrorBody, 422: ErrorBody },
      },
    },
    async (req, reply) => {
      if (!Buffer.isBuffer(req.body)) {
        return reply.status(400).send({ error: { code: 'SERVER_BAD_REQUEST', message: 'send the bundle as application/octet-stream' } });
      }
      const img = app.images.upload(new Uint8Array(req.body), actorOf(req));
      return reply.status(201).send(img);
    },
  );

  f.get('/images', { schema: { tags: ['images'], response: { 200: Type.Object({ items: Type.Array(ImageBody) }) } } }, async () => ({
    items: app.images.list(),
  }));

  f.get<{ Params: { id: string } }>(
    '/images/:id',
    { schema: { tags: ['images'], params: ImageIdParam, response: { 200: ImageBody, 404: ErrorBody } } },
    async (req) => app.images.get(req.params.id),
  );

  f.get<{ Params: { id: string } }>(
    '/images/:id/manifest',
    { schema: { tags: ['images'], params: ImageIdParam, response: { 404: ErrorBody } } },
    async (req) => app.images.get(req.params.id).manifest,
  );
};
