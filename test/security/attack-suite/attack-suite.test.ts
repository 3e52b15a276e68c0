/**
 * Issue #6's attack suite, end to end: a real update server and SQLite, two
 * real mosquitto brokers with the attacker's relay between them, and a real
 * agent on a fresh simulated device per row. Every row is refused, and the
 * runner's five checks hold after each (see runner.ts). The table
 * `attack | expected | observed` is printed at the end and written to
 * test-results/attack-table.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Harness } from './harness.ts';
import { renderTable, runRow, type AttackRow, type TableRow } from './runner.ts';
import { signingRows } from './rows-signing.ts';
import { targetRows, trustRows } from './rows-trust.ts';
import { dataRows } from './rows-data.ts';
import { consoleRows } from './rows-console.ts';

const ROWS: AttackRow[] = [...signingRows, ...trustRows, ...targetRows, ...dataRows, ...consoleRows];

const h = new Harness();
const table: TableRow[] = [];

beforeAll(async () => {
  await h.start();
}, 60_000);

afterAll(async () => {
  await h.stop();
  const md = renderTable(table);
  console.log(`\nAttack table (${table.length} of ${ROWS.length} rows passed all five checks)\n${md}\n`);
  const dir = new URL('../../../test-results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('attack-table.md', dir), `# Attack table\n\n${md}\n`);
}, 60_000);

describe('attack suite: every attack refused, nothing installed, state consistent, refusal recorded', () => {
  ROWS.forEach((row, i) => {
    it(`${row.cls}: ${row.attack}`, async () => {
      table.push(await runRow(h, row, `atk-${String(i).padStart(2, '0')}`));
    }, 60_000);
  });
});
