import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ServerApp } from '../../app.ts';
import { ADMISSION_STATES } from '../../admission/transitions.ts';
import { actorOf } from '../actor.ts';
import { ErrorBody, IdParam } from '../schemas.ts';

const AdmissionBody = Type.Object({
  id: Type.String(),
  /** null: not registered yet (it may be pre-authorized). */
  admission: Type.Union([...ADMISSION_STATES.map((s) => Type.Literal(s)), Type.Null()]),
  preauthorized: Type.Boolean(),
  /** Hellos and reports ignored while the device was rejected or decommissioned. */
  refusedMessages: Type.Integer(),
});

/** GET/POST /devices/:id/admission: Mender-style accept, reject, decommission, pre-authorize. */
export const admissionRoutes: FastifyPluginAsync<{ app: ServerApp }> = async (f, { app }) => {
  const view = (id: string) => ({
    id,
    admission: app.engine.admission.state(id) ?? null,
    preauthorized: app.engine.admission.isPreauthorized(id),
    refusedMessages: app.engine.admission.refusedCount(id),
  });

  f.get<{ Params: { id: string } }>(
    '/devices/:id/admission',
    { schema: { tags: ['devices'], params: IdParam, response: { 200: AdmissionBody } } },
    async (req) => view(req.params.id),
  );

  f.post<{ Params: { id: string }; Body: { action: 'accept' | 'reject' | 'decommission' | 'preauthorize' } }>(
    '/devices/:id/admission',
    {
      schema: {
        tags: ['devices'],
        params: IdParam,
        body: Type.Object(
          { action: Type.Union([Type.Literal('accept'), Type.Literal('reject'), Type.Literal('decommission'), Type.Literal('preauthorize')]) },
          { additionalProperties: false },
        ),
        response: { 200: AdmissionBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (req) => {
      const { id } = req.params;
      if (req.body.action === 'preauthorize') app.engine.preauthorizeDevice(id, actorOf(req));
      else app.engine.setAdmission(id, req.body.action, actorOf(req));
      return view(id);
    },
  );
};
