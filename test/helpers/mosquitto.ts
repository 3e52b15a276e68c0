import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A mosquitto instance owned by one test run. */
export interface Mosquitto {
  url: string;
  port: number;
  /** MQTT protocol level to connect with. */
  protocolVersion: 5;
  /** Stops mosquitto and removes its temp dir. */
  stop(): Promise<void>;
}

/**
 * Per-subscriber queue limit, set explicitly rather than inherited: mosquitto
 * silently drops messages for a subscriber once this many are queued (QoS 0
 * included) and the publisher still gets its PUBACK. The chunk transfer is
 * built so it never gets near it (the server only sends what device windows
 * ask for: W per device in unicast, about 2W per device in fan-out) and
 * recovers from any drop by re-requesting; keeping the limit at the
 * production default means tests would notice if that ever stopped holding.
 */
export const MOSQUITTO_MAX_QUEUED_MESSAGES = 1000;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Starts mosquitto (Debian package) on a free loopback port with a generated config. */
export async function startMosquitto(options: { maxQueuedMessages?: number } = {}): Promise<Mosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'uniota-mosquitto-'));
  const port = await freePort();
  const config = [
    `listener ${port} 127.0.0.1`,
    // Tests only: loopback, throwaway broker. Production configs use
    // client certificates and ACLs (see packages/protocol/README.md).
    'allow_anonymous true',
    'persistence false',
    `max_queued_messages ${options.maxQueuedMessages ?? MOSQUITTO_MAX_QUEUED_MESSAGES}`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n');
  const confPath = join(dir, 'mosquitto.conf');
  await writeFile(confPath, config);
  const bin = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
  const child: ChildProcess = spawn(bin, ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited) throw new Error(`mosquitto exited at start: ${stderr}`);
    if (await Promise.race([canConnect(port), spawnError])) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`mosquitto did not accept connections on ${port}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    protocolVersion: 5,
    stop: async () => {
      if (!exited) {
        const gone = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
