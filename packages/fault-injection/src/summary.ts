/**
 * The human side of a run: a progress bar while it runs (only on a TTY, so CI
 * logs are not flooded with carriage returns) and a summary at the end.
 */
import type { CaseResult, RunContext } from './cases.ts';

/** Where output goes; `isTTY` decides whether a bar is drawn. */
export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

const BAR_WIDTH = 30;

/** A progress bar redrawn in place on a TTY; silent otherwise. */
export class ProgressBar {
  private last = '';

  constructor(
    private readonly out: OutputStream,
    private readonly total: number,
  ) {}

  /** Redraws the bar with `done` cases finished, `failed` of them with violations. */
  update(done: number, failed: number): void {
    if (this.out.isTTY !== true) return;
    const filled = this.total === 0 ? BAR_WIDTH : Math.round((done / this.total) * BAR_WIDTH);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${this.total} cases, ${failed} with violations`;
    if (line === this.last) return;
    this.last = line;
    this.out.write(`\r\x1b[2K${line}`);
  }

  /** Ends the bar's line. */
  finish(): void {
    if (this.out.isTTY === true && this.last !== '') this.out.write('\n');
  }
}

/** One scenario's line in the summary. */
export interface ScenarioLine {
  name: string;
  note: string;
}

/** What each tier's cases ran on, as the summary names it. */
export const TIER_LABELS: Record<RunContext['tier'], string> = {
  'in-process': 'in-process (simulated bootloader and disk in memory, the real agent)',
  microvm: 'QEMU microvm (every power-on boots an x86 microvm; the host-side bootloader decides from the env on its disk)',
  uboot: "QEMU U-Boot (every power-on boots real U-Boot on arm64, whose boot script reads and stores the env on the VM's disk)",
};

/** The end-of-run summary: the tier (when given), notes, one line per scenario, the first violations, then totals. */
export function summaryText(scenarios: ScenarioLine[], results: CaseResult[], notes: string[], tier?: RunContext['tier'], maxViolations = 20): string {
  const out: string[] = [];
  if (tier !== undefined) out.push(`tier: ${TIER_LABELS[tier]}`);
  for (const n of notes) out.push(`note: ${n}`);
  scenarios.forEach((s, si) => {
    const rs = results.filter((r) => r.scenario === si);
    const bad = rs.filter((r) => r.violations.length > 0).length;
    const skipped = rs.filter((r) => r.skipped !== null);
    const mark = bad > 0 ? 'FAIL' : skipped.length === rs.length ? 'SKIP' : 'ok  ';
    const detail = bad > 0 ? `${bad}/${rs.length} cases violated invariants` : skipped.length === rs.length ? `skipped: ${skipped[0]?.skipped ?? ''}` : `${rs.length - skipped.length} cases passed`;
    out.push(`${mark} ${s.name} — ${detail}${s.note === '' ? '' : ` (${s.note})`}`);
  });
  const violating = results.filter((r) => r.violations.length > 0);
  if (violating.length > 0) {
    out.push('', 'violations:');
    for (const r of violating.slice(0, maxViolations)) {
      for (const v of r.violations) out.push(`  ${r.name}: ${v}`);
      if (r.cuts !== undefined) out.push(`    where power was cut: ${r.cuts.join('; ')}`);
    }
    if (violating.length > maxViolations) out.push(`  … and ${violating.length - maxViolations} more cases (see the JUnit report)`);
  }
  const skipped = results.filter((r) => r.skipped !== null).length;
  out.push('', `fault-test: ${results.length} cases, ${results.length - violating.length - skipped} passed, ${violating.length} with violations, ${skipped} skipped`);
  return `${out.join('\n')}\n`;
}
