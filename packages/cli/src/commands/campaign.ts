import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UniotaError } from '@uniota/errors';
import type { CampaignStatus } from '@uniota/update-server';
import { clientOf, out, table, withServer } from './server-client.ts';

type Opts = { server: string; token?: string; json?: boolean };

const list = (v: string) => v.split(',').map((s) => s.trim()).filter((s) => s !== '');

/** "all:20:10:pause" -> an abort criterion (failure type, threshold %, min finished, action). */
function abortCriterion(v: string, prev: unknown[] = []): unknown[] {
  const [failureType, pct, min, action] = v.split(':');
  if (failureType === undefined || pct === undefined || min === undefined || (action !== 'pause' && action !== 'abort')) {
    throw new UniotaError('CLI_USAGE', `--abort expects TYPE:PERCENT:MIN_FINISHED:pause|abort, got ${JSON.stringify(v)}`);
  }
  return [...prev, { failureType, thresholdPercent: Number(pct), minFinished: Number(min), action }];
}

/** One line of progress: state, per-state counts, the open wave. */
export function progressLine(s: CampaignStatus): string {
  const c = s.counts;
  const done = (c.succeeded ?? 0) + (c.failed ?? 0) + (c.rolled_back ?? 0) + (c.timed_out ?? 0) + (c.rejected ?? 0) + (c.canceled ?? 0);
  const parts = Object.entries(c).sort().map(([k, n]) => `${k}=${n}`);
  const reason = s.campaign.stateReason ? ` (${s.campaign.stateReason})` : '';
  return `campaign ${s.campaign.id} ${s.campaign.state}${reason}  wave ${s.campaign.currentWave + 1}/${s.waves.length}  ${done}/${s.total} finished  ${parts.join(' ')}`;
}

const terminal = new Set(['completed', 'canceled', 'aborted']);

/** Follows the SSE stream and redraws the progress line until the campaign ends (or Ctrl-C). */
async function watch(o: Opts, id: string): Promise<void> {
  const client = clientOf(o);
  const tty = process.stdout.isTTY === true;
  let lastLine = '';
  const draw = async () => {
    const s = await client.request<CampaignStatus>('GET', `/api/v1/campaigns/${id}`);
    const line = progressLine(s);
    if (line !== lastLine) {
      process.stdout.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      lastLine = line;
    }
    return terminal.has(s.campaign.state);
  };
  if (await draw()) {
    if (tty) process.stdout.write('\n');
    return;
  }
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  // Through the client, so the stream carries the token and trusts --ca like every other call.
  const events = client.stream(`/api/v1/campaigns/${encodeURIComponent(id)}/events`, ac.signal);
  const decoder = new TextDecoder();
  let buf = '';
  let pending: Promise<boolean> | null = null;
  try {
    for await (const value of events) {
      buf += decoder.decode(value, { stream: true });
      if (!buf.includes('\n\n')) continue;
      buf = buf.slice(buf.lastIndexOf('\n\n') + 2);
      // Redraw at most once per burst of events.
      pending ??= draw().finally(() => { pending = null; });
      if (await pending) break;
    }
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  } finally {
    ac.abort();
    if (tty) process.stdout.write('\n');
  }
}

