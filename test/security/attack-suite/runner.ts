/**
 * The attack runner: every row is data (what is attacked, the code it must
 * be refused with, a `mount` that performs it), and the same five checks run
 * after every row:
 *
 *  1. rejected with a clear error: the observed code is the expected one and
 *     is documented in a package README;
 *  2. the running slot is unchanged (same slot, same committed image, no reboot);
 *  3. the inactive slot was not activated (boot_part, upgrade_available and
 *     bootcount as before: no trial armed);
 *  4. the server state is consistent: no action succeeded, the device's
 *     reported version is unchanged, the device's earlier campaigns keep
 *     their counts (a replay does not reopen them);
 *  5. the refusal was recorded with its code where the row says: the server's
 *     events table (also `device.refused`, from the device's refusal report
 *     for a command it refused without answering), its audit log, or the
 *     device's own refusal counters.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { TableRow } from '../attack-table.ts';
import type { Harness, SuiteDevice } from './harness.ts';

/** Where a refusal must show up, with its code. */
export type RecordedIn = 'events' | 'audit' | 'device';

/** What a row observed. */
export interface Observed {
  /** The code the attack was refused with (device report, HTTP error, guard reason). */
  code: string;
  /** One line for the table: how it was refused. */
  how: string;
  /** Where the refusal is recorded, with the code found there (each is checked; a row may name several). */
  recorded: Array<{ in: RecordedIn; code: string }>;
}

/** One attack, as data. */
export interface AttackRow {
  cls: 'signing' | 'trust' | 'wrong target' | 'MQTT' | 'endless/slow data' | 'console/API';
  attack: string;
  /** The code it must be refused with. */
  expected: string;
  /** The row's test timeout (default 60 s), for a row that is long by design (the big flood). */
  timeoutMs?: number;
  /** Transfer tuning of this row's device (e.g. a shorter throughput window). */
  transfer?: Parameters<Harness['newDevice']>[1];
  /** Runs before the "before" snapshot (e.g. a legitimate update whose offer the attacker captures). */
  setup?(h: Harness, dev: SuiteDevice): Promise<void>;
  /** Performs the attack and reports what happened. */
  mount(h: Harness, dev: SuiteDevice): Promise<Observed>;
}


interface Snapshot {
  boots: number;
  runningSlot: string | undefined;
  committed: string;
  env: Record<string, string>;
  serverVersion: string | null | undefined;
  campaigns: Map<number, string>;
  maxEvent: number;
  maxAudit: number;
  deviceRefusals: Map<string, number>;
}

const READMES = ['packages/image/README.md', 'packages/protocol/README.md', 'device-agent/README.md', 'update-server/README.md'];
let documented: string | null = null;

/** True when `code` appears as a documented code (table cell or backticked) in a package README. */
export function isDocumented(code: string): boolean {
  documented ??= READMES.map((p) => readFileSync(new URL(`../../../${p}`, import.meta.url), 'utf8')).join('\n');
  return documented.includes(`\`${code}\``) || documented.includes(`| ${code} |`);
}

async function snapshot(h: Harness, dev: SuiteDevice): Promise<Snapshot> {
  const db = h.server.app.db;
  const service = dev.net.service;
  const refusals = new Map<string, number>(service?.refusedCommands ?? []);
  for (const reason of ['id-mismatch', 'schema', 'malformed', 'oversized', 'unknown-topic']) refusals.set(reason, service?.rejections.count(reason as never) ?? 0);
  return {
    boots: dev.net.boots,
    runningSlot: dev.net.device.bootLog.at(-1)?.kind === 'booted' ? (dev.net.device.bootLog.at(-1) as { slot: string }).slot : undefined,
    committed: JSON.stringify(service?.agent.state.committed ?? null),
    env: await dev.env(),
    serverVersion: h.deviceRow(dev.id)?.current_version,
    // The campaigns that concern this device (others move on by themselves, e.g. time out).
    campaigns: new Map(
      (db.prepare('SELECT DISTINCT campaign_id AS id FROM actions WHERE device_id = ?').all(dev.id) as { id: number }[]).map((c) => [
        c.id,
        JSON.stringify(h.server.app.engine.status(c.id).counts),
      ]),
    ),
    maxEvent: (db.prepare('SELECT COALESCE(MAX(id), 0) AS n FROM events').get() as { n: number }).n,
    maxAudit: (db.prepare('SELECT COALESCE(MAX(seq), 0) AS n FROM audit_log').get() as { n: number }).n,
    deviceRefusals: refusals,
  };
}

