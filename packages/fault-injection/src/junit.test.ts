import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { escapeXml, junitXml } from './junit.ts';
import type { CaseResult } from './cases.ts';

const result = (scenario: number, index: number, name: string, violations: string[] = [], skipped: string | null = null): CaseResult => ({ scenario, index, name, violations, skipped, durationMs: 1500 });

/** What Python's ElementTree (a real XML parser) reads back from the report. */
function parsed(xml: string): { attrs: Record<string, string>; cases: { name: string | null; failure: string | null; message: string | null; skipped: string | null }[] } {
  const script = `
import json, sys, xml.etree.ElementTree as ET
r = ET.fromstring(sys.stdin.read())
def case(c):
  f = c.find('failure'); s = c.find('skipped')
  return {'name': c.get('name'), 'failure': f.text if f is not None else None, 'message': f.get('message') if f is not None else None, 'skipped': s.get('message') if s is not None else None}
print(json.dumps({'attrs': dict(r.attrib), 'cases': [case(c) for c in r.iter('testcase')]}))`;
  return JSON.parse(execFileSync('python3', ['-c', script], { input: xml, encoding: 'utf8' })) as ReturnType<typeof parsed>;
}

describe('junitXml', () => {
  it('escapes every XML metacharacter', () => {
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });

  it('round-trips hostile names and messages through a real XML parser (control characters dropped)', () => {
    const nasty = `cut <torn> & "after" at op 3 ']]> \u0001\u001b[31m`;
    const xml = junitXml([{ name: 'sweep & <co>', kind: 'power-cut-sweep' }], [result(0, 0, nasty, ['runs 1.0.0, expected <2.0.0>', 'second & last'])]);
    const p = parsed(xml);
    expect(p.cases).toEqual([{ name: `cut <torn> & "after" at op 3 ']]> [31m`, failure: 'runs 1.0.0, expected <2.0.0>\nsecond & last', message: 'runs 1.0.0, expected <2.0.0>', skipped: null }]);
  });

  it('counts tests, failures and skips per report and lists cases in scenario then case order', () => {
    const xml = junitXml(
      [{ name: 'a', kind: 'install' }, { name: 'b', kind: 'downgrade' }],
      [result(1, 0, 'b0', [], 'counter is 0'), result(0, 1, 'a1', ['bad']), result(0, 0, 'a0')],
    );
    const p = parsed(xml);
    expect(p.attrs).toMatchObject({ tests: '3', failures: '1', skipped: '1', time: '4.500' });
    expect(p.cases.map((c) => c.name)).toEqual(['a0', 'a1', 'b0']);
    expect(p.cases[2]?.skipped).toBe('counter is 0');
  });

  it('names the tier in the report and each suite, and says where a case cut power', () => {
    const cut: CaseResult = { ...result(0, 0, 'cut torn at op 12/30 (env)', ['env still has a trial pending']), cuts: ['op 12: torn write of 16384 bytes to env copy 1'] };
    const xml = junitXml([{ name: 'env writes', kind: 'power-cut-sweep' }], [cut, { ...result(0, 1, 'clean'), cuts: ['power cut during boot 2 (slot B)'] }], 'uboot');
    const script = `
import json, sys, xml.etree.ElementTree as ET
r = ET.fromstring(sys.stdin.read())
print(json.dumps({'name': r.get('name'), 'tiers': [p.get('value') for p in r.iter('property') if p.get('name') == 'tier'],
  'out': [c.findtext('system-out') for c in r.iter('testcase')]}))`;
    expect(JSON.parse(execFileSync('python3', ['-c', script], { input: xml, encoding: 'utf8' }))).toEqual({
      name: 'uniota fault-test (uboot)',
      tiers: ['uboot'],
      out: ['cut op 12: torn write of 16384 bytes to env copy 1', 'cut power cut during boot 2 (slot B)'],
    });
  });
});
