/**
 * The `uboot` backend on files, as an integrator would set it up on a Linux
 * device: slots, env and journal are files; health is a real command; the
 * reboot command is recorded instead of run. The env the agent leaves behind
 * is read back with the real fw_printenv.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBlockDevice } from '@uniota/block-device';
import { UBootEnvStore, initialBootEnv } from '@uniota/boot-control';
import { encodeSlotTrailer, parseBundleHeader } from '@uniota/image';
import { BundleImageSource, RecordingTransport, UpdateAgent } from '@uniota/device-agent';
import { openUbootLinuxDevice } from '../../device-agent/src/backends/uboot-linux.ts';
import { parseAgentConfig, slotFromCmdline } from '../../device-agent/src/daemon/config.ts';
import { nodeProcessRunner } from '../../device-agent/src/daemon/process-runner.ts';
import type { ProcessRunner } from '../../device-agent/src/daemon/process-runner.ts';
import { TEST_NOW, makeBundle, makeTrust, offerFor } from '../helpers/fixtures.ts';
import type { TrustFixture } from '../helpers/fixtures.ts';

const SLOT = 1024 * 1024;
const TRAILER = 16 * 1024;
const ENV = 0x4000;
let trust: TrustFixture;
let dir: string;
beforeAll(() => {
  trust = makeTrust();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function setUp(healthCommand: string[]) {
  dir = mkdtempSync(join(tmpdir(), 'uniota-uboot-'));
  const files = { slotA: join(dir, 'slot-a.img'), slotB: join(dir, 'slot-b.img'), env: join(dir, 'env.img'), journal: join(dir, 'journal.img'), root: join(dir, 'root.json') };
  for (const [f, size] of [[files.slotA, SLOT], [files.slotB, SLOT], [files.env, 2 * ENV], [files.journal, 64 * 1024]] as const) (await FileBlockDevice.open(f, { create: true, size })).close();
  writeFileSync(files.root, JSON.stringify(trust.rootDoc));
  const factory = makeBundle(trust, { version: '1.0.0', behaviour: 'ok', securityCounter: 1 });
  const h = parseBundleHeader(factory);
  const a = await FileBlockDevice.open(files.slotA);
  await a.write(0, factory.subarray(h.headerLength));
  await a.write(SLOT - TRAILER, encodeSlotTrailer(factory.subarray(0, h.headerLength), TRAILER));
  await a.close();
  const env = await FileBlockDevice.open(files.env);
  await new UBootEnvStore(env, { offsets: [0, ENV], envSize: ENV }).write(initialBootEnv({ bootPart: 'A', bootLimit: 3 }));
  await env.close();
  const yaml = `
deviceId: dev-1
hardware: sim-board-1
rootPath: ${files.root}
storage:
  slotA: ${files.slotA}
  slotB: ${files.slotB}
  env: { path: ${files.env}, offsets: [0, ${ENV}], size: ${ENV} }
  journal: ${files.journal}
  trailerSize: ${TRAILER}
health: { kind: command, command: ${JSON.stringify(healthCommand)}, timeoutMs: 5000 }
rebootCommand: [systemctl, reboot]
`;
  return { files, cfg: parseAgentConfig(yaml) };
}

function recordingRunner(reboots: string[][]): ProcessRunner {
  return async (argv, opts) => {
    if (argv[0] === 'systemctl') {
      reboots.push([...argv]);
      return { code: 0, stdout: '', stderr: '' };
    }
    return nodeProcessRunner(argv, opts);
  };
}

async function boot(cfg: ReturnType<typeof parseAgentConfig>, slot: 'A' | 'B', reboots: string[][], bundle: Uint8Array) {
  const device = await openUbootLinuxDevice(cfg, {
    run: recordingRunner(reboots),
    clock: () => TEST_NOW,
    readText: async (p) => (p === '/proc/cmdline' ? `console=ttyS0 uniota.slot=${slot}` : readFile(p, 'utf8')),
  });
  const o = offerFor('act-1', bundle);
  const transport = new RecordingTransport();
  const agent = await UpdateAgent.open({ ...device.deps, transport, source: new BundleImageSource(new Map([o.entry])) });
  return { device, agent, offer: o.offer, transport };
}

function fwPrintenv(envFile: string): Map<string, string> {
  const cfgFile = join(dir, 'fw_env.config');
  writeFileSync(cfgFile, `${envFile} 0x0 0x${ENV.toString(16)}\n${envFile} 0x${ENV.toString(16)} 0x${ENV.toString(16)}\n`);
  const out = execFileSync('fw_printenv', ['-c', cfgFile], { encoding: 'utf8' });
  return new Map(out.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
}

describe('uboot backend on files', () => {
  it('installs, asks for a reboot, and commits after a passing health command', async () => {
    const { files, cfg } = await setUp(['true']);
    const reboots: string[][] = [];
    const bundle = makeBundle(trust, { version: '2.0.0', behaviour: 'ok', securityCounter: 2 });
    const first = await boot(cfg, 'A', reboots, bundle);
    expect(first.device.deps.runningSlot).toBe('A');
    const r = await first.agent.offer(first.offer);
    expect(r.kind).toBe('reboot');
    await first.device.reboot();
    await first.device.close();
    expect(reboots).toEqual([['systemctl', 'reboot']]);
    expect(fwPrintenv(files.env).get('upgrade_available')).toBe('1');
    // The bootloader (here: fw_setenv's job on real hardware) booted B on trial.
    const second = await boot(cfg, 'B', reboots, bundle);
    expect((await second.agent.start()).kind).toBe('idle');
    await second.device.close();
    const env = fwPrintenv(files.env);
    expect(env.get('boot_part')).toBe('B');
    expect(env.get('upgrade_available')).toBe('0');
    expect(second.transport.reports.map((x) => x.step)).toContain('committed');
    expect(second.agent.state.committed).toMatchObject({ slot: 'B', version: '2.0.0' });
  });

  it('rolls back when the health command fails', async () => {
    const { files, cfg } = await setUp(['false']);
    const reboots: string[][] = [];
    const bundle = makeBundle(trust, { version: '2.0.0', behaviour: 'ok', securityCounter: 2 });
    const first = await boot(cfg, 'A', reboots, bundle);
    expect((await first.agent.offer(first.offer)).kind).toBe('reboot');
    await first.device.close();
    const second = await boot(cfg, 'B', reboots, bundle);
    expect((await second.agent.start()).kind).toBe('reboot');
    await second.device.close();
    expect(fwPrintenv(files.env).get('boot_part')).toBe('A');
    const third = await boot(cfg, 'A', reboots, bundle);
    expect((await third.agent.start()).kind).toBe('idle');
    await third.device.close();
    expect(third.transport.reports.find((x) => x.step === 'rolled-back')?.code).toBe('HEALTH_CHECK_FAILED');
    expect(third.agent.state.minSecurityCounter).toBe(1);
  });

  it('config errors are clear', () => {
    expect(() => parseAgentConfig('deviceId: x')).toThrow(/storage must be a mapping/);
    expect(() => parseAgentConfig('deviceId: x\nstorage: {slotA: a, slotB: b, journal: j, env: {path: e, offsets: [0, 16384], size: 16384}}')).toThrow(/hardware must be a non-empty string/);
    expect(() => parseAgentConfig('deviceId: x\nhardware: h\nrootPath: r\nstorage: {slotA: a, slotB: b, journal: j, env: {path: e, offsets: [0, 16384], size: 16384}}\nhealth: {kind: ping}')).toThrow(/health.kind must be command, http or none/);
    expect(() => parseAgentConfig('{')).toThrow(/not valid YAML/);
    expect(slotFromCmdline('root=/dev/vda uniota.slot=B quiet')).toBe('B');
    expect(slotFromCmdline('root=/dev/vda')).toBeNull();
  });
});
