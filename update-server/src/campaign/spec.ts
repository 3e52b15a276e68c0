import { Type, type Static } from '@sinclair/typebox';

/**
 * The campaign definition as the API accepts it. Written once as a schema:
 * fastify validates request bodies with it and the OpenAPI document shows it.
 */
export const TargetSchema = Type.Object(
  {
    deviceIds: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 100000 })),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'device has ANY of these tags' })),
    hardware: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    currentVersions: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false, description: 'explicit ids, or every device matching ALL given filters' },
);
export type Target = Static<typeof TargetSchema>;

export const FailureTypeSchema = Type.Union([
  Type.Literal('failed'),
  Type.Literal('rolled_back'),
  Type.Literal('timed_out'),
  Type.Literal('rejected'),
  Type.Literal('all'),
]);
export type FailureType = Static<typeof FailureTypeSchema>;

export const AbortCriterionSchema = Type.Object(
  {
    failureType: FailureTypeSchema,
    thresholdPercent: Type.Number({ exclusiveMinimum: 0, maximum: 100 }),
    minFinished: Type.Integer({ minimum: 1 }),
    action: Type.Union([Type.Literal('pause'), Type.Literal('abort')]),
  },
  { additionalProperties: false },
);
export type AbortCriterion = Static<typeof AbortCriterionSchema>;

export const CampaignSpecSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    imageId: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    target: TargetSchema,
    waves: Type.Object(
      {
        canary: Type.Integer({ minimum: 0, default: 1 }),
        percents: Type.Array(Type.Number({ exclusiveMinimum: 0, maximum: 100 }), {
          default: [100],
          description: 'cumulative share of the target set reached at the end of each wave after the canary',
        }),
        successPercent: Type.Number({ minimum: 0, maximum: 100, default: 100 }),
      },
      { additionalProperties: false, default: {} },
    ),
    concurrency: Type.Integer({ minimum: 1, default: 50 }),
    timeoutMs: Type.Integer({ minimum: 1000, default: 30 * 60 * 1000 }),
    retry: Type.Object(
      {
        maxAttempts: Type.Integer({ minimum: 1, maximum: 10, default: 3 }),
        baseDelayMs: Type.Integer({ minimum: 0, default: 30_000 }),
        factor: Type.Number({ minimum: 1, default: 2 }),
        maxDelayMs: Type.Integer({ minimum: 0, default: 30 * 60 * 1000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    abort: Type.Array(AbortCriterionSchema, { default: [] }),
    maintenanceWindow: Type.Optional(
      Type.Object(
        {
          start: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'UTC HH:MM' }),
          durationMinutes: Type.Integer({ minimum: 1, maximum: 1440 }),
        },
        { additionalProperties: false },
      ),
    ),
    downloadOnly: Type.Boolean({ default: false }),
    continuous: Type.Boolean({
      default: false,
      description: 'keep running after every target finished so devices joining the target set later still get it',
    }),
  },
  { additionalProperties: false },
);
export type CampaignSpec = Static<typeof CampaignSpecSchema>;
