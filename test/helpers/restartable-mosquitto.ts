/**
 * A mosquitto that can be stopped and started again on the SAME port, so
 * clients configured with its URL reconnect to the new instance by
 * themselves (broker restart tests). Kept apart from `mosquitto.ts`, whose
 * `startMosquitto()` callers expect a broker that lives for the whole run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MOSQUITTO_MAX_QUEUED_MESSAGES, canConnect, freePort } from './mosquitto.ts';
import type { Mosquitto } from './mosquitto.ts';

/** A mosquitto whose process can be restarted while its port stays the same. */
export interface RestartableMosquitto extends Mosquitto {
  /** Stops the broker process (clients see their connection drop), then starts a fresh one on the same port. */
  restart(downMs?: number): Promise<void>;
  /** True while a broker process is running. */
  readonly running: boolean;
}

/** Starts a restartable mosquitto (no persistence: a restart loses every session and queued message). */
export async function startRestartableMosquitto(): Promise<RestartableMosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'uniota-mosquitto-rs-'));
  const port = await freePort();
  const confPath = join(dir, 'mosquitto.conf');
  await writeFile(
    confPath,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      // Without persistence a restart is the harsh case: nothing the old
      // broker held (sessions, QoS 1 messages in flight) survives it.
      'persistence false',
      `max_queued_messages ${MOSQUITTO_MAX_QUEUED_MESSAGES}`,
      'log_dest stderr',
      'log_type error',
      '',
    ].join('\n'),
  );
  let child: ChildProcess | null = null;

  const launch = async (): Promise<void> => {
    const bin = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
    const c = spawn(bin, ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let exited = false;
    c.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    c.once('exit', () => {
      exited = true;
      if (child === c) child = null;
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (exited) throw new Error(`mosquitto exited at start: ${stderr}`);
      if (await canConnect(port)) break;
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`mosquitto did not accept connections on ${port}: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child = c;
  };

  const halt = async (): Promise<void> => {
    const c = child;
    if (c === null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  };

  await launch();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    protocolVersion: 5,
    get running() {
      return child !== null;
    },
    async restart(downMs = 0) {
      await halt();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    async stop() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
