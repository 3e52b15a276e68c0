import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ServerErrorCode, httpStatusForCode } from './errors.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('error codes', () => {
  it.each(Object.values(ServerErrorCode))('%s is documented in README.md with its HTTP status', (code) => {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
    expect(row, `README.md has no row for ${code}`).toBeDefined();
    expect(row).toContain(`| ${httpStatusForCode[code]} |`);
  });
});
