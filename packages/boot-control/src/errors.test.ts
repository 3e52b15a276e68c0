import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BootControlErrorCode } from './errors.ts';

describe('BootControlError codes', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  it.each(Object.values(BootControlErrorCode))('%s is documented in README.md', (code) => {
    expect(readme).toMatch(new RegExp(`\\| \`${code}\` \\| \\S`));
  });
});
