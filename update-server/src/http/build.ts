import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import helmet from '@fastify/helmet';
import type { ServerApp } from '../app.ts';
import { installErrorHandler } from './error-handler.ts';
import { devicesRoutes } from './routes/devices.ts';
import { imagesRoutes } from './routes/images.ts';
import { campaignsRoutes } from './routes/campaigns.ts';
import { eventsRoutes } from './routes/events.ts';
import { auditRoutes } from './routes/audit.ts';
import { ErrorBody } from './schemas.ts';
import { AuthService, type AuthOptions } from '../auth/auth-service.ts';
import { installGuard } from '../auth/guard.ts';
import { authRoutes } from './routes/auth.ts';
import { usersRoutes } from './routes/users.ts';
import { tokensRoutes } from './routes/tokens.ts';
import { fleetRoutes } from './routes/fleet.ts';
import { admissionRoutes } from './routes/admission.ts';
import { rootsRoutes } from './routes/roots.ts';
import { registerConsole } from '../console-static.ts';
import { HTTPS_MIN_VERSION, type HttpsMaterial } from '../https-tls.ts';

/** Options of the HTTP layer. */
export interface BuildOptions {
  app: ServerApp;
  /** pino options or false; tests pass false. */
  logger?: FastifyServerOptions['logger'];
  maxBundleBytes?: number;
  sseKeepAliveMs?: number;
  /** Authentication tunables (KDF cost, session timeouts, login limit, setup token). */
  auth?: AuthOptions;
  /** Built console directory; default update-server/console-dist. */
  consoleDir?: string;
  /** Serve HTTPS only (TLS 1.2+) with this certificate and key; plain HTTP otherwise. */
  https?: HttpsMaterial;
}

/**
 * The console's Content-Security-Policy: scripts, styles and connections only
 * from this origin, no inline script or style, no framing, no plugins.
 */
export const contentSecurityPolicy = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/**
 * Builds the HTTP API without listening, so tests drive it with inject().
 * Each area is its own plugin under /api/v1; /metrics and /docs sit at the root.
 */
export async function build(opts: BuildOptions): Promise<FastifyInstance & { auth: AuthService }> {
  const f = Fastify({
    ...(opts.https !== undefined ? { https: { cert: opts.https.cert, key: opts.https.key, minVersion: HTTPS_MIN_VERSION } } : {}),
    logger: opts.logger ?? false,
    // SSE streams never end on their own; without this, close() would wait
    // for every connected console to go away.
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  });
  installErrorHandler(f);
  f.addSchema(ErrorBody);
  const auth = new AuthService(opts.app.db, opts.app.clock, opts.auth ?? {});
  await f.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: contentSecurityPolicy },
    // When this server terminates TLS itself, browsers are told to never try
    // plain http again; behind a TLS terminator, that proxy sets the header.
    strictTransportSecurity: opts.https !== undefined ? { maxAge: 180 * 86_400, includeSubDomains: false } : false,
  });
  installGuard(f, auth);
  await f.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'uniota update server', version: '1' },
      tags: [{ name: 'devices' }, { name: 'images' }, { name: 'campaigns' }, { name: 'audit' }, { name: 'auth' }, { name: 'users' }, { name: 'tokens' }, { name: 'roots' }],
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
      await api.register(authRoutes, { app, auth });
      await api.register(usersRoutes, { app, auth });
      await api.register(tokensRoutes, { app, auth });
      await api.register(fleetRoutes, { app });
      await api.register(admissionRoutes, { app });
      await api.register(rootsRoutes, { app });
    },
    { prefix: '/api/v1' },
  );
  f.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', app.metrics.registry.contentType);
    return app.metrics.registry.metrics();
  });
  f.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  await registerConsole(f, opts.consoleDir);
  // Exposed so tests and the CLI-less bootstrap can reach accounts and tokens.
  return Object.assign(f as FastifyInstance, { auth });
}

/** Starts listening; returns the address (port 0 picks a free port). */
export async function listen(f: FastifyInstance, opts: { host: string; port: number }): Promise<string> {
  return f.listen({ host: opts.host, port: opts.port });
}
