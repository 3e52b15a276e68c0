import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FaultTestErrorCode } from './errors.ts';
import { SCENARIO_KINDS, parseScenarioFile } from './scenario.ts';

describe('parseScenarioFile', () => {
  it('reads the same rows from JSON and YAML', () => {
    const json = parseScenarioFile('{"version":1,"scenarios":[{"kind":"power-cut-sweep","modes":["torn"],"every":2}]}', 'f.json');
    const yaml = parseScenarioFile('version: 1\nscenarios:\n  - kind: power-cut-sweep\n    modes: [torn]\n    every: 2\n', 'f.yaml');
    expect(yaml).toEqual(json);
    expect(json.scenarios[0]).toEqual({ kind: 'power-cut-sweep', modes: ['torn'], every: 2 });
  });

  it('accepts the documented example, which uses every kind', () => {
    const f = parseScenarioFile(readFileSync(new URL('../../../docs/fault-test-scenarios.yaml', import.meta.url), 'utf8'), 'example.yaml');
    expect(new Set(f.scenarios.map((s) => s.kind))).toEqual(new Set(SCENARIO_KINDS));
  });

  it.each([
    ['duplicate cut modes', '{"version":1,"scenarios":[{"kind":"power-cut-sweep","modes":["torn","torn"]}]}', 'SCENARIO_INVALID'],
    ['a behaviour that does not exist', '{"version":1,"scenarios":[{"kind":"install","behaviour":"explode"}]}', 'SCENARIO_INVALID'],
    ['a top-level list', '[]', 'SCENARIO_INVALID'],
    ['broken JSON', '{"version":1,', 'SCENARIO_PARSE'],
  ])('refuses %s', (_, text, code) => {
    expect(() => parseScenarioFile(text, 'f.json')).toThrow(expect.objectContaining({ code }));
  });
});

describe('error codes', () => {
  it('each code is documented in the README', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const code of Object.values(FaultTestErrorCode)) expect(readme).toContain(`| \`${code}\` |`);
  });
});
