/**
 * Fan-out vs unicast chunk transfer over a real broker.
 *
 *   npx tsx bench/transfer.bench.ts [--devices 20] [--mib 4] [--chunk-kib 16] [--window 16]
 *                                   [--broker mosquitto|embedded] [--max-queued 1000]
 *
 * `--max-queued` sets mosquitto's per-subscriber queue limit: set it below
 * the window to watch the broker drop chunks and the receivers recover them.
 *
 * Prints, per mode: server egress (bytes and messages the server handed to
 * the broker), broker egress to devices (frame bytes the devices received),
 * wall seconds, and the fan-out/unicast ratios.
 */
import { startEmbeddedBroker } from '@uniota/protocol';
import { testImage, Wave } from '../packages/protocol/src/testing/wave-harness.ts';
import { startMosquitto } from '../test/helpers/mosquitto.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const devices = Number(arg('devices', '20'));
const mib = Number(arg('mib', '4'));
const chunkSize = Number(arg('chunk-kib', '16')) * 1024;
const window = Number(arg('window', '16'));
const brokerKind = arg('broker', 'mosquitto');
const maxQueued = Number(arg('max-queued', '1000'));

const broker =
  brokerKind === 'embedded'
    ? await startEmbeddedBroker({ port: 0 }).then((b) => ({ url: b.url, protocolVersion: b.protocolVersion, stop: () => b.close() }))
    : await startMosquitto({ maxQueuedMessages: maxQueued });

const image = testImage(mib * 1024 * 1024);

interface Result {
  mode: string;
  serverBytes: number;
  serverMessages: number;
  deviceBytes: number;
  seconds: number;
  retries: number;
}

async function runMode(mode: 'fanout' | 'unicast', n: number): Promise<Result> {
  const imageId = `bench-${mode}-${n}`;
  const w = await Wave.start({ url: broker.url, protocolVersion: broker.protocolVersion, imageId, image, chunkSize, runId: `bench-${process.pid}-${mode}` });
  try {
    const ds = await Promise.all(Array.from({ length: n }, (_, k) => w.addDevice(`d${k}`, mode, { window })));
    if (mode === 'fanout') w.server.expectDevices(imageId, ds.map((d) => d.id));
    const t0 = process.hrtime.bigint();
    await Promise.all(ds.map((d) => d.receiver.start()));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    for (const d of ds) if (!d.slot.equals(image)) throw new Error(`device ${d.id} slot differs`);
    return {
      mode,
      serverBytes: w.server.stats.bytes,
      serverMessages: w.server.stats.publishes,
      deviceBytes: ds.reduce((s, d) => s + d.bytesIn(), 0),
      seconds,
      retries: ds.reduce((s, d) => s + d.receiver.stats.retries, 0),
    };
  } finally {
    await w.close();
  }
}

try {
  console.log(
    `broker=${brokerKind}${brokerKind === 'mosquitto' ? ` max_queued_messages=${maxQueued}` : ''} devices=${devices} image=${mib} MiB chunk=${chunkSize / 1024} KiB window=${window} chunks=${Math.ceil(image.length / chunkSize)}`,
  );
  const fan = await runMode('fanout', devices);
  const uni = await runMode('unicast', devices);
  const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
  for (const r of [fan, uni]) {
    console.log(
      `${r.mode.padEnd(8)} server egress ${mb(r.serverBytes).padStart(7)} MiB in ${String(r.serverMessages).padStart(6)} msgs | ` +
        `devices received ${mb(r.deviceBytes).padStart(7)} MiB | ${r.seconds.toFixed(2)} s | ` +
        `${((image.length * devices) / 1024 / 1024 / r.seconds).toFixed(1)} MiB/s delivered | retries ${r.retries}`,
    );
  }
  console.log(
    `ratio fan-out/unicast: server bytes ${(fan.serverBytes / uni.serverBytes).toFixed(3)}, ` +
      `messages ${(fan.serverMessages / uni.serverMessages).toFixed(3)}, seconds ${(fan.seconds / uni.seconds).toFixed(3)}`,
  );
} finally {
  await broker.stop();
}
