/**
 * Input generators shared by the fuzz targets: raw bytes and text, and
 * structure-aware mutations of a VALID message (a parser that only ever sees
 * noise never gets past its first check; a near-valid message reaches the
 * deep code paths where the interesting bugs live).
 */
import fc from 'fast-check';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type PathStep = string | number;

/** Random bytes, sizes weighted toward small but up to `maxLength`. */
export function rawBytes(maxLength: number): fc.Arbitrary<Buffer> {
  return fc.uint8Array({ maxLength, size: 'medium' }).map((a) => Buffer.from(a));
}

/** Random text (any code point, lone surrogates included) as UTF-8 bytes. */
export function rawText(maxLength: number): fc.Arbitrary<Buffer> {
  return fc.string({ unit: 'binary', maxLength, size: 'medium' }).map((s) => Buffer.from(s, 'utf8'));
}

/** Arrays nested `depth` deep: a recursive validator or parser would blow its stack. */
export function deeplyNested(depth: number, leaf: Json = 1): string {
  return '['.repeat(depth) + JSON.stringify(leaf) + ']'.repeat(depth);
}

/** Keys that poison or confuse object handling in JavaScript. */
export const nastyKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'then', 'length', '', ' ', 'v', 'deviceId', 'type', 'a\u0000b', '\u{1F4A5}'),
  fc.string({ maxLength: 12 }),
);

/** A JSON value to put where something else was expected. */
export const weirdValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -1, 1.5, -0.5, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 2 ** 64, 4294967296, 4294967295, '', '0', '-1', '1e999', 'NaN', 'null', 'true', [], {}, [null], { v: 1 }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom<Json>('x'.repeat(5_000), '\u{10FFFF}'.repeat(1_000), '\u0000'.repeat(300)),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
);

/** Every path to a value inside `v` (the root is []). */
function pathsOf(v: Json, prefix: PathStep[] = [], out: PathStep[][] = []): PathStep[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...prefix, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) pathsOf(x, [...prefix, k], out);
  return out;
}

/** Sets an own property, also for "__proto__" (plain assignment would change the prototype instead). */
function defineOwn(o: object, key: string, value: Json): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

interface Mutation {
  op: 'replace' | 'delete' | 'add' | 'nest' | 'wrap' | 'stringify' | 'truncate-string' | 'grow-string' | 'duplicate-array';
  at: number;
  key: string;
  value: Json;
  n: number;
}

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom<Mutation['op']>('replace', 'replace', 'delete', 'add', 'add', 'nest', 'wrap', 'stringify', 'truncate-string', 'grow-string', 'duplicate-array'),
  at: fc.nat(),
  key: nastyKey,
  value: weirdValue,
  // Mostly small; sometimes deep or long enough to cross a limit.
  n: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 8 }), weight: 6 }, { arbitrary: fc.integer({ min: 9, max: 300 }), weight: 1 }),
});

/** Applies one mutation to a deep copy of `base`. */
function applyMutation(base: Json, m: Mutation): Json {
  const root: Json = structuredClone(base);
  const paths = pathsOf(root);
  const path = paths[m.at % paths.length] as PathStep[];
  const parentPath = path.slice(0, -1);
  const last = path[path.length - 1];
  let parent: Json = root;
  for (const step of parentPath) parent = (parent as Record<string | number, Json>)[step] as Json;
  const current: Json = last === undefined ? root : ((parent as Record<string | number, Json>)[last] as Json);
  let next: Json | undefined = current;
  switch (m.op) {
    case 'replace':
      next = m.value;
      break;
    case 'delete':
      next = undefined;
      break;
    case 'add':
      if (current !== null && typeof current === 'object' && !Array.isArray(current)) defineOwn(current, m.key, m.value);
      else if (Array.isArray(current)) current.push(m.value);
      else next = { [m.key]: m.value };
      break;
    case 'nest': {
      let v: Json = current;
      for (let i = 0; i < m.n; i++) v = i % 2 === 0 ? [v] : { v };
      next = v;
      break;
    }
    case 'wrap':
      next = [current];
      break;
    case 'stringify':
      next = JSON.stringify(current) ?? null;
      break;
    case 'truncate-string':
      next = typeof current === 'string' ? current.slice(0, m.n % Math.max(1, current.length)) : current === null ? '' : m.value;
      break;
    case 'grow-string':
      next = typeof current === 'string' ? current + '\u00e9\u{1F600}'.repeat(m.n * 20) : m.value;
      break;
    case 'duplicate-array':
      next = Array.isArray(current) ? Array.from({ length: m.n * 3 }, (_, i) => current[i % Math.max(1, current.length)] ?? 0) : [current, current];
      break;
  }
  if (last === undefined) return next === undefined ? null : next;
  if (next === undefined) {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete (parent as Record<string, Json>)[last as string];
  } else if (Array.isArray(parent)) parent[last as number] = next;
  else defineOwn(parent as object, String(last), next);
  return root;
}

/** Largest mutant (as JSON text) worth generating: past every protocol limit, small enough to stay fast. */
const MAX_MUTANT_CHARS = 64 * 1024;

/** Applies mutations in turn, skipping any that would grow the value past MAX_MUTANT_CHARS (nesting stringified twice explodes). */
function mutateBounded(base: Json, ms: Mutation[]): Json {
  let v = base;
  for (const m of ms) {
    const next = applyMutation(v, m);
    if ((JSON.stringify(next) ?? '').length <= MAX_MUTANT_CHARS) v = next;
  }
  return v;
}

interface TextMutation {
  op: 'none' | 'truncate' | 'flip' | 'duplicate-key' | 'insert' | 'trailing' | 'bom';
  at: number;
  byte: number;
  text: string;
}

