import { describe, expect, it } from 'vitest';
import { buildManifest, defaultChunkSize, encodeManifest, manifestParseStats, parseManifestBytes, validateManifest, type Manifest } from './manifest.ts';
import { DAY, NOW, payloadOf, codeOf } from './test-fixtures.ts';

const good = buildManifest(
  {
    product: 'thermostat',
    version: '1.2.3-rc.1+build.5',
    securityCounter: 3,
    compatibleHardware: ['rpi4'],
    createdAt: NOW,
    expiresAt: new Date(NOW.getTime() + DAY),
  },
  payloadOf(100_000),
);

function withField(path: string[], value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
  let obj = copy;
  for (const p of path.slice(0, -1)) obj = obj[p] as Record<string, unknown>;
  const last = path[path.length - 1]!;
  if (value === undefined) delete obj[last];
  else obj[last] = value;
  return copy;
}

describe('manifest validation', () => {
  it('round-trips through its canonical bytes', () => {
    const bytes = encodeManifest(good);
    expect(parseManifestBytes(bytes)).toEqual(good);
    expect(good.payload.chunkSize).toBe(64 * 1024);
    expect(good.payload.chunks).toHaveLength(2);
  });

  it('answers a repeat parse of the same bytes from memory, frozen, and parses bytes that differ in one byte for real', () => {
    const bytes = encodeManifest({ ...good, version: '7.7.7' });
    const before = { ...manifestParseStats };
    const first = parseManifestBytes(bytes);
    const again = parseManifestBytes(Uint8Array.from(bytes));
    expect(again).toBe(first);
    expect(manifestParseStats.parsed - before.parsed).toBe(1);
    expect(manifestParseStats.remembered - before.remembered).toBe(1);
    // Shared between callers, so nobody can change what the next one gets.
    expect(() => first.payload.chunks.push('00')).toThrow(TypeError);
    expect(() => ((first as { version: string }).version = '9.9.9')).toThrow(TypeError);
    expect(parseManifestBytes(bytes).version).toBe('7.7.7');
    // One byte changed (7.7.7 -> 7.7.8): parsed for real, a different manifest.
    const text = new TextDecoder().decode(bytes).replace('"7.7.7"', '"7.7.8"');
    expect(parseManifestBytes(new TextEncoder().encode(text)).version).toBe('7.7.8');
    expect(manifestParseStats.parsed - before.parsed).toBe(2);
    // A refusal is never remembered: the same bad bytes are refused again, parsed again.
    const spaced = new TextEncoder().encode(`${text} `);
    expect(codeOf(() => parseManifestBytes(spaced))).toBe('MANIFEST_NOT_CANONICAL');
    expect(codeOf(() => parseManifestBytes(spaced))).toBe('MANIFEST_NOT_CANONICAL');
    expect(manifestParseStats.parsed - before.parsed).toBe(4);
  });

  it('forgets the least recently used manifest first, past 64 of them', () => {
    const manifestBytes = (i: number) => encodeManifest({ ...good, version: `5.0.${i}` });
    const before = { ...manifestParseStats };
    for (let i = 0; i < 64; i++) parseManifestBytes(manifestBytes(i));
    parseManifestBytes(manifestBytes(0)); // used again: now the most recent
    parseManifestBytes(manifestBytes(64)); // one too many: 5.0.1 goes
    expect(manifestParseStats.parsed - before.parsed).toBe(65);
    parseManifestBytes(manifestBytes(0));
    expect(manifestParseStats.parsed - before.parsed).toBe(65);
    parseManifestBytes(manifestBytes(1));
    expect(manifestParseStats.parsed - before.parsed).toBe(66);
  });

  it.each([
    ['version not semver', ['version'], '1.2'],
    ['version with leading zero', ['version'], '01.2.3'],
    ['version v-prefixed', ['version'], 'v1.2.3'],
    ['empty product', ['product'], ''],
    ['product with slash', ['product'], '../x'],
    ['negative security counter', ['securityCounter'], -1],
    ['fractional security counter', ['securityCounter'], 1.5],
    ['unsafe security counter', ['securityCounter'], 2 ** 53],
    ['no hardware', ['compatibleHardware'], []],
    ['hardware twice', ['compatibleHardware'], ['rpi4', 'rpi4']],
    ['hardware not strings', ['compatibleHardware'], [4]],
    ['negative size', ['payload', 'size'], -1],
    ['unsafe size', ['payload', 'size'], 2 ** 53],
    ['chunk size below 1 KiB', ['payload', 'chunkSize'], 1023],
    ['chunk size above 16 MiB', ['payload', 'chunkSize'], 16 * 1024 * 1024 + 1],
    ['uppercase sha256', ['payload', 'sha256'], 'A'.repeat(64)],
    ['too few chunks', ['payload', 'chunks'], ['0'.repeat(64)]],
    ['unknown payload field', ['payload', 'compression'], 'zstd'],
    ['missing expiresAt', ['expiresAt'], undefined],
    ['impossible date', ['createdAt'], '2029-02-30T00:00:00Z'],
    ['local-time date', ['createdAt'], '2029-01-01T00:00:00+02:00'],
    ['expires before created', ['expiresAt'], '2029-12-31T00:00:00.000Z'],
    ['release notes not a string', ['releaseNotes'], 5],
  ])('%s -> MANIFEST_MALFORMED', (_name, path, value) => {
    expect(codeOf(() => validateManifest(withField(path, value)))).toBe('MANIFEST_MALFORMED');
  });

  it('reports an unknown formatVersion as FORMAT_UNSUPPORTED', () => {
    expect(codeOf(() => validateManifest(withField(['formatVersion'], 2)))).toBe('FORMAT_UNSUPPORTED');
    expect(codeOf(() => parseManifestBytes(new TextEncoder().encode('{"formatVersion":"1"}')))).toBe('FORMAT_UNSUPPORTED');
  });

  it('refuses bytes that are not UTF-8, not JSON or not canonical', () => {
    expect(codeOf(() => parseManifestBytes(Uint8Array.of(0x7b, 0xff, 0x7d)))).toBe('MANIFEST_MALFORMED');
    expect(codeOf(() => parseManifestBytes(new TextEncoder().encode('[1,')))).toBe('MANIFEST_MALFORMED');
    const spaced = new TextEncoder().encode(JSON.stringify(good, null, 2));
    expect(codeOf(() => parseManifestBytes(spaced))).toBe('MANIFEST_NOT_CANONICAL');
  });

  it('refuses a number out of the double range (found by fuzzing: it escaped as a plain Error)', () => {
    // JSON.parse reads 1e999 as Infinity, which RFC 8785 cannot encode.
    const text = new TextDecoder().decode(encodeManifest(good)).replace('"securityCounter":3', '"securityCounter":1e999');
    expect(text).toContain('1e999');
    expect(codeOf(() => parseManifestBytes(new TextEncoder().encode(text)))).toBe('MANIFEST_NOT_CANONICAL');
  });

  it('keeps non-ASCII release notes byte-exact', () => {
    const m: Manifest = { ...good, releaseNotes: 'Grüße 🌡️ "quoted"\n' };
    expect(parseManifestBytes(encodeManifest(m)).releaseNotes).toBe(m.releaseNotes);
  });

  it('grows the default chunk size only for very large payloads', () => {
    expect(defaultChunkSize(0)).toBe(64 * 1024);
    expect(defaultChunkSize(64 * 1024 * 32 * 1024)).toBe(64 * 1024);
    expect(defaultChunkSize(64 * 1024 * 32 * 1024 + 1)).toBe(128 * 1024);
    expect(defaultChunkSize(5 * 1024 ** 3)).toBe(256 * 1024);
    expect(defaultChunkSize(Number.MAX_SAFE_INTEGER)).toBe(16 * 1024 * 1024);
  });
});
