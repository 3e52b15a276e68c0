/**
 * A full A/B cycle at fleet scale on one mosquitto.
 *
 *   npx tsx bench/fleet.bench.ts [--devices 1000] [--mode both|fanout|unicast]
 *                                [--chunk-kib 64] [--window 8] [--image-kib 256]
 *                                [--max-queued 1000] [--timeout-s 60]
 *                                [--profile-fleet DIR] [--fleet-procs 1]
 *
 * `--max-queued` is mosquitto's per-subscriber queue limit (production
 * default 1000). The server's own subscription takes every report of a wave;
 * it connects with the MQTT 5 Receive Maximum raised (SERVER_RECEIVE_MAXIMUM)
 * so those bursts stay in flight instead of in that queue, where mosquitto
 * would drop them (QoS 1 included) and the actions would only recover
 * through the campaign timeout (`--timeout-s`).
 *
 * The update server runs in this process (startServer: SQLite in a temp dir,
 * MQTT gateway); the N simulated devices (own disk, in-process bootloader,
 * real agent) run in a child process, so the server's RSS is its own. One
 * campaign per transfer mode (canary 1 %, then 10 / 50 / 100 %), each a real
 * download, slot verify, reboot through the bootloader, health check and
 * commit on every device.
 *
 * Prints: time from campaign start to the last commit, devices/minute,
 * CPU time per device spent during the campaign by the fleet processes, the
 * server process and mosquitto (the target's real budget: 2 cores for 60 s
 * are 120 CPU-seconds, 12 ms per device for 10,000 devices, all included),
 * server peak RSS, messages/s (control messages seen by a passive listener
 * plus chunk publishes), server chunk egress per wave, the fan-out/unicast
 * egress ratio when both modes run, and a baseline measured in the same run:
 * raw MQTT throughput of the same chunk messages through the same mosquitto.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { DEFAULT_CHUNK_SIZE } from '@uniota/image';
import { MqttLink, RejectionCounter, allDevicesFilter } from '@uniota/protocol';
import { loadConfig, startServer } from '@uniota/update-server';
import type { RunningServer } from '@uniota/update-server';
import { startMosquitto } from '../test/helpers/mosquitto.ts';
import { makeBundle, makeTrust } from '../test/helpers/fixtures.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const n = Number(arg('devices', '1000'));
const modeArg = arg('mode', 'both');
const modes = (modeArg === 'both' ? ['fanout', 'unicast'] : [modeArg]) as ('fanout' | 'unicast')[];
// The product's default chunk size (what `uniota sign` uses) unless --chunk-kib says otherwise.
const chunkSize = arg('chunk-kib', '') === '' ? DEFAULT_CHUNK_SIZE : Number(arg('chunk-kib', '')) * 1024;
const window = Number(arg('window', '8'));
const imageSize = Number(arg('image-kib', '256')) * 1024;
const maxQueued = Number(arg('max-queued', '1000'));
const timeoutMs = Number(arg('timeout-s', '60')) * 1000;
// Writes a V8 CPU profile of the fleet process there (the server's: run this file with node --cpu-prof).
const profileDir = arg('profile-fleet', '');
const fleetProcs = Math.max(1, Number(arg('fleet-procs', '1')));
for (const m of modes) if (m !== 'fanout' && m !== 'unicast') throw new Error(`--mode must be both, fanout or unicast, not ${m}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (b: number) => (b / 1048576).toFixed(1);

async function until<T>(what: string, fn: () => T | undefined | false | null, ms: number, every = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false && v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

const broker = await startMosquitto({ maxQueuedMessages: maxQueued });
const trust = makeTrust();
const dir = mkdtempSync(join(tmpdir(), 'uniota-fleet-bench-'));
writeFileSync(join(dir, 'root.json'), JSON.stringify(trust.rootDoc));
writeFileSync(join(dir, 'server.key'), trust.serverKeyPem);
writeFileSync(join(dir, 'fleet-root.json'), JSON.stringify(trust.root));
writeFileSync(join(dir, 'factory.bundle'), makeBundle(trust, { version: '1.0.0', behaviour: 'ok', securityCounter: 1, size: imageSize, chunkSize }));

/** CPU ms (user + system) of the mosquitto this process started: a child, found in /proc. */
function brokerCpuMs(): number {
  let ms = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the ")" that closes the command name: state ppid ... utime(14) stime(15), 1-based.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (!stat.includes('(mosquitto)') || Number(f[1]) !== process.pid) continue;
      ms += ((Number(f[11]) + Number(f[12])) * 1000) / 100; // USER_HZ is 100 on Linux
    } catch {
      // The process ended between readdir and read.
    }
  }
  return ms;
}
const serverCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

