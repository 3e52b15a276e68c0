import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ImageError, ImageErrorCode } from './errors.ts';

describe('error codes', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it.each(Object.values(ImageErrorCode))('%s is documented in README.md', (code) => {
    expect(readme).toMatch(new RegExp(`^\\| ${code} \\| \\S.+\\|$`, 'm'));
  });

  it('only NEED_MORE_BYTES is transient', () => {
    for (const code of Object.values(ImageErrorCode)) {
      expect(new ImageError(code, 'x').transient).toBe(code === 'NEED_MORE_BYTES');
    }
  });
});
