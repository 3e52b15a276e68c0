/**
 * The agent on the host managing a unikernel VM under real U-Boot: it writes
 * the VM disk's inactive slot, reboots by restarting QEMU, and commits or
 * rolls back on the health the serial console shows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FileBlockDevice } from '@uniota/block-device';
import { createBundle, encodeSlotTrailer, parseBundleHeader } from '@uniota/image';
import { QemuUbootMachine, buildPayload, buildUbootFlash, NodeHostFiles, NodeProcessRunner } from '@uniota/bootloader-sim/qemu';
import type { PayloadBehaviour } from '@uniota/bootloader-sim/qemu';
import { QemuVmDevice, RecordingTransport } from '@uniota/device-agent';
import { TEST_NOW, makeTrust, offerFor, sourceFor } from '../helpers/fixtures.ts';
import type { TrustFixture } from '../helpers/fixtures.ts';
import { factoryEnv, fwPrintenv, tempDir } from './helpers.ts';

const TRAILER = 16 * 1024;
const HW = 'qemu-arm64-virt';
const tmp = tempDir('uniota-qemu-agent-');
let trust: TrustFixture;
let flashPath = '';

async function bundle(version: string, behaviour: PayloadBehaviour, securityCounter: number): Promise<Uint8Array> {
  const payload = await buildPayload({ arch: 'aarch64', version, behaviour });
  return createBundle(
    { product: 'qemu-unikernel', version, securityCounter, compatibleHardware: [HW], createdAt: TEST_NOW, expiresAt: new Date(TEST_NOW.getTime() + 30 * 86400_000), chunkSize: 4096 },
    payload,
    [trust.imageSigner],
  );
}

beforeAll(async () => {
  trust = makeTrust();
  flashPath = join(tmp.dir, 'flash.img');
  await buildUbootFlash(flashPath, { runner: new NodeProcessRunner(), files: new NodeHostFiles() });
});
afterAll(() => tmp.cleanup());

async function vm(name: string): Promise<QemuVmDevice> {
  const dir = join(tmp.dir, name);
  mkdirSync(dir);
  const machine = await QemuUbootMachine.create({ dir, flashPath, watchdogMs: 15_000, env: factoryEnv() });
  // Factory image in slot A, with its signed header in the slot trailer.
  const factory = await bundle('1.0.0', 'healthy', 1);
  const h = parseBundleHeader(factory);
  await machine.disk.writeSlot('A', factory.subarray(h.headerLength));
  const dev = await FileBlockDevice.open(machine.disk.path);
  const a = machine.disk.layout.slotA;
  await dev.write(a.offset + a.length - TRAILER, encodeSlotTrailer(factory.subarray(0, h.headerLength), TRAILER));
  await dev.close();
  return new QemuVmDevice(machine, { hardware: HW, root: trust.root, trailerSize: TRAILER, clock: () => TEST_NOW });
}

describe('agent managing a unikernel VM (real U-Boot)', () => {
  it('installs into the VM disk, restarts QEMU into the trial, commits on a healthy serial console', async () => {
    const d = await vm('ok');
    const o = offerFor('vm-1', await bundle('2.0.0', 'healthy', 2));
    const transport = new RecordingTransport();
    const r = await d.run({ transport, source: sourceFor([o]), offer: o.offer });
    expect(r.kind).toBe('settled');
    expect(d.boots.map((b) => `${b.bootedSlot}:${b.version}:${b.outcome}`)).toEqual(['A:1.0.0:healthy', 'B:2.0.0:healthy']);
    expect(transport.reports.map((x) => x.step)).toContain('committed');
    expect(fwPrintenv(d.machine.disk)).toMatchObject({ boot_part: 'B', upgrade_available: '0' });
  }, 120_000);

  it('rolls back when the new image boots but its serial console reports unhealthy', async () => {
    const d = await vm('sick');
    const o = offerFor('vm-2', await bundle('2.0.0-sick', 'unhealthy', 2));
    const transport = new RecordingTransport();
    const r = await d.run({ transport, source: sourceFor([o]), offer: o.offer });
    expect(r.kind).toBe('settled');
    expect(d.boots.map((b) => `${b.bootedSlot}:${b.outcome}`)).toEqual(['A:healthy', 'B:unhealthy', 'A:healthy']);
    expect(transport.reports.find((x) => x.step === 'rolled-back')?.code).toBe('HEALTH_CHECK_FAILED');
    expect(fwPrintenv(d.machine.disk)).toMatchObject({ boot_part: 'A', upgrade_available: '0' });
  }, 120_000);

  it('a panicking image is rolled back after its trial boot (the serial console shows the panic)', async () => {
    const d = await vm('panic');
    const o = offerFor('vm-3', await bundle('2.0.0-panic', 'panic', 2));
    const transport = new RecordingTransport();
    const r = await d.run({ transport, source: sourceFor([o]), offer: o.offer, maxBoots: 10 });
    expect(r.kind).toBe('settled');
    expect(d.boots.map((b) => `${b.bootedSlot}:${b.outcome}`)).toEqual(['A:healthy', 'B:panic', 'A:healthy']);
    expect(transport.reports.some((x) => x.step === 'rolled-back')).toBe(true);
    expect(fwPrintenv(d.machine.disk)).toMatchObject({ boot_part: 'A', upgrade_available: '0' });
  }, 180_000);
});