/** `uniota campaign create|status|list|pause|resume|cancel`. */
export function register(program: Command): void {
  const campaign = program.command('campaign').description('rollout campaigns on the update server');

  withServer(campaign.command('create').description('start a campaign (canary, then waves)'))
    .option('--spec <file>', 'full campaign JSON (options below override its fields)')
    .option('--name <name>', 'campaign name')
    .option('--image <id>', 'image id (sha256) from `uniota image list`')
    .option('--devices <ids>', 'explicit device ids, comma-separated (first ones form the canary)', list)
    .option('--tags <tags>', 'devices with any of these tags', list)
    .option('--hardware <types>', 'only these hardware types', list)
    .option('--from-versions <versions>', 'only devices currently running these versions', list)
    .option('--canary <n>', 'canary size', (v) => Number(v))
    .option('--waves <percents>', 'cumulative percentages after the canary, e.g. 10,50,100', (v) => list(v).map(Number))
    .option('--success-percent <p>', 'share of a wave that must commit before the next opens', (v) => Number(v))
    .option('--concurrency <n>', 'devices updating at once', (v) => Number(v))
    .option('--timeout <seconds>', 'per-device in-progress timeout', (v) => Number(v) * 1000)
    .option('--max-attempts <n>', 'attempts for transient failures', (v) => Number(v))
    .option('--abort <rule>', 'TYPE:PERCENT:MIN_FINISHED:pause|abort (repeatable), TYPE = failed|rolled_back|timed_out|rejected|all', abortCriterion)
    .option('--window <start/minutes>', 'daily UTC maintenance window, e.g. 02:00/120')
    .option('--download-only', 'devices only download; they install later')
    .option('--continuous', 'keep running so devices joining the target later get the update')
    .option('--watch', 'follow progress until the campaign ends')
    .option('--json', 'print JSON')
    .action(async (o: Opts & Record<string, unknown>) => {
      const spec: Record<string, unknown> = o['spec'] !== undefined ? (JSON.parse(readFileSync(String(o['spec']), 'utf8')) as Record<string, unknown>) : {};
      const target = { ...((spec['target'] as Record<string, unknown> | undefined) ?? {}) };
      const waves = { ...((spec['waves'] as Record<string, unknown> | undefined) ?? {}) };
      const retry = { ...((spec['retry'] as Record<string, unknown> | undefined) ?? {}) };
      const set = (obj: Record<string, unknown>, key: string, v: unknown) => { if (v !== undefined) obj[key] = v; };
      set(spec, 'name', o['name']);
      set(spec, 'imageId', o['image']);
      set(target, 'deviceIds', o['devices']);
      set(target, 'tags', o['tags']);
      set(target, 'hardware', o['hardware']);
      set(target, 'currentVersions', o['fromVersions']);
      set(waves, 'canary', o['canary']);
      set(waves, 'percents', o['waves']);
      set(waves, 'successPercent', o['successPercent']);
      set(spec, 'concurrency', o['concurrency']);
      set(spec, 'timeoutMs', o['timeout']);
      set(retry, 'maxAttempts', o['maxAttempts']);
      set(spec, 'abort', o['abort']);
      if (typeof o['window'] === 'string') {
        const [start, minutes] = o['window'].split('/');
        spec['maintenanceWindow'] = { start, durationMinutes: Number(minutes) };
      }
      if (o['downloadOnly'] === true) spec['downloadOnly'] = true;
      if (o['continuous'] === true) spec['continuous'] = true;
      spec['target'] = target;
      if (Object.keys(waves).length > 0) spec['waves'] = waves;
      if (Object.keys(retry).length > 0) spec['retry'] = retry;
      const s = await clientOf(o).request<CampaignStatus>('POST', '/api/v1/campaigns', spec);
      out(o.json === true, s, () => [
        `created campaign ${s.campaign.id} for ${s.total} devices in ${s.waves.length} waves (${s.waves.map((w) => w.plannedSize).join(' / ')})`,
      ]);
      if (o['watch'] === true) await watch(o, String(s.campaign.id));
    });

  withServer(campaign.command('status <id>').description('counts per state and per wave'))
    .option('--watch', 'live progress until the campaign ends')
    .option('--json', 'print JSON')
    .action(async (id: string, o: Opts & { watch?: boolean }) => {
      if (o.watch === true) return watch(o, id);
      const s = await clientOf(o).request<CampaignStatus>('GET', `/api/v1/campaigns/${encodeURIComponent(id)}`);
      out(o.json === true, s, () => [
        progressLine(s),
        ...table([
          ['WAVE', 'KIND', 'PLANNED', 'OPENED', 'STATES'],
          ...s.waves.map((w) => [
            String(w.idx + 1), w.kind, String(w.plannedSize), w.openedAt === null ? '-' : new Date(w.openedAt).toISOString(),
            Object.entries(w.counts).sort().map(([k, n]) => `${k}=${n}`).join(' '),
          ]),
        ]),
      ]);
    });

  withServer(campaign.command('list').description('all campaigns'))
    .option('--json', 'print JSON')
    .action(async (o: Opts) => {
      const { items } = await clientOf(o).request<{ items: CampaignStatus[] }>('GET', '/api/v1/campaigns');
      out(o.json === true, items, () => items.map(progressLine));
    });

  for (const cmd of ['pause', 'resume', 'cancel'] as const) {
    withServer(campaign.command(`${cmd} <id>`).description(`${cmd} a campaign`))
      .option('--json', 'print JSON')
      .action(async (id: string, o: Opts) => {
        const s = await clientOf(o).request<CampaignStatus>('POST', `/api/v1/campaigns/${encodeURIComponent(id)}/${cmd}`);
        out(o.json === true, s, () => [progressLine(s)]);
      });
  }
}
