/**
 * Issue #6's attack suite, end to end: a real update server and SQLite on
 * mosquitto, the devices on a second broker (mosquitto, then the embedded
 * aedes broker) with the attacker's relay between them, and a real agent on
 * a fresh simulated device per row. Every row is refused, and the
 * runner's five checks hold after each (see runner.ts). The table
 * `attack | expected | observed` (with the MQTT rows of mqtt-attacks.test.ts,
 * see ../attack-table.ts) is printed at the end and written to
 * test-results/attack-table.md.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Harness } from './harness.ts';
import { runRow, type AttackRow } from './runner.ts';
import { publishTablePart, type TableRow } from '../attack-table.ts';
import { signingRows } from './rows-signing.ts';
import { targetRows, trustRows } from './rows-trust.ts';
import { dataRows } from './rows-data.ts';
import { consoleRows } from './rows-console.ts';
import { mqttRows } from './rows-mqtt.ts';

const ROWS: AttackRow[] = [...signingRows, ...trustRows, ...targetRows, ...mqttRows, ...dataRows, ...consoleRows];

const table: TableRow[] = [];
const BROKERS = ['mosquitto', 'embedded'] as const;

afterAll(() => {
  const md = publishTablePart('end-to-end', table);
  console.log(`\n${table.length} of ${ROWS.length * BROKERS.length} end-to-end rows passed all five checks\n${md}`);
});

describe.each(BROKERS)('attack suite, devices on %s: every attack refused, nothing installed, state consistent, refusal recorded', (broker) => {
  const h = new Harness(broker);
  beforeAll(async () => {
    await h.start();
  }, 60_000);
  afterAll(async () => {
    await h.stop();
  }, 60_000);

  ROWS.forEach((row, i) => {
    it(`${row.cls}: ${row.attack}`, async () => {
      const line = await runRow(h, row, `atk-${String(i).padStart(2, '0')}`);
      table.push({ ...line, cls: `${line.cls} (${broker})` });
    }, 60_000);
  });
});
