// Status ingest into SQLite: device reports per second through the engine's
// batched path (CampaignEngine.ingestReports: one transaction per batch, the
// same call the gateway makes), against raw INSERTs of the same rows into a
// bare table in the same run, so the ratio shows what dedup, the transition
// table and event rows cost. Target: >= 20,000 reports/s.
//
// Run: npx tsx bench/status-ingest.bench.ts [devices] [batch]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CampaignEngine, openDb, type DeviceGateway, type DeviceReport, type UpdateOffer } from '@uniota/update-server';

const DEVICES = Number(process.argv[2] ?? 20_000);
const BATCH = Number(process.argv[3] ?? 500);
const TARGET = 20_000;

const dir = mkdtempSync(join(tmpdir(), 'uniota-bench-'));
try {
  const db = openDb({ path: join(dir, 'server.db') });
  const offers: UpdateOffer[] = [];
  const gateway: DeviceGateway = { sendOffer: async (o) => void offers.push(o), sendCancel: async () => undefined };
  let now = Date.UTC(2026, 0, 1);
  const engine = new CampaignEngine({ db, gateway, clock: () => now });
  engine.images.insert({ id: 'f'.repeat(64), version: '2.0.0', compatible: ['board-a'], size: 1, manifest: {}, devSigned: false, uploadedAt: now });
  db.transaction(() => {
    for (let i = 0; i < DEVICES; i++) engine.deviceHello({ deviceId: `dev-${i}`, hardware: 'board-a', currentVersion: '1.0.0' });
  })();
  engine.createCampaign(
    { name: 'bench', imageId: 'f'.repeat(64), target: { hardware: ['board-a'] }, waves: { canary: 0, percents: [100] }, concurrency: DEVICES },
    'bench',
  );
  await engine.tick();
  if (offers.length !== DEVICES) throw new Error(`expected ${DEVICES} offers, got ${offers.length}`);

  // Every device walks the full lifecycle; reports interleave across devices as they would on the broker.
  const steps = ['accepted', 'downloading', 'downloaded', 'installing', 'rebooting', 'committed'] as const;
  const reports: DeviceReport[] = [];
  for (const [s, step] of steps.entries()) {
    for (const o of offers) reports.push({ deviceId: o.deviceId, actionId: o.actionId, attempt: o.attempt, seq: s + 1, step });
  }

  now += 1000;
  const t0 = process.hrtime.bigint();
  let applied = 0;
  for (let i = 0; i < reports.length; i += BATCH) {
    for (const r of engine.ingestReports(reports.slice(i, i + BATCH))) if (r === 'applied') applied++;
  }
  const engineSec = Number(process.hrtime.bigint() - t0) / 1e9;
  if (applied !== reports.length) throw new Error(`only ${applied}/${reports.length} reports applied`);
  const st = engine.status(1);
  if (st.counts.succeeded !== DEVICES) throw new Error(`expected ${DEVICES} succeeded, got ${JSON.stringify(st.counts)}`);

  // Duplicates (the broker redelivering everything) must be rejected, and cheaply.
  const t1 = process.hrtime.bigint();
  let dup = 0;
  for (let i = 0; i < reports.length; i += BATCH) {
    for (const r of engine.ingestReports(reports.slice(i, i + BATCH))) if (r === 'duplicate' || r === 'out_of_order') dup++;
  }
  const dupSec = Number(process.hrtime.bigint() - t1) / 1e9;
  if (dup !== reports.length) throw new Error(`duplicates applied: ${reports.length - dup}`);

  // Baseline: the same rows, raw INSERT in the same batch size, same database settings.
  db.exec('CREATE TABLE raw_reports (device_id TEXT, action_id INTEGER, attempt INTEGER, seq INTEGER, step TEXT, at INTEGER)');
  const ins = db.prepare('INSERT INTO raw_reports VALUES (?, ?, ?, ?, ?, ?)');
  const insertBatch = db.transaction((rs: DeviceReport[]) => {
    for (const r of rs) ins.run(r.deviceId, r.actionId, r.attempt, r.seq, r.step, now);
  });
  const t2 = process.hrtime.bigint();
  for (let i = 0; i < reports.length; i += BATCH) insertBatch(reports.slice(i, i + BATCH));
  const rawSec = Number(process.hrtime.bigint() - t2) / 1e9;
  db.close();

  const rate = reports.length / engineSec;
  const rawRate = reports.length / rawSec;
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(`status ingest: ${DEVICES} devices x ${steps.length} steps = ${reports.length} reports, batch ${BATCH}, WAL file db`);
  console.log(`  engine.ingestReports  ${fmt(rate)} reports/s  (${engineSec.toFixed(2)} s)`);
  console.log(`  duplicate redelivery  ${fmt(reports.length / dupSec)} reports/s rejected`);
  console.log(`  raw INSERT baseline   ${fmt(rawRate)} rows/s  (${rawSec.toFixed(2)} s)`);
  console.log(`  ratio engine/raw      ${(rate / rawRate).toFixed(2)}`);
  console.log(`  target >= ${fmt(TARGET)}/s: ${rate >= TARGET ? 'MET' : 'NOT MET'}`);
  process.exitCode = rate >= TARGET ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
