import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ServerApp } from '../../app.ts';
import { ServerError, ServerErrorCode } from '../../errors.ts';
import { DeviceBody, ErrorBody, IdParam, Pagination } from '../schemas.ts';

/** GET /devices (filters + pagination) and GET /devices/:id (with its actions). */
export const devicesRoutes: FastifyPluginAsync<{ app: ServerApp }> = async (f, { app }) => {
  f.get<{ Querystring: { hardware?: string; tag?: string; version?: string; online?: boolean; q?: string; limit: number; offset: number } }>(
    '/devices',
    {
      schema: {
        tags: ['devices'],
        querystring: Type.Object({
          hardware: Type.Optional(Type.String()), tag: Type.Optional(Type.String()), version: Type.Optional(Type.String()),
          online: Type.Optional(Type.Boolean()), q: Type.Optional(Type.String({ maxLength: 200, description: 'part of the device id' })), ...Pagination,
        }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(DeviceBody), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() }) },
      },
    },
    async (req) => {
      const q = req.query;
      const res = app.engine.devices.list({
        limit: q.limit, offset: q.offset,
        ...(q.hardware !== undefined ? { hardware: q.hardware } : {}),
        ...(q.tag !== undefined ? { tag: q.tag } : {}),
        ...(q.version !== undefined ? { version: q.version } : {}),
        ...(q.online !== undefined ? { online: q.online } : {}),
        ...(q.q !== undefined ? { q: q.q } : {}),
      });
      return { ...res, limit: q.limit, offset: q.offset };
    },
  );

  f.get<{ Params: { id: string } }>(
    '/devices/:id',
    {
      schema: {
        tags: ['devices'], params: IdParam,
        response: {
          200: Type.Object({
            device: DeviceBody,
            actions: Type.Array(Type.Object({
              id: Type.Integer(), campaignId: Type.Integer(), wave: Type.Integer(), state: Type.String(), attempt: Type.Integer(),
              failureKind: Type.Union([Type.String(), Type.Null()]), detail: Type.Union([Type.String(), Type.Null()]), updatedAt: Type.Integer(),
            })),
          }),
          404: ErrorBody,
        },
      },
    },
    async (req) => {
      const device = app.engine.devices.get(req.params.id);
      if (device === undefined) throw new ServerError(ServerErrorCode.NotFound, `device ${req.params.id} not found`);
      return { device, actions: app.engine.actions.forDevice(device.id) };
    },
  );
};
