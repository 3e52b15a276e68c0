/** The JUnit XML report CI systems read: one testsuite per scenario, one testcase per case. */
import type { CaseResult } from './cases.ts';

/** What the JUnit writer needs to know about a scenario. */
export interface SuiteInfo {
  name: string;
  kind: string;
}

// XML 1.0 cannot carry most control characters even escaped: drop them.
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(INVALID_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

/** Renders results as JUnit XML (suites in scenario order, cases in case order); `tier` is named in the report and each suite's properties. */
export function junitXml(suites: SuiteInfo[], results: CaseResult[], tier?: string): string {
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const failures = results.filter((r) => r.violations.length > 0).length;
  const skipped = results.filter((r) => r.skipped !== null).length;
  const total = results.reduce((t, r) => t + r.durationMs, 0);
  lines.push(`<testsuites name="uniota fault-test${tier === undefined ? '' : ` (${escapeXml(tier)})`}" tests="${results.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds(total)}">`);
  suites.forEach((suite, si) => {
    const rs = results.filter((r) => r.scenario === si).sort((a, b) => a.index - b.index);
    const f = rs.filter((r) => r.violations.length > 0).length;
    const s = rs.filter((r) => r.skipped !== null).length;
    const t = rs.reduce((x, r) => x + r.durationMs, 0);
    lines.push(`  <testsuite name="${escapeXml(suite.name)}" tests="${rs.length}" failures="${f}" errors="0" skipped="${s}" time="${seconds(t)}">`);
    if (tier !== undefined) lines.push('    <properties>', `      <property name="tier" value="${escapeXml(tier)}"/>`, '    </properties>');
    for (const r of rs) {
      const open = `    <testcase classname="uniota.fault-test.${escapeXml(suite.kind)}" name="${escapeXml(r.name)}" time="${seconds(r.durationMs)}"`;
      // Where the cuts struck: what a reader needs to reproduce a failing row.
      const out = r.cuts === undefined ? [] : [`      <system-out>${escapeXml(r.cuts.map((c) => `cut ${c}`).join('\n'))}</system-out>`];
      if (r.skipped !== null) lines.push(`${open}>`, `      <skipped message="${escapeXml(r.skipped)}"/>`, '    </testcase>');
      else if (r.violations.length > 0) {
        lines.push(
          `${open}>`,
          `      <failure type="invariant-violation" message="${escapeXml(r.violations[0] ?? '')}">${escapeXml(r.violations.join('\n'))}</failure>`,
          ...out,
          '    </testcase>',
        );
      } else if (out.length > 0) lines.push(`${open}>`, ...out, '    </testcase>');
      else lines.push(`${open}/>`);
    }
    lines.push('  </testsuite>');
  });
  lines.push('</testsuites>', '');
  return lines.join('\n');
}
