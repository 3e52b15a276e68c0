import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ServerApp } from '../../app.ts';
import { TargetSchema, type Target } from '../../campaign/spec.ts';
import { matchesTarget } from '../../campaign/targeting.ts';
import { ServerError, ServerErrorCode } from '../../errors.ts';
import { parseBundleHeader } from '@uniota/image';
import { CampaignStatusBody, ErrorBody, ImageIdParam, NumericIdParam } from '../schemas.ts';

/** Terminal failure states an operator should look at. */
const attentionStates = ['failed', 'rolled_back', 'timed_out', 'rejected'];

/** Read models for the console: the fleet overview and the live target count of the campaign form. */
export const fleetRoutes: FastifyPluginAsync<{ app: ServerApp }> = async (f, { app }) => {
  f.get(
    '/fleet/summary',
    {
      schema: {
        tags: ['devices'],
        response: {
          200: Type.Object({
            total: Type.Integer(), online: Type.Integer(),
            versions: Type.Array(Type.Object({ version: Type.Union([Type.String(), Type.Null()]), count: Type.Integer() })),
            hardware: Type.Array(Type.Object({ hardware: Type.String(), count: Type.Integer() })),
            attention: Type.Array(Type.Object({
              deviceId: Type.String(), campaignId: Type.Integer(), state: Type.String(),
              failureKind: Type.Union([Type.String(), Type.Null()]), detail: Type.Union([Type.String(), Type.Null()]), updatedAt: Type.Integer(),
            })),
            recentCampaigns: Type.Array(CampaignStatusBody),
          }),
        },
      },
    },
    async () => {
      const db = app.db;
      const t = db.prepare('SELECT COUNT(*) AS total, COALESCE(SUM(online), 0) AS online FROM devices').get() as { total: number; online: number };
      const versions = db.prepare('SELECT current_version AS version, COUNT(*) AS count FROM devices GROUP BY current_version ORDER BY count DESC').all() as {
        version: string | null; count: number;
      }[];
      const hardware = db.prepare('SELECT hardware, COUNT(*) AS count FROM devices GROUP BY hardware ORDER BY count DESC').all() as { hardware: string; count: number }[];
      const attention = db
        .prepare(
          `SELECT device_id AS deviceId, campaign_id AS campaignId, state, failure_kind AS failureKind, detail, updated_at AS updatedAt
           FROM actions WHERE state IN (${attentionStates.map(() => '?').join(',')}) ORDER BY updated_at DESC, id DESC LIMIT 20`,
        )
        .all(...attentionStates) as { deviceId: string; campaignId: number; state: string; failureKind: string | null; detail: string | null; updatedAt: number }[];
      const recentCampaigns = app.engine.campaigns.list().sort((a, b) => b.id - a.id).slice(0, 5).map((c) => app.engine.status(c.id));
      return { total: t.total, online: t.online, versions, hardware, attention, recentCampaigns };
    },
  );

  f.post<{ Body: { imageId: string; target: Target } }>(
    '/campaigns/preview',
    {
      schema: {
        tags: ['campaigns'],
        description: 'how many devices a campaign with this image and target would reach right now',
        body: Type.Object({ imageId: Type.String({ pattern: '^[0-9a-f]{64}$' }), target: TargetSchema }, { additionalProperties: false }),
        response: { 200: Type.Object({ matching: Type.Integer(), sample: Type.Array(Type.String()) }), 404: ErrorBody },
      },
    },
    async (req) => {
      const image = app.engine.images.get(req.body.imageId);
      if (image === undefined) throw new ServerError(ServerErrorCode.NotFound, `image ${req.body.imageId} not found`);
      const hits = app.engine.devices.all().filter((d) => matchesTarget(d, req.body.target, image));
      return { matching: hits.length, sample: hits.slice(0, 10).map((d) => d.id) };
    },
  );

  f.get<{ Params: { id: string } }>(
    '/images/:id/signers',
    { schema: { tags: ['images'], params: ImageIdParam, response: { 200: Type.Object({ keyids: Type.Array(Type.String()) }), 404: ErrorBody } } },
    async (req) => {
      app.images.get(req.params.id); // 404 for an unknown image
      return { keyids: parseBundleHeader(app.images.bytes(req.params.id)).signatures.map((s) => s.keyid) };
    },
  );

  f.get<{ Params: { id: number }; Querystring: { state?: string; limit: number } }>(
    '/campaigns/:id/devices',
    {
      schema: {
        tags: ['campaigns'], params: NumericIdParam,
        querystring: Type.Object({ state: Type.Optional(Type.String()), limit: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ items: Type.Array(Type.Object({
            deviceId: Type.String(), state: Type.String(), wave: Type.Integer(), attempt: Type.Integer(),
            failureKind: Type.Union([Type.String(), Type.Null()]), updatedAt: Type.Integer(),
          })) }),
          404: ErrorBody,
        },
      },
    },
    async (req) => {
      app.engine.status(req.params.id); // 404 for an unknown campaign
      const args: unknown[] = [req.params.id];
      let where = 'campaign_id = ?';
      if (req.query.state !== undefined) { where += ' AND state = ?'; args.push(req.query.state); }
      const items = app.db
        .prepare(`SELECT device_id AS deviceId, state, wave, attempt, failure_kind AS failureKind, updated_at AS updatedAt
                  FROM actions WHERE ${where} ORDER BY updated_at DESC, id DESC LIMIT ?`)
        .all(...args, req.query.limit);
      return { items: items as { deviceId: string; state: string; wave: number; attempt: number; failureKind: string | null; updatedAt: number }[] };
    },
  );
};
