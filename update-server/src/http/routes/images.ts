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

  if (app.images.devSigningEnabled) {
    f.post<{ Body: Buffer; Querystring: { product: string; version: string; hardware: string; securityCounter: number; expiresInDays: number } }>(
      '/images/dev-sign',
      {
        bodyLimit: maxBundleBytes,
        schema: {
          tags: ['images'],
          description: 'DEVELOPMENT ONLY (present only when the server holds a dev key): sign a raw payload with the server key and store it as devSigned',
          querystring: Type.Object({
            product: Type.String({ minLength: 1, default: 'dev' }),
            version: Type.String({ minLength: 1 }),
            hardware: Type.String({ minLength: 1, description: 'comma-separated compatible hardware' }),
            securityCounter: Type.Integer({ minimum: 0, default: 0 }),
            expiresInDays: Type.Integer({ minimum: 1, maximum: 3650, default: 30 }),
          }, { additionalProperties: false }),
          response: { 201: ImageBody, 400: ErrorBody, 422: ErrorBody },
        },
      },
      async (req, reply) => {
        if (!Buffer.isBuffer(req.body)) {
          return reply.status(400).send({ error: { code: 'SERVER_BAD_REQUEST', message: 'send the payload as application/octet-stream' } });
        }
        const q = req.query;
        const img = app.images.devSign(
          new Uint8Array(req.body),
          { product: q.product, version: q.version, compatibleHardware: q.hardware.split(',').filter((h) => h !== ''), securityCounter: q.securityCounter, expiresInDays: q.expiresInDays },
          actorOf(req),
        );
        return reply.status(201).send(img);
      },
    );
  }

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
