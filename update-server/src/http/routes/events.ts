import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ServerApp } from '../../app.ts';
import { NumericIdParam } from '../schemas.ts';

/**
 * GET /campaigns/:id/events: a server-sent events stream of campaign
 * progress. It starts with a `snapshot` (the same body as GET /campaigns/:id),
 * then every stored event after `Last-Event-ID` (or `?after=`), then live
 * events as they commit. Event ids are the events table ids, so a console
 * that reconnects resumes exactly where it stopped.
 */
export const eventsRoutes: FastifyPluginAsync<{ app: ServerApp; keepAliveMs?: number }> = async (f, { app, keepAliveMs = 15_000 }) => {
  f.get<{ Params: { id: number }; Querystring: { after?: number } }>(
    '/campaigns/:id/events',
    {
      schema: {
        tags: ['campaigns'], params: NumericIdParam,
        querystring: Type.Object({ after: Type.Optional(Type.Integer({ minimum: 0 })) }),
        produces: ['text/event-stream'],
      },
    },
    async (req, reply) => {
      const id = req.params.id;
      const snapshot = app.engine.status(id); // 404 before the stream starts
      const header = req.headers['last-event-id'];
      let last = typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : req.query.after ?? 0;
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
      const pump = () => {
        for (;;) {
          const batch = app.engine.events.since(id, last, 500);
          for (const e of batch) {
            raw.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify({ ...e.data, deviceId: e.deviceId, at: e.at })}\n\n`);
            last = e.id;
          }
          if (batch.length < 500) break;
        }
      };
      pump();
      const unsubscribe = app.bus.subscribe((ids) => {
        if (ids.has(id)) pump();
      });
      const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), keepAliveMs);
      keepAlive.unref();
      req.raw.on('close', () => {
        clearInterval(keepAlive);
        unsubscribe();
      });
    },
  );
};
