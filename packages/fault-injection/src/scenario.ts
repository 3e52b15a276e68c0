/**
 * Scenarios as data: the file a CI engineer writes (JSON or YAML), its schema,
 * and the parser that turns it into typed rows or one clear error.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { FaultTestError } from './errors.ts';

const Behaviour = Type.Union([Type.Literal('ok'), Type.Literal('panic'), Type.Literal('hang'), Type.Literal('unhealthy')], {
  description: 'what the image does when booted (used only when the payload is not a simulated image)',
});
const CutMode = Type.Union([Type.Literal('before'), Type.Literal('torn'), Type.Literal('after')]);
const Common = {
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  /** How the user's image behaves in the in-process tier when it is not a simulated image. */
  behaviour: Type.Optional(Behaviour),
};

const Install = Type.Object({ kind: Type.Literal('install'), ...Common }, { additionalProperties: false });
const Sweep = Type.Object(
  {
    kind: Type.Literal('power-cut-sweep'),
    ...Common,
    modes: Type.Optional(Type.Array(CutMode, { minItems: 1, uniqueItems: true })),
    /** Cut at every `every`-th operation (1 = every write and flush), counted among `targets`. */
    every: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Cut only at operations touching these (env, slot, journal, gpt writes; flush); default all. */
    targets: Type.Optional(Type.Array(Type.Union([Type.Literal('env'), Type.Literal('slot'), Type.Literal('journal'), Type.Literal('gpt'), Type.Literal('flush')]), { minItems: 1, uniqueItems: true })),
  },
  { additionalProperties: false },
);
const Corrupt = Type.Object(
  {
    kind: Type.Literal('corrupt-payload'),
    ...Common,
    /** Byte offset in the payload flipped in transit; default the middle. */
    offset: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
const WrongSig = Type.Object({ kind: Type.Literal('wrong-signature'), ...Common }, { additionalProperties: false });
const Downgrade = Type.Object({ kind: Type.Literal('downgrade'), ...Common }, { additionalProperties: false });
const TrialCut = Type.Object(
  {
    kind: Type.Literal('trial-boot-cut'),
    ...Common,
    /** Consecutive power-ons that die right after the bootloader stored its count. */
    times: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
  },
  { additionalProperties: false },
);
const Repeated = Type.Object(
  {
    kind: Type.Literal('repeated-cuts'),
    ...Common,
    runs: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
    seed: Type.Optional(Type.Integer({ minimum: 0 })),
    maxCuts: Type.Optional(Type.Integer({ minimum: 2, maximum: 50 })),
  },
  { additionalProperties: false },
);

/** The schema of one scenario row. */
export const ScenarioSchema = Type.Union([Install, Sweep, Corrupt, WrongSig, Downgrade, TrialCut, Repeated]);
/** The schema of a scenario file. */
export const ScenarioFileSchema = Type.Object(
  {
    version: Type.Literal(1),
    defaults: Type.Optional(
      Type.Object(
        {
          behaviour: Type.Optional(Behaviour),
          /** How the deployed image behaves when it is not a simulated image; default ok. */
          deployedBehaviour: Type.Optional(Behaviour),
        },
        { additionalProperties: false },
      ),
    ),
    scenarios: Type.Array(ScenarioSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export type Scenario = Static<typeof ScenarioSchema>;
export type ScenarioKind = Scenario['kind'];
export type ScenarioFile = Static<typeof ScenarioFileSchema>;

/** Every kind of scenario, in the order the docs list them. */
export const SCENARIO_KINDS: readonly ScenarioKind[] = ['install', 'power-cut-sweep', 'corrupt-payload', 'wrong-signature', 'downgrade', 'trial-boot-cut', 'repeated-cuts'];

/** Parses and validates a scenario file (JSON, or YAML when `fileName` ends in .yaml/.yml or the text is not JSON). */
export function parseScenarioFile(text: string, fileName = 'scenarios'): ScenarioFile {
  let data: unknown;
  try {
    data = /\.ya?ml$/i.test(fileName) ? parseYaml(text) : looksLikeJson(text) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new FaultTestError('SCENARIO_PARSE', `${fileName}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`, { cause: err });
  }
  if (Value.Check(ScenarioFileSchema, data)) return data;
  throw new FaultTestError('SCENARIO_INVALID', `${fileName}: ${describeProblem(data)}`);
}

function looksLikeJson(text: string): boolean {
  const t = text.trimStart();
  return t.startsWith('{') || t.startsWith('[');
}

/** One readable sentence for the first problem: a CI log line should point straight at the bad row. */
function describeProblem(data: unknown): string {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'expected an object with `version: 1` and `scenarios: [...]`';
  const obj = data as Record<string, unknown>;
  if (obj.version !== 1) return `unsupported version ${JSON.stringify(obj.version)} (expected 1)`;
  if (!Array.isArray(obj.scenarios) || obj.scenarios.length === 0) return '`scenarios` must be a non-empty list';
  for (const [i, row] of obj.scenarios.entries()) {
    if (Value.Check(ScenarioSchema, row)) continue;
    const kind = (row as { kind?: unknown } | null)?.kind;
    const at = `scenarios[${i}]`;
    if (typeof kind !== 'string' || !(SCENARIO_KINDS as readonly string[]).includes(kind)) {
      return `${at}: unknown kind ${JSON.stringify(kind)} (expected one of ${SCENARIO_KINDS.join(', ')})`;
    }
    const schema = ScenarioSchema.anyOf.find((s) => s.properties.kind.const === kind);
    const first = schema === undefined ? undefined : Value.Errors(schema, row).First();
    return `${at} (${kind}): ${first === undefined ? 'invalid' : `${first.path || '/'} ${first.message}`}`;
  }
  const first = Value.Errors(ScenarioFileSchema, data).First();
  return first === undefined ? 'invalid scenario file' : `${first.path || '/'} ${first.message}`;
}

/** The display name of a scenario row. */
export function scenarioName(s: Scenario, index: number): string {
  return s.name ?? `${index + 1}: ${s.kind}${s.behaviour === undefined ? '' : ` (${s.behaviour})`}`;
}
