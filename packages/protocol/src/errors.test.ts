import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hasCode } from '@uniota/errors';
import { encodeChunkFrame, imageTag } from './chunk-frame.ts';
import { RejectCode } from './decode.ts';
import { ProtocolErrorCode } from './errors.ts';
import { MAX_CHUNK_SIZE } from './schemas.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('documentation of codes', () => {
  it.each(Object.values(ProtocolErrorCode))('error code %s has a README row', (code) => {
    expect(readme).toMatch(new RegExp(`^\\| ${code} \\| .+ \\|$`, 'm'));
  });
  it.each(Object.values(RejectCode))('reject reason %s has a README row', (reason) => {
    expect(readme).toMatch(new RegExp(`^\\| ${reason} \\| .+ \\|$`, 'm'));
  });
});

describe('encodeChunkFrame', () => {
  it.each([
    ['bad tag', () => encodeChunkFrame('xyz', 0, new Uint8Array(1))],
    ['negative index', () => encodeChunkFrame(imageTag('i'), -1, new Uint8Array(1))],
    ['empty chunk', () => encodeChunkFrame(imageTag('i'), 0, new Uint8Array(0))],
    ['oversized chunk', () => encodeChunkFrame(imageTag('i'), 0, new Uint8Array(MAX_CHUNK_SIZE + 1))],
  ])('refuses %s with PROTOCOL_BAD_FRAME', (_n, f) => {
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, ProtocolErrorCode.BAD_FRAME)).toBe(true);
  });
});