// Peak RSS of this process (the server; the fleet and mosquitto are other processes).
let peakRss = 0;
// memoryUsage.rss() alone: the full memoryUsage() walks the heap spaces, a cost the server should not pay 20 times a second.
// Every 200 ms: at 50 ms the sampling itself was ~1.5 s of this process's CPU in a 1,000-device run, counted as server CPU.
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 200);

// A passive listener counts the control traffic (hello, reports, chunk requests, commands).
let control = 0;
const spy = await MqttLink.connect({
  url: broker.url,
  clientId: 'bench-spy',
  protocolVersion: 5,
  subscriptions: [allDevicesFilter('hello'), allDevicesFilter('status'), allDevicesFilter('chunk-request'), allDevicesFilter('command')],
  handlers: { hello: () => void control++, status: () => void control++, 'chunk-request': () => void control++, command: () => void control++ },
  counter: new RejectionCounter(),
});

function boot(mode: 'fanout' | 'unicast'): Promise<RunningServer> {
  return startServer(loadConfig({}, { dataDir: dir, port: 0, brokerUrl: broker.url, tickMs: 100, logLevel: 'silent', transferMode: mode }));
}
const known = (s: RunningServer) => (s.app.db.prepare('SELECT COUNT(*) AS n FROM devices').get() as { n: number }).n;

interface ModeResult {
  mode: string;
  /** CPU ms per device during the campaign. */
  cpu: { fleet: number; server: number; broker: number };
  seconds: number;
  perMinute: number;
  messages: number;
  chunkPublishes: number;
  egressBytes: number;
  waves: { wave: number; devices: number; bytes: number; publishes: number }[];
}

