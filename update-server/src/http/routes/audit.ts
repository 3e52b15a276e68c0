import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ServerApp } from '../../app.ts';
import { verifyAuditChain } from '../../audit/audit-log.ts';

const Entry = Type.Object({
  seq: Type.Integer(), at: Type.Integer(), actor: Type.String(), action: Type.String(), subject: Type.String(),
  details: Type.String({ description: 'JSON text exactly as hashed' }), prevHash: Type.String(), hash: Type.String(),
});

/** GET /audit (paged by sequence number) and GET /audit/verify. */
export const auditRoutes: FastifyPluginAsync<{ app: ServerApp }> = async (f, { app }) => {
  f.get<{ Querystring: { after: number; limit: number } }>(
    '/audit',
    {
      schema: {
        tags: ['audit'],
        querystring: Type.Object({
          after: Type.Integer({ minimum: 0, default: 0 }), limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
        }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(Entry) }) },
      },
    },
    async (req) => ({ items: app.engine.audit.list(req.query.after, req.query.limit) }),
  );

  f.get(
    '/audit/verify',
    {
      schema: {
        tags: ['audit'],
        response: {
          200: Type.Object({
            ok: Type.Boolean(), entries: Type.Integer(), head: Type.Optional(Type.String()),
            brokenAt: Type.Optional(Type.Integer()), reason: Type.Optional(Type.String()),
          }),
        },
      },
    },
    async () => verifyAuditChain(app.db),
  );
};
