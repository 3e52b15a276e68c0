import { Type } from '@sinclair/typebox';
import { allActionStates, allCampaignStates } from '../campaign/states.ts';

/** Shapes shared by routes; they also make up the OpenAPI document. */
export const ErrorBody = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { $id: 'ErrorBody', description: 'every error answer; `code` is listed in update-server/README.md' },
);

export const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
export const NumericIdParam = Type.Object({ id: Type.Integer({ minimum: 1 }) });
export const ImageIdParam = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{64}$' }) });

export const DeviceBody = Type.Object({
  id: Type.String(),
  hardware: Type.String(),
  tags: Type.Array(Type.String()),
  currentVersion: Type.Union([Type.String(), Type.Null()]),
  bootedSlot: Type.Union([Type.String(), Type.Null()]),
  online: Type.Boolean(),
  firstSeen: Type.Integer(),
  lastSeen: Type.Integer(),
  /** pending | accepted | rejected | decommissioned (only accepted devices are targeted). */
  admission: Type.String(),
  /** Both slots as the agent last reported them: version verified there, bootable, and whether the running one is on trial. */
  slots: Type.Union([
    Type.Object({
      a: Type.Object({ version: Type.Union([Type.String(), Type.Null()]), bootable: Type.Boolean() }),
      b: Type.Object({ version: Type.Union([Type.String(), Type.Null()]), bootable: Type.Boolean() }),
      trial: Type.Boolean(),
    }),
    Type.Null(),
  ]),
});

export const ImageBody = Type.Object({
  id: Type.String({ description: 'sha256 of the bundle' }),
  version: Type.String(),
  compatible: Type.Array(Type.String()),
  size: Type.Integer(),
  devSigned: Type.Boolean({ description: 'signed by the server-held development key: never for production' }),
  uploadedAt: Type.Integer(),
  manifest: Type.Unknown(),
});

const StateCounts = Type.Record(Type.String(), Type.Integer(), {
  description: `actions per state: ${allActionStates.join(', ')}`,
});

export const CampaignBody = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    imageId: Type.String(),
    state: Type.String({ description: allCampaignStates.join(', ') }),
    stateReason: Type.Union([Type.String(), Type.Null()]),
    currentWave: Type.Integer(),
    spec: Type.Unknown(),
    createdAt: Type.Integer(),
    updatedAt: Type.Integer(),
  },
  { additionalProperties: true },
);

export const CampaignStatusBody = Type.Object({
  campaign: CampaignBody,
  image: Type.Object({ id: Type.String(), version: Type.String() }),
  counts: StateCounts,
  total: Type.Integer(),
  waves: Type.Array(
    Type.Object({
      idx: Type.Integer(),
      kind: Type.String(),
      plannedSize: Type.Integer(),
      openedAt: Type.Union([Type.Integer(), Type.Null()]),
      counts: StateCounts,
    }),
  ),
});

export const Pagination = {
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  offset: Type.Integer({ minimum: 0, default: 0 }),
};
