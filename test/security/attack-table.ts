/**
 * The ONE attack table of issue #6. Two suites fill it: the end-to-end
 * attack suite (attack-suite/, every row through the five checks) and the
 * MQTT attacks on both brokers (mqtt-attacks.test.ts). Vitest runs them in
 * separate workers, so each writes its part to test-results/attack-rows/ and
 * renders test-results/attack-table.md from every part present: whichever
 * finishes last prints and writes the complete table. Each part says when it
 * ran, so a part left over from an earlier run is visible as such.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

/** One line of the table. */
export interface TableRow {
  cls: string;
  attack: string;
  expected: string;
  observed: string;
}

interface Part {
  name: string;
  at: string;
  rows: TableRow[];
}

const DIR = new URL('../../test-results/', import.meta.url);
const PARTS = new URL('attack-rows/', DIR);
/** Order of the classes in the table (issue #6's order). */
const ORDER = ['signing', 'trust', 'wrong target', 'MQTT', 'endless/slow data', 'console/API'];

/** The table as markdown: class | attack | expected | observed. */
export function renderTable(rows: readonly TableRow[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    '| class | attack | expected | observed |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${esc(r.cls)} | ${esc(r.attack)} | ${esc(r.expected)} | ${esc(r.observed)} |`),
  ].join('\n');
}

/** Stores this suite's rows, then renders, writes and returns the combined table of every part present. */
export function publishTablePart(name: string, rows: readonly TableRow[]): string {
  mkdirSync(PARTS, { recursive: true });
  writeFileSync(new URL(`${name}.json`, PARTS), JSON.stringify({ name, at: new Date().toISOString(), rows: [...rows] } satisfies Part));
  const parts = readdirSync(PARTS)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(new URL(f, PARTS), 'utf8')) as Part);
  const rank = (cls: string) => {
    const i = ORDER.findIndex((o) => cls.startsWith(o));
    return i === -1 ? ORDER.length : i;
  };
  const all = parts.flatMap((p) => p.rows).sort((a, b) => rank(a.cls) - rank(b.cls));
  const md = [
    '# Attack table (issue #6)',
    '',
    `Parts: ${parts.map((p) => `${p.name} (${p.rows.length} rows, run ${p.at})`).join('; ')}.`,
    '',
    renderTable(all),
    '',
  ].join('\n');
  writeFileSync(new URL('attack-table.md', DIR), md);
  return md;
}