/** Runs one row and the five checks; returns the table line. Throws (fails the test) on any broken check. */
export async function runRow(h: Harness, row: AttackRow, deviceId: string): Promise<TableRow> {
  const dev = await h.newDevice(deviceId, row.transfer);
  await row.setup?.(h, dev);
  const before = await snapshot(h, dev);
  const seen = await row.mount(h, dev);
  // Let late reports and reboots (which must not happen) surface.
  await new Promise((r) => setTimeout(r, 300));
  const after = await snapshot(h, dev);
  const db = h.server.app.db;

  // The observations themselves must be real, or checks 2 and 3 would pass on nothing.
  expect(before.runningSlot, 'running slot observed').toMatch(/^[AB]$/);
  expect(before.env['boot_part'], 'boot env read').toMatch(/^[AB]$/);
  expect(before.committed, 'committed image observed').not.toBe('null');

  // 1. Rejected with a clear, documented error.
  expect(seen.code, `${row.attack}: refused with`).toBe(row.expected);
  expect(isDocumented(seen.code), `${seen.code} is documented in a package README`).toBe(true);
  // 2. Running slot unchanged: no reboot, same slot, same committed image.
  expect(after.boots, 'device rebooted').toBe(before.boots);
  expect(after.runningSlot).toBe(before.runningSlot);
  expect(after.committed).toBe(before.committed);
  // 3. Inactive slot not activated: the boot env is exactly as before.
  for (const v of ['boot_part', 'upgrade_available', 'bootcount']) expect(after.env[v], `env ${v}`).toBe(before.env[v]);
  expect(after.env['upgrade_available'] ?? '0').toBe('0');
  // 4. Server state consistent.
  expect(after.serverVersion, 'version the server shows for the device').toBe(before.serverVersion);
  for (const [id, counts] of after.campaigns) {
    if (before.campaigns.has(id)) expect(counts, `campaign ${id} untouched by the row`).toBe(before.campaigns.get(id));
    else expect(JSON.parse(counts) as Record<string, number>, `campaign ${id} of the attack`).not.toHaveProperty('succeeded');
  }
  // 5. The refusal is recorded, with its code, where the row says.
  expect(seen.recorded.length, 'recorded somewhere').toBeGreaterThan(0);
  for (const { in: where, code } of seen.recorded) {
    expect(isDocumented(code), `${code} is documented in a package README`).toBe(true);
    if (where === 'events') {
      const rows = db.prepare('SELECT data FROM events WHERE id > ? AND device_id = ?').all(before.maxEvent, deviceId) as { data: string }[];
      expect(rows.some((r) => r.data.includes(code)), `an event of ${deviceId} names ${code}`).toBe(true);
    } else if (where === 'audit') {
      const rows = db.prepare('SELECT details FROM audit_log WHERE seq > ?').all(before.maxAudit) as { details: string }[];
      expect(rows.some((r) => r.details.includes(code)), `an audit entry names ${code}`).toBe(true);
    } else {
      expect(after.deviceRefusals.get(code) ?? 0, `device refusal counter ${code}`).toBeGreaterThan(before.deviceRefusals.get(code) ?? 0);
    }
  }
  const label = { events: 'server events', audit: 'server audit log', device: 'device refusal counter' } as const;
  const where = seen.recorded.map((r) => `${label[r.in]} (${r.code})`).join(' + ');
  return { cls: row.cls, attack: row.attack, expected: row.expected, observed: `${seen.code}: ${seen.how}; nothing installed or armed; recorded in ${where}` };
}