const textMutationArb: fc.Arbitrary<TextMutation> = fc.record({
  op: fc.constantFrom<TextMutation['op']>('none', 'none', 'none', 'truncate', 'flip', 'duplicate-key', 'insert', 'trailing', 'bom'),
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
  text: fc.constantFrom('"v":2,', '"__proto__":{"polluted":1},', '"deviceId":"other",', ',', '}', ']', '\\u0000', 'NaN', '1e999', '"\ud800"', '//', '\u2028'),
});

/** Applies a text-level mutation to JSON text: cuts, bit flips, duplicate keys, junk. */
function applyTextMutation(text: string, m: TextMutation): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const at = bytes.length === 0 ? 0 : m.at % bytes.length;
  switch (m.op) {
    case 'none':
      return bytes;
    case 'truncate':
      return bytes.subarray(0, at);
    case 'flip': {
      const b = Buffer.from(bytes);
      if (b.length > 0) b[at] = (b[at] as number) ^ (m.byte || 1);
      return b;
    }
    case 'duplicate-key':
      // Duplicate keys: two JSON parsers may keep different copies.
      return text.startsWith('{') ? Buffer.from(`{${m.text}${text.slice(1)}`, 'utf8') : bytes;
    case 'insert':
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(m.text, 'utf8'), bytes.subarray(at)]);
    case 'trailing':
      return Buffer.concat([bytes, Buffer.from(m.text, 'utf8')]);
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
  }
}

/**
 * Structure-aware mutants of a valid JSON message: 1 to 4 mutations (wrong
 * types, missing and extra fields, prototype keys, deep nesting, huge
 * numbers, oversized and truncated strings), then maybe a text-level one.
 */
export function jsonMutant(base: unknown): fc.Arbitrary<Buffer> {
  const original = Buffer.from(JSON.stringify(base));
  return fc
    .tuple(fc.array(mutationArb, { minLength: 1, maxLength: 4 }), textMutationArb)
    .map(([ms, tm]) => applyTextMutation(JSON.stringify(mutateBounded(base as Json, ms)), tm))
    .filter((b) => !b.equals(original));
}

/** Like jsonMutant but over the parsed value (for APIs that take objects, not bytes). */
export function valueMutant(base: unknown): fc.Arbitrary<unknown> {
  return fc.array(mutationArb, { minLength: 1, maxLength: 4 }).map((ms) => mutateBounded(base as Json, ms));
}

interface ByteMutation {
  op: 'flip' | 'truncate' | 'extend' | 'splice' | 'set-u32' | 'zero-run';
  at: number;
  mask: number;
  u32: number;
  junk: Uint8Array;
}

const byteMutationArb: fc.Arbitrary<ByteMutation> = fc.record({
  op: fc.constantFrom<ByteMutation['op']>('flip', 'flip', 'truncate', 'extend', 'splice', 'set-u32', 'zero-run'),
  at: fc.nat(),
  mask: fc.integer({ min: 1, max: 255 }),
  u32: fc.oneof(fc.constantFrom(0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 4 * 1024 * 1024, 4 * 1024 * 1024 + 1), fc.nat({ max: 0xffffffff })),
  junk: fc.uint8Array({ minLength: 1, maxLength: 64 }),
});

function applyByteMutation(bytes: Uint8Array, m: ByteMutation): Buffer {
  const b = Buffer.from(bytes);
  const at = b.length === 0 ? 0 : m.at % b.length;
  switch (m.op) {
    case 'flip':
      if (b.length > 0) b[at] = (b[at] as number) ^ m.mask;
      return b;
    case 'truncate':
      return b.subarray(0, at);
    case 'extend':
      return Buffer.concat([b, m.junk]);
    case 'splice':
      return Buffer.concat([b.subarray(0, at), m.junk, b.subarray(at + m.junk.length)]);
    case 'set-u32':
      if (at + 4 <= b.length) b.writeUInt32BE(m.u32, at);
      return b;
    case 'zero-run':
      b.fill(0, at, Math.min(b.length, at + m.mask));
      return b;
  }
}

/** Mutants of a valid binary message (1 to 4 flips, cuts, splices, overwritten length fields) that differ from it. */
export function byteMutant(base: Uint8Array, opts: { extend?: boolean } = {}): fc.Arbitrary<Buffer> {
  const ops = opts.extend === false ? byteMutationArb.filter((m) => m.op !== 'extend') : byteMutationArb;
  return fc
    .array(ops, { minLength: 1, maxLength: 4 })
    .map((ms) => ms.reduce<Buffer>((b, m) => applyByteMutation(b, m), Buffer.from(base)))
    .filter((b) => !b.equals(Buffer.from(base)));
}

/** Base64 text that is wrong in the ways decoders disagree on: cut, unpadded, url alphabet, junk characters, whitespace. */
export function base64Mutant(valid: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.nat({ max: Math.max(1, valid.length - 1) }).map((n) => valid.slice(0, n)),
    fc.constant(valid.replace(/=+$/, '')),
    fc.constant(valid.replace(/\+/g, '-').replace(/\//g, '_')),
    fc.tuple(fc.nat(), fc.constantFrom('!', '*', ' ', '\n', '=', '\u00e9', '%', '.')).map(([at, c]) => valid.slice(0, at % valid.length) + c + valid.slice(at % valid.length)),
    fc.constant(`${valid}====`),
    fc.constant(`${valid}AAAA`),
    fc.constant(''),
  );
}

/** `total` runs split evenly across `parts` generators (the last takes the remainder). */
export function split(total: number, parts: number): number[] {
  const each = Math.floor(total / parts);
  return Array.from({ length: parts }, (_, i) => (i === parts - 1 ? total - each * (parts - 1) : each));
}
