import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { QemuError, QemuErrorCode } from './errors.ts';

describe('QemuErrorCode', () => {
  it('every code has a row in the README error table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const code of Object.values(QemuErrorCode)) expect(readme, code).toMatch(new RegExp(`^\\| \`${code}\` \\| .+ \\|$`, 'm'));
  });

  it('errors carry their code and are not transient unless said so', () => {
    const e = new QemuError('TOOL_FAILED', 'x');
    expect(e).toMatchObject({ code: 'TOOL_FAILED', transient: false, name: 'QemuError' });
  });
});
