import canonicalizeModule from 'canonicalize';

// canonicalize@2 is CommonJS (`module.exports = fn`) but its typings declare
// an ES default export, so under NodeNext the types and runtime disagree.
// Accept either shape rather than trust the typings.
type Canonicalize = (input: unknown) => string | undefined;
const canonicalize: Canonicalize =
  typeof canonicalizeModule === 'function'
    ? (canonicalizeModule as Canonicalize)
    : (canonicalizeModule as { default: Canonicalize }).default;

// Strict structural checks shared by the manifest and root validators. Both
// documents are security metadata: an unknown field is refused rather than
// ignored, because a field one version ignores may be one a later version
// trusts, and the two would then disagree about what was signed.

/** Throws with a message naming the offending path. */
export type Fail = (message: string) => never;

/** Asserts `value` is a plain object with exactly the allowed keys and all required keys present. */
export function exactObject(
  value: unknown,
  path: string,
  required: readonly string[],
  optional: readonly string[],
  fail: Fail,
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${path} must be an object`);
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!required.includes(key) && !optional.includes(key)) fail(`${path} has unknown field ${JSON.stringify(key)}`);
  }
  for (const key of required) {
    if (!Object.hasOwn(obj, key)) fail(`${path}.${key} is missing`);
  }
  return obj;
}

/** Asserts a string matching `pattern`. */
export function stringMatching(value: unknown, path: string, pattern: RegExp, what: string, fail: Fail): string {
  if (typeof value !== 'string' || !pattern.test(value)) fail(`${path} must be ${what}`);
  return value as string;
}

/** Asserts an integer in [min, max] (both within the safe-integer range). */
export function integerIn(value: unknown, path: string, min: number, max: number, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(`${path} must be an integer in ${min}..${max}`);
  }
  return value as number;
}

/** Asserts an array. */
export function arrayOf(value: unknown, path: string, fail: Fail): unknown[] {
  if (!Array.isArray(value)) fail(`${path} must be an array`);
  return value as unknown[];
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/;

/**
 * Asserts an ISO-8601 UTC timestamp (`Date.toISOString` form, milliseconds
 * optional). Round-tripping through Date rejects impossible dates such as
 * February 30 that a regex alone would pass.
 */
export function isoTimestamp(value: unknown, path: string, fail: Fail): string {
  if (typeof value !== 'string' || !ISO_UTC.test(value)) fail(`${path} must be an ISO-8601 UTC timestamp like 2030-01-01T00:00:00Z`);
  const s = value as string;
  const ms = Date.parse(s);
  const withMillis = s.length === 20 ? `${s.slice(0, 19)}.000Z` : s;
  if (Number.isNaN(ms) || new Date(ms).toISOString() !== withMillis) fail(`${path} is not a real date: ${s}`);
  return s;
}

/** RFC 8785 canonical JSON text of a JSON value. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no JSON representation');
  return text;
}
