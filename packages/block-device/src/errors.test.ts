import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BlockDeviceErrorCode } from './errors.ts';

describe('BlockDeviceError codes', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  it.each(Object.values(BlockDeviceErrorCode))('%s is documented in README.md', (code) => {
    expect(readme).toMatch(new RegExp(`\\| \`${code}\` \\| \\S`));
  });
});
