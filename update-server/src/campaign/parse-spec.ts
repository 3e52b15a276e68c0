import { Value } from '@sinclair/typebox/value';
import { CampaignSpecSchema, type CampaignSpec } from './spec.ts';
import { ServerError, ServerErrorCode } from '../errors.ts';

/**
 * Fills defaults and checks a campaign definition, including the rules a
 * JSON schema cannot say (increasing percentages, a non-empty target).
 */
export function parseCampaignSpec(input: unknown): CampaignSpec {
  const withDefaults = Value.Default(CampaignSpecSchema, Value.Clone(input));
  if (!Value.Check(CampaignSpecSchema, withDefaults)) {
    const first = Value.Errors(CampaignSpecSchema, withDefaults).First();
    throw new ServerError(ServerErrorCode.BadRequest, `invalid campaign: ${first?.path || '/'} ${first?.message ?? ''}`.trim());
  }
  const spec = withDefaults;
  const t = spec.target;
  if (t.deviceIds === undefined && t.tags === undefined && t.hardware === undefined && t.currentVersions === undefined) {
    // An empty target would mean "the whole fleet"; make the operator say so explicitly.
    throw new ServerError(ServerErrorCode.BadRequest, 'invalid campaign: target must name device ids or at least one filter');
  }
  const p = spec.waves.percents;
  for (let i = 1; i < p.length; i++) {
    if ((p[i] ?? 0) <= (p[i - 1] ?? 0)) {
      throw new ServerError(ServerErrorCode.BadRequest, 'invalid campaign: wave percents must strictly increase');
    }
  }
  return spec;
}
