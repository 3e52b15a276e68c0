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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeChunkFrame, deviceTopic, encodeChunkFrame } from '@uniota/protocol';
import type { ChunkFrame, ChunkRequest, CommandEnvelope } from '@uniota/protocol';
import { until } from '../../helpers/until.ts';
import { Harness } from './harness.ts';
import { runRow, type AttackRow } from './runner.ts';
import { goodRotationControl } from './root-moves.ts';
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
    }, row.timeoutMs ?? 60_000);
  });

  // Control for the slow-data row: the abort is not the end of the update.
  it('once the trickling sender is gone, the retry resumes from the verified chunks and the update commits', async () => {
    const dev = await h.newDevice('atk-resume', { window: 4, requestTimeoutMs: 1500, maxRetries: 50, minBytesPerSecond: 8192, throughputWindowMs: 1200 });
    const queue: ChunkFrame[] = [];
    const dataTopic = deviceTopic('chunk-data', dev.id);
    let trickling = true;
    let secondAt = 0;
    const trickle = setInterval(() => {
      const f = queue.shift();
      if (f !== undefined) h.relay.toDevices({ topic: dataTopic, payload: encodeChunkFrame(f.imageTag, f.index, f.data), retain: false });
    }, 250);
    h.relay.tampers.set(dev.id, (m) => {
      if (m.topic.endsWith('/cmd') && (JSON.parse(m.payload.toString()) as CommandEnvelope).actionId.endsWith('.2')) {
        trickling = false; // the attacker leaves; everything flows again
        secondAt = Date.now();
      }
      if (!trickling || !m.topic.endsWith('/chunks/data')) return undefined;
      const f = decodeChunkFrame(m.payload);
      if (!('error' in f) && !queue.some((q) => q.index === f.index)) queue.push(f);
      return [];
    });
    try {
      const update = h.freshUpdate({ size: 64 * 1024, chunkSize: 1024 });
      const campaign = await h.campaign(await h.upload(update), dev.id, { maxAttempts: 3, baseDelayMs: 100 });
      const a = await h.finished(campaign, 30_000);
      expect(a.state).toBe('succeeded');
      expect(a.attempt).toBe(2);
      const requests = h.relay.up.filter((m) => m.topic === deviceTopic('chunk-request', dev.id) && (m.at ?? 0) > secondAt);
      const resumedAt = (JSON.parse(requests[0]?.payload.toString() ?? '{}') as ChunkRequest).next;
      expect(resumedAt, 'first chunk the retry asked for').toBeGreaterThan(0);
      await until('device reports the new version', () => h.deviceRow(dev.id)?.current_version === update.version, 10_000);
    } finally {
      clearInterval(trickle);
    }
  }, 60_000);

  // Control for the root rows; last, because it moves the server to a new images key.
  it('a good root rotation reaches the device: the NEW images key installs, the old one is refused', async () => {
    await goodRotationControl(h);
  }, 60_000);
});