// The simulated devices stand for separate machines; one node process runs
// them on one core, so --fleet-procs spreads them over several processes.
// Device k of the fleet runs in process k mod P: a campaign takes its waves in
// device-id order, and with a block of ids per process (sim0-*, then sim1-*)
// every wave but the last ran in one process, on one core.
const children = Array.from({ length: fleetProcs }, (_, k) => {
  const numbers = Array.from({ length: n }, (_, i) => i + 1).filter((num) => num % fleetProcs === k % fleetProcs);
  return fork(join(import.meta.dirname, 'fleet/fleet-worker.ts'), [JSON.stringify({ count: numbers.length, numbers, idWidth: String(n).length, idPrefix: 'sim', brokerUrl: broker.url, rootPath: join(dir, 'fleet-root.json'), bundlePath: join(dir, 'factory.bundle'), window })], {
    execArgv: ['--import', 'tsx', ...(profileDir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
});
const fromChild = <T>(child: (typeof children)[number], pred: (m: Record<string, unknown>) => boolean): Promise<T> =>
  new Promise((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`fleet process exited (${code})`));
    const on = (m: Record<string, unknown>) => {
      if (!pred(m)) return;
      child.off('message', on);
      child.off('exit', exited);
      resolve(m as T);
    };
    child.on('message', on);
    child.once('exit', exited);
  });
const fromChildren = <T>(pred: (m: Record<string, unknown>) => boolean): Promise<T[]> => Promise.all(children.map((c) => fromChild<T>(c, pred)));

// A fleet process that dies (it should not) must end the run, not leave it waiting.
for (const child of children) {
  child.once('exit', (code) => {
    if (code !== 0) {
      process.stderr.write(`fleet process exited with ${code}\n`);
      void broker.stop().finally(() => process.exit(1));
    }
  });
}

let server: RunningServer | null = null;
try {
  console.log(`devices=${n} fleet processes=${fleetProcs} image=${imageSize / 1024} KiB chunk=${chunkSize / 1024} KiB window=${window} modes=${modes.join(',')} max_queued_messages=${maxQueued} timeout=${timeoutMs / 1000}s load=${loadavg().map((l) => l.toFixed(2)).join('/')}`);
  server = await boot(modes[0]!);
  const readies = await fromChildren<{ startSeconds: number; rssMiB: number }>((m) => m.ready === true);
  const ready = { startSeconds: Math.max(...readies.map((r) => r.startSeconds)), rssMiB: readies.reduce((t, r) => t + r.rssMiB, 0) };
  const s0 = server;
  await until('every device said hello', () => known(s0) === n, 120_000);
  console.log(`fleet up: ${n} devices powered on and connected in ${ready.startSeconds.toFixed(1)} s (fleet process RSS ${ready.rssMiB.toFixed(0)} MiB)`);

  const results: ModeResult[] = [];
  for (const [k, mode] of modes.entries()) {
    if (k > 0) {
      await server.close();
      server = await boot(mode);
    }
    const s = server;
    const gw = s.gateway!;
    const version = `${2 + k}.0.0`;
    const imageId = s.app.images.upload(makeBundle(trust, { version, behaviour: 'ok', securityCounter: 2 + k, size: imageSize, chunkSize }), 'bench').id;
    const control0 = control;
    const bytes0 = gw.chunks.stats.bytes;
    const pubs0 = gw.chunks.stats.publishes;
    for (const child of children) child.send({ cmd: 'cpu' });
    const fleetCpu0 = (await fromChildren<{ cpuMs: number }>((m) => m.cpuMs !== undefined)).reduce((t, c) => t + c.cpuMs, 0);
    const serverCpu0 = serverCpuMs();
    const brokerCpu0 = brokerCpuMs();
    const t0 = performance.now();
    const id = s.app.engine.createCampaign(
      {
        name: `bench ${mode}`,
        imageId,
        target: { hardware: ['sim-board-1'] },
        waves: { canary: Math.max(1, Math.round(n / 100)), percents: [10, 50, 100] },
        concurrency: n,
        timeoutMs,
        retry: { maxAttempts: 3, baseDelayMs: 1000 },
        abort: [{ failureType: 'all', thresholdPercent: 10, minFinished: 1, action: 'pause' }],
      },
      'bench',
    ).campaign.id;
    // Chunk egress is attributed to the wave that is open (waves open one after another).
    const waves: ModeResult['waves'] = [];
    let wave = 0;
    let waveBytes = bytes0;
    let wavePubs = pubs0;
    const close = (idx: number) => {
      waves.push({ wave: idx, devices: s.app.engine.status(id).waves[idx]?.plannedSize ?? 0, bytes: gw.chunks.stats.bytes - waveBytes, publishes: gw.chunks.stats.publishes - wavePubs });
      waveBytes = gw.chunks.stats.bytes;
      wavePubs = gw.chunks.stats.publishes;
    };
    let lastPrint = performance.now();
    let lastCounts = '';
    // The poll runs in the server's process: it reads only the campaign row
    // (full per-state counts are GROUP BYs over every action, too heavy to
    // run often beside a 10,000-device campaign), 10 times a second: the
    // poll's own CPU counts as server CPU, and 0.1 s is fine resolution for
    // campaigns that take tens of seconds.
    await until(`campaign ${mode} completed`, () => {
      const c = s.app.engine.campaigns.get(id)!;
      if (performance.now() - lastPrint > 10_000) {
        // Progress on stderr, so a long run is visibly alive.
        lastPrint = performance.now();
        const counts = JSON.stringify(s.app.engine.status(id).counts);
        process.stderr.write(`  ${mode} ${((lastPrint - t0) / 1000).toFixed(0)} s: wave ${c.currentWave} ${counts}\n`);
        // Nothing moved for 10 s: say where the devices that are not idle wait.
        if (counts === lastCounts) {
          process.stderr.write(`    server: ${JSON.stringify(gw.chunks.snapshot(imageId))} publishes=${gw.chunks.stats.publishes}\n`);
          for (const child of children) child.send({ cmd: 'busy' });
          void fromChildren<{ busy: Record<string, unknown> }>((m) => m.busy !== undefined).then((bs) => {
            for (const b of bs) process.stderr.write(`    busy devices: ${JSON.stringify(b.busy)}\n`);
          });
        }
        lastCounts = counts;
      }
      for (; wave < c.currentWave; wave++) close(wave);
      if (c.state === 'paused' || c.state === 'aborted' || c.state === 'canceled') {
        // Why the devices failed, so a stopped run says what to look at.
        const why = s.app.db
          .prepare("SELECT state, failure_kind AS kind, substr(coalesce(detail, ''), 1, 80) AS detail, count(*) AS n FROM actions WHERE campaign_id = ? AND state NOT IN ('succeeded') GROUP BY 1, 2, 3 ORDER BY n DESC LIMIT 10")
          .all(id);
        throw new Error(`campaign ${c.state}: ${JSON.stringify(s.app.engine.status(id).counts)}; not succeeded: ${JSON.stringify(why)}`);
      }
      return c.state === 'completed' ? c : undefined;
    }, 1_800_000, 100);
    const seconds = (performance.now() - t0) / 1000;
    const serverCpu = serverCpuMs() - serverCpu0;
    const brokerCpu = brokerCpuMs() - brokerCpu0;
    for (const child of children) child.send({ cmd: 'cpu' });
    const fleetCpu = (await fromChildren<{ cpuMs: number }>((m) => m.cpuMs !== undefined)).reduce((t, c) => t + c.cpuMs, 0) - fleetCpu0;
    close(wave);
    const st = s.app.engine.status(id);
    if (st.counts.succeeded !== n) throw new Error(`not every device succeeded: ${JSON.stringify(st.counts)}`);
    for (const child of children) child.send({ cmd: 'versions' });
    const vs = await fromChildren<{ versions: Record<string, number>; rssMiB: number; peakMiB: number; hashed?: { hashed: number; reused: number }; ed25519?: { verified: number; remembered: number } }>((m) => m.versions !== undefined);
    const v = { versions: {} as Record<string, number>, rssMiB: vs.reduce((t, x) => t + x.rssMiB, 0), peakMiB: vs.reduce((t, x) => t + x.peakMiB, 0) };
    for (const x of vs) for (const [ver, k] of Object.entries(x.versions)) v.versions[ver] = (v.versions[ver] ?? 0) + k;
    if (v.versions[version] !== n) throw new Error(`devices disagree with the server: ${JSON.stringify(v.versions)}`);
    const chunkPublishes = gw.chunks.stats.publishes - pubs0;
    results.push({ mode, cpu: { fleet: fleetCpu / n, server: serverCpu / n, broker: brokerCpu / n }, seconds, perMinute: (n / seconds) * 60, messages: control - control0 + chunkPublishes, chunkPublishes, egressBytes: gw.chunks.stats.bytes - bytes0, waves });
    const r = results[results.length - 1]!;
    console.log(
      `${mode.padEnd(8)} ${n} devices committed ${version} in ${seconds.toFixed(1)} s = ${r.perMinute.toFixed(0)} devices/min | ` +
        `${(r.messages / seconds).toFixed(0)} msgs/s published (${r.messages} = ${r.messages - chunkPublishes} control + ${chunkPublishes} chunk) | ` +
        `server chunk egress ${mib(r.egressBytes)} MiB | fleet RSS ${v.rssMiB.toFixed(0)} MiB (peak ${v.peakMiB.toFixed(0)} MiB, ${((v.peakMiB * 1024) / n).toFixed(0)} KiB/device)`,
    );
    const hashed = vs.reduce((t, x) => ({ hashed: t.hashed + (x.hashed?.hashed ?? 0), reused: t.reused + (x.hashed?.reused ?? 0) }), { hashed: 0, reused: 0 });
    const sigs = vs.reduce((t, x) => ({ verified: t.verified + (x.ed25519?.verified ?? 0), remembered: t.remembered + (x.ed25519?.remembered ?? 0) }), { verified: 0, remembered: 0 });
    console.log(
      `         CPU per device during the campaign: fleet ${r.cpu.fleet.toFixed(2)} ms + server ${r.cpu.server.toFixed(2)} ms + mosquitto ${r.cpu.broker.toFixed(2)} ms = ` +
        `${(r.cpu.fleet + r.cpu.server + r.cpu.broker).toFixed(2)} ms (10,000 in 60 s on 2 cores allows 12 ms) | fleet chunk hashes ${hashed.hashed} computed, ${hashed.reused} answered from identical bytes; fleet ed25519 checks ${sigs.verified} run, ${sigs.remembered} answered from a passed check of the same bytes (since the fleet started)`,
    );
    // Where a device's time went: the server's action events (state changes
    // as the server saw them), time spent in each state, over every device.
    const rows = s.app.db
      .prepare(`SELECT device_id AS d, json_extract(data, '$.from') AS f, json_extract(data, '$.to') AS t, at FROM events WHERE campaign_id = ? AND type = 'action' ORDER BY device_id, id`)
      .all(id) as { d: string; f: string | null; t: string; at: number }[];
    const inState = new Map<string, number[]>();
    for (let k = 1; k < rows.length; k++) {
      const prev = rows[k - 1]!;
      const cur = rows[k]!;
      if (prev.d !== cur.d) continue;
      const list = inState.get(prev.t) ?? [];
      list.push(cur.at - prev.at);
      inState.set(prev.t, list);
    }
    const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0;
    console.log(
      `         seconds per device in each state (mean / p90): ` +
        [...inState]
          .filter(([st]) => st !== 'succeeded')
          .map(([st, xs]) => `${st} ${(xs.reduce((a, b) => a + b, 0) / xs.length / 1000).toFixed(2)}/${(q(xs, 0.9) / 1000).toFixed(2)}`)
          .join(', '),
    );
    for (const w of waves) console.log(`         wave ${w.wave} (${String(w.devices).padStart(5)} devices): egress ${mib(w.bytes).padStart(7)} MiB in ${String(w.publishes).padStart(7)} chunk publishes`);
  }
  console.log(`server peak RSS ${mib(peakRss)} MiB`);
  const fan = results.find((r) => r.mode === 'fanout');
  const uni = results.find((r) => r.mode === 'unicast');
  if (fan !== undefined && uni !== undefined) {
    console.log(`ratio fan-out/unicast: egress bytes ${(fan.egressBytes / uni.egressBytes).toFixed(3)}, chunk publishes ${(fan.chunkPublishes / uni.chunkPublishes).toFixed(3)}, campaign seconds ${(fan.seconds / uni.seconds).toFixed(3)}`);
  }

  // Baseline in the same run: the unicast wave's chunk messages (N × chunks
  // of chunkSize bytes) published raw through the same mosquitto to one
  // subscriber, in bursts the subscriber drains (the broker's per-subscriber
  // queue would drop an unpaced flood, as it would drop the campaign's).
  const total = Math.min(n * Math.ceil(imageSize / chunkSize), 200_000);
  const pub = await connectAsync(broker.url, { protocolVersion: 5, clientId: 'bench-pub' });
  const sub = await connectAsync(broker.url, { protocolVersion: 5, clientId: 'bench-sub' });
  let got = 0;
  sub.on('message', () => void got++);
  await sub.subscribeAsync('bench/raw', { qos: 0 });
  const payload = Buffer.alloc(chunkSize + 48, 7);
  const b0 = performance.now();
  for (let sent = 0; sent < total; ) {
    const burst = Math.min(500, total - sent);
    for (let i = 0; i < burst; i++) pub.publish('bench/raw', payload, { qos: 0 });
    sent += burst;
    await until('raw burst drained', () => got >= sent, 60_000, 1);
  }
  const rawSeconds = (performance.now() - b0) / 1000;
  await pub.endAsync();
  await sub.endAsync();
  console.log(`baseline raw MQTT (same broker, ${total} × ${payload.length} B, QoS 0, one subscriber): ${(total / rawSeconds).toFixed(0)} msgs/s, ${(total * payload.length / 1048576 / rawSeconds).toFixed(1)} MiB/s`);
  for (const r of results) {
    console.log(`${r.mode}: campaign chunk egress ${(r.egressBytes / 1048576 / r.seconds).toFixed(1)} MiB/s = ${((r.egressBytes / r.seconds) / (total * payload.length / rawSeconds)).toFixed(3)} of raw; ${r.perMinute.toFixed(0)} devices/min vs AWS IoT Jobs max 1000/min (${(r.perMinute / 1000).toFixed(1)}x); target 10000 in 60 s`);
  }
} finally {
  clearInterval(rssTimer);
  await Promise.all(children.map((child) => {
    child.send({ cmd: 'stop' });
    return new Promise((r) => { child.once('exit', r); setTimeout(r, 30_000).unref(); });
  }));
  await server?.close();
  await spy.close();
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
}
