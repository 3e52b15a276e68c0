import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmod, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mosquittoConfig } from '@uniota/protocol';

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

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** True when something accepts TCP connections on the loopback port. */
export function canConnect(port: number): Promise<boolean> {
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
  return runMosquitto(dir, port, config, `mqtt://127.0.0.1:${port}`);
}

/** PEM material for a TLS mosquitto: the device CA, broker cert/key, and the device CA's CRL. */
export interface MosquittoTlsFiles {
  deviceCaPem: string;
  brokerCertPem: string;
  brokerKeyPem: string;
  crlPem: string;
  serverUsername: string;
}

/** A TLS mosquitto running the generated production config. */
export interface SecureMosquitto extends Mosquitto {
  dir: string;
  /** The generated mosquitto.conf, as run (the ACL is the uniota plugin with its rules as options). */
  conf: string;
  /** What mosquitto logged so far (stderr): what an operator reads when something is refused. */
  log(): string;
}

let builtPlugin: string | undefined;

/**
 * The uniota ACL plugin, built by scripts/build-mosquitto-plugin.sh (a no-op
 * when it is up to date; scripts/test.sh builds it before the suite). A
 * missing compiler or header fails here with the script's message.
 */
export function mosquittoPluginPath(): string {
  if (builtPlugin === undefined) {
    const script = new URL('../../scripts/build-mosquitto-plugin.sh', import.meta.url).pathname;
    try {
      builtPlugin = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr ?? '';
      throw new Error(`cannot build the mosquitto ACL plugin: ${stderr.trim() || String(err)}`);
    }
  }
  return builtPlugin;
}

/**
 * Starts mosquitto with the PRODUCTION config from `mosquittoConfig` (client
 * certificates, identity as username, CRL, the uniota ACL plugin) on a free loopback port,
 * so security tests exercise exactly what `uniota broker-config` writes.
 */
export async function startSecureMosquitto(files: MosquittoTlsFiles): Promise<SecureMosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'uniota-mosquitto-tls-'));
  const port = await freePort();
  // mosquitto started as root drops to the `mosquitto` user, which must be
  // able to read these throwaway test files (keys included).
  await chmod(dir, 0o755);
  const path = (n: string) => join(dir, n);
  await writeFile(path('devices-ca.pem'), files.deviceCaPem);
  await writeFile(path('broker.pem'), files.brokerCertPem);
  await writeFile(path('broker.key'), files.brokerKeyPem);
  await writeFile(path('crl.pem'), files.crlPem);
  // Copied next to the certificates: the `mosquitto` user may not be able to read the checkout.
  await copyFile(mosquittoPluginPath(), path('uniota_acl.so'));
  await chmod(path('uniota_acl.so'), 0o755);
  const { conf } = mosquittoConfig({
    port,
    host: '127.0.0.1',
    deviceCaFile: path('devices-ca.pem'),
    certFile: path('broker.pem'),
    keyFile: path('broker.key'),
    crlFile: path('crl.pem'),
    pluginFile: path('uniota_acl.so'),
    serverUsername: files.serverUsername,
    maxQueuedMessages: MOSQUITTO_MAX_QUEUED_MESSAGES,
  });
  // mosquitto's default log types (what an operator running it gets), with timestamps off for matching.
  const logged = `${conf}log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\nlog_timestamp false\n`;
  const m = await runMosquitto(dir, port, logged, `mqtts://127.0.0.1:${port}`);
  return { ...m, dir, conf };
}

async function runMosquitto(dir: string, port: number, config: string, url: string): Promise<Mosquitto & { log(): string }> {
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
    url,
    port,
    protocolVersion: 5,
    log: () => stderr,
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
