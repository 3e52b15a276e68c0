/**
 * The agent daemon's configuration: one schema, defaults in one place, a JSON
 * or YAML file, then environment overrides (UNIOTA_AGENT_*) so containers
 * and tests can redirect paths and the broker without editing files.
 */
import { parse as parseYaml } from 'yaml';
import { AgentError } from '../errors.ts';

export interface StorageConfig {
  /** Block device or file holding slot A / slot B / the boot env / the journal. */
  slotA: string;
  slotB: string;
  /** Where the redundant env lives: a device/file and the two copies' offsets. */
  env: { path: string; offsets: [number, number]; size: number };
  journal: string;
  /** Bytes at the end of each slot holding the signed header. */
  trailerSize: number;
}

export interface HealthConfig {
  /** `command`: run it, exit 0 = healthy; `http`: GET it, 2xx = healthy; `none`: always healthy. */
  kind: 'command' | 'http' | 'none';
  command?: string[];
  url?: string;
  timeoutMs: number;
}

export interface AgentConfig {
  deviceId: string;
  hardware: string;
  /** Trust root file (JSON RootDocument) baked into the device image. */
  rootPath: string;
  brokerUrl: string;
  /** Which slot runs: 'auto' reads `uniota.slot=` from the kernel command line, else the env's boot_part. */
  runningSlot: 'auto' | 'A' | 'B';
  storage: StorageConfig;
  health: HealthConfig;
  /** Command that reboots the device (argv). */
  rebootCommand: string[];
  bootLimit: number;
  /** TLS client certificate, key and CA (paths), when the broker requires them. */
  tls?: { cert: string; key: string; ca: string };
}

export const DEFAULT_CONFIG_PATH = '/etc/uniota/agent.yaml';

const DEFAULTS = {
  brokerUrl: 'mqtt://127.0.0.1:1883',
  runningSlot: 'auto' as const,
  health: { kind: 'none' as const, timeoutMs: 30_000 },
  rebootCommand: ['systemctl', 'reboot'],
  bootLimit: 3,
  trailerSize: 256 * 1024,
};

const ENV_OVERRIDES: Array<[string, (c: Record<string, unknown>, v: string) => void]> = [
  ['UNIOTA_AGENT_DEVICE_ID', (c, v) => (c.deviceId = v)],
  ['UNIOTA_AGENT_HARDWARE', (c, v) => (c.hardware = v)],
  ['UNIOTA_AGENT_ROOT', (c, v) => (c.rootPath = v)],
  ['UNIOTA_AGENT_BROKER_URL', (c, v) => (c.brokerUrl = v)],
  ['UNIOTA_AGENT_RUNNING_SLOT', (c, v) => (c.runningSlot = v)],
];

function fail(msg: string): never {
  throw new AgentError('CONFIG_INVALID', msg);
}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0) fail(`${where}${key} must be a non-empty string`);
  return v;
}

function int(v: unknown, where: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(`${where} must be an integer >= ${min}`);
  return v;
}

function argv(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) fail(`${where} must be a non-empty list of strings`);
  return v as string[];
}

function obj(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${where} must be a mapping`);
  return v as Record<string, unknown>;
}

/** Parses and validates a config document (JSON or YAML text) with `env` overrides applied. */
export function parseAgentConfig(text: string, env: Record<string, string | undefined> = {}): AgentConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    fail(`config is not valid YAML/JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const c = { ...obj(raw ?? {}, 'config') };
  for (const [name, apply] of ENV_OVERRIDES) {
    const v = env[name];
    if (v !== undefined && v !== '') apply(c, v);
  }
  const s = obj(c.storage, 'storage');
  const e = obj(s.env, 'storage.env');
  const offsets = e.offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2) fail('storage.env.offsets must list the two env copies');
  const h = obj(c.health ?? DEFAULTS.health, 'health');
  const kind = h.kind ?? 'none';
  if (kind !== 'command' && kind !== 'http' && kind !== 'none') fail(`health.kind must be command, http or none (got ${String(kind)})`);
  const health: HealthConfig = { kind, timeoutMs: int(h.timeoutMs ?? DEFAULTS.health.timeoutMs, 'health.timeoutMs', 1) };
  if (kind === 'command') health.command = argv(h.command, 'health.command');
  if (kind === 'http') health.url = str(h, 'url', 'health.');
  const running = c.runningSlot ?? DEFAULTS.runningSlot;
  if (running !== 'auto' && running !== 'A' && running !== 'B') fail(`runningSlot must be auto, A or B (got ${String(running)})`);
  const config: AgentConfig = {
    deviceId: str(c, 'deviceId', ''),
    hardware: str(c, 'hardware', ''),
    rootPath: str(c, 'rootPath', ''),
    brokerUrl: typeof c.brokerUrl === 'string' ? c.brokerUrl : DEFAULTS.brokerUrl,
    runningSlot: running,
    storage: {
      slotA: str(s, 'slotA', 'storage.'),
      slotB: str(s, 'slotB', 'storage.'),
      env: { path: str(e, 'path', 'storage.env.'), offsets: [int(offsets[0], 'storage.env.offsets[0]', 0), int(offsets[1], 'storage.env.offsets[1]', 0)], size: int(e.size, 'storage.env.size', 512) },
      journal: str(s, 'journal', 'storage.'),
      trailerSize: int(s.trailerSize ?? DEFAULTS.trailerSize, 'storage.trailerSize', 1024),
    },
    health,
    rebootCommand: c.rebootCommand === undefined ? DEFAULTS.rebootCommand : argv(c.rebootCommand, 'rebootCommand'),
    bootLimit: int(c.bootLimit ?? DEFAULTS.bootLimit, 'bootLimit', 1),
  };
  if (c.tls !== undefined) {
    const t = obj(c.tls, 'tls');
    config.tls = { cert: str(t, 'cert', 'tls.'), key: str(t, 'key', 'tls.'), ca: str(t, 'ca', 'tls.') };
  }
  return config;
}

/** Reads `uniota.slot=A|B` from a kernel command line; null when absent. */
export function slotFromCmdline(cmdline: string): 'A' | 'B' | null {
  const m = /(?:^|\s)uniota\.slot=([AB])(?:\s|$)/.exec(cmdline);
  return m ? (m[1] as 'A' | 'B') : null;
}
