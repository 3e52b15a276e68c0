import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import type { ServerApp } from '../app.ts';
import { installErrorHandler } from './error-handler.ts';
import { devicesRoutes } from './routes/devices.ts';
import { imagesRoutes } from './routes/images.ts';
import { campaignsRoutes } from './routes/campaigns.ts';
import { eventsRoutes } from './routes/events.ts';
import { auditRoutes } from './routes/audit.ts';
import { ErrorBody } from './schemas.ts';

/** Options of the HTTP layer. */
export interface BuildOptions {
  app: ServerApp;
  /** pino options or false; tests pass false. */
  logger?: FastifyServerOptions['logger'];
  maxBundleBytes?: number;
  sseKeepAliveMs?: number;
}

/**
 * Builds the HTTP API without listening, so tests drive it with inject().
 * Each area is its own plugin under /api/v1; /metrics and /docs sit at the root.
 */
export async function build(opts: BuildOptions): Promise<FastifyInstance> {
  const f = Fastify({
    logger: opts.logger ?? false,
    // SSE streams never end on their own; without this, close() would wait
    // for every connected console to go away.
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  });
  installErrorHandler(f);
  f.addSchema(ErrorBody);
  await f.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'uniota update server', version: '1' },
      tags: [{ name: 'devices' }, { name: 'images' }, { name: 'campaigns' }, { name: 'audit' }],
    },
  });
  f.get('/docs/json', { schema: { hide: true } }, async () => f.swagger());
  const { app } = opts;
  await f.register(
    async (api) => {
      await api.register(devicesRoutes, { app });
      await api.register(imagesRoutes, { app, maxBundleBytes: opts.maxBundleBytes ?? 512 * 1024 * 1024 });
      await api.register(campaignsRoutes, { app });
      await api.register(eventsRoutes, { app, ...(opts.sseKeepAliveMs !== undefined ? { keepAliveMs: opts.sseKeepAliveMs } : {}) });
      await api.register(auditRoutes, { app });
    },
    { prefix: '/api/v1' },
  );
  f.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', app.metrics.registry.contentType);
    return app.metrics.registry.metrics();
  });
  f.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  return f;
}

/** Starts listening; returns the address (port 0 picks a free port). */
export async function listen(f: FastifyInstance, opts: { host: string; port: number }): Promise<string> {
  return f.listen({ host: opts.host, port: opts.port });
}
