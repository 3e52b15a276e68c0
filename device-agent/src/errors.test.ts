import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AgentErrorCode } from './errors.ts';

describe('agent error codes', () => {
  it('are each documented in the README', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const code of Object.values(AgentErrorCode)) expect(readme).toContain(`\`${code}\``);
  });
});
