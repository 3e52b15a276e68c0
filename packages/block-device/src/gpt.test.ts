import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasCode } from '@uniota/errors';
import { planDiskLayout, PartitionType } from './disk-layout.ts';
import { FileBlockDevice } from './file-device.ts';
import { readGpt, writeGpt } from './gpt.ts';
import { MemoryBlockDevice } from './memory-device.ts';
import { sfdiskJson, sfdiskVerify } from './testing/sfdisk.ts';

const MIB = 1 << 20;
const dir = mkdtempSync(join(tmpdir(), 'uniota-gpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const layout = planDiskLayout({ envSize: 0x4000, slotSize: 3 * MIB + 100, dataSize: 2 * MIB });

describe('planDiskLayout', () => {
  it('orders env, slot-a, slot-b, data on 1 MiB boundaries with room for the backup GPT', () => {
    const parts = [layout.env, layout.slotA, layout.slotB, layout.data];
    expect(parts.map((p) => [p.index, p.name])).toEqual([
      [1, 'uniota-env'],
      [2, 'slot-a'],
      [3, 'slot-b'],
      [4, 'data'],
    ]);
    for (const p of parts) expect(p.offset % MIB).toBe(0);
    for (let i = 1; i < parts.length; i++) expect(parts[i]!.offset).toBeGreaterThanOrEqual(parts[i - 1]!.offset + parts[i - 1]!.length);
    expect(layout.env.length).toBe(0x8000);
    expect(layout.slotA.length).toBe(3 * MIB + 512);
    expect(layout.envOffsets).toEqual([layout.env.offset, layout.env.offset + 0x4000]);
    expect(layout.diskSize).toBeGreaterThanOrEqual(layout.data.offset + layout.data.length + 33 * 512);
    expect(new Set(parts.map((p) => p.uniqueGuid)).size).toBe(4);
  });

  it('defaults envSize to 0x4000 and is pure', () => {
    const a = planDiskLayout({ slotSize: MIB, dataSize: MIB });
    expect(a.envSize).toBe(0x4000);
    expect(planDiskLayout({ slotSize: MIB, dataSize: MIB })).toEqual(a);
  });

  it.each([
    [{ envSize: 1000, slotSize: MIB, dataSize: MIB }],
    [{ envSize: 0x4000, slotSize: 0, dataSize: MIB }],
    [{ envSize: 0x4000, slotSize: MIB, dataSize: -1 }],
  ])('rejects %o with LAYOUT_INVALID', (opts) => {
    expect(() => planDiskLayout(opts)).toThrow(expect.objectContaining({ code: 'LAYOUT_INVALID' }));
  });
});

describe('writeGpt / readGpt', () => {
  it('writes a GPT that the real sfdisk reads with the same names, starts and sizes', async () => {
    const path = join(dir, 'disk.img');
    const dev = await FileBlockDevice.open(path, { create: true, size: layout.diskSize });
    await writeGpt(dev, layout, '11111111-2222-4333-8444-555555555555');
    await dev.close();

    const { table, warnings } = sfdiskJson(path);
    expect(warnings).toBe('');
    expect(table.label).toBe('gpt');
    expect(table.id).toBe('11111111-2222-4333-8444-555555555555');
    const expected = [layout.env, layout.slotA, layout.slotB, layout.data];
    expect(
      table.partitions.map((p) => ({ name: p.name, start: p.start * 512, size: p.size * 512, type: p.type, uuid: p.uuid })),
    ).toEqual(
      expected.map((p) => ({ name: p.name, start: p.offset, size: p.length, type: p.typeGuid, uuid: p.uniqueGuid })),
    );
    expect(table.partitions[0]!.type).toBe(PartitionType.ubootEnv);
    expect(sfdiskVerify(path)).toMatch(/No errors detected/);
  });

  it('reads back what it wrote', async () => {
    const dev = new MemoryBlockDevice(layout.diskSize);
    await writeGpt(dev, layout);
    expect(await readGpt(dev)).toEqual([layout.env, layout.slotA, layout.slotB, layout.data]);
  });

  it.each([
    ['a corrupt primary header', 512 + 20],
    ['a corrupt primary entry array', 2 * 512 + 130],
    ['a wiped primary signature', 512],
  ])('falls back to the backup GPT on %s', async (_name, offset) => {
    const dev = new MemoryBlockDevice(layout.diskSize);
    await writeGpt(dev, layout);
    const b = await dev.read(offset, 1);
    await dev.write(offset, Uint8Array.of(b[0]! ^ 0x5a));
    expect(await readGpt(dev)).toEqual([layout.env, layout.slotA, layout.slotB, layout.data]);
  });

  it('sfdisk also accepts the disk from its backup after the primary header is corrupted', async () => {
    const path = join(dir, 'backup.img');
    const dev = await FileBlockDevice.open(path, { create: true, size: layout.diskSize });
    await writeGpt(dev, layout);
    await dev.write(512 + 30, Uint8Array.of(0xff));
    expect((await readGpt(dev)).map((p) => p.name)).toEqual(['uniota-env', 'slot-a', 'slot-b', 'data']);
    await dev.close();
    const { table, warnings } = sfdiskJson(path);
    expect(warnings).toMatch(/primary GPT table is corrupt/);
    expect(table.partitions.map((p) => p.name)).toEqual(['uniota-env', 'slot-a', 'slot-b', 'data']);
  });

  it('throws GPT_INVALID when both copies are corrupt or the disk is blank', async () => {
    const blank = new MemoryBlockDevice(layout.diskSize);
    await expect(readGpt(blank)).rejects.toSatisfy((e: unknown) => hasCode(e, 'GPT_INVALID'));
    const dev = new MemoryBlockDevice(layout.diskSize);
    await writeGpt(dev, layout);
    await dev.write(512 + 20, Uint8Array.of(1));
    await dev.write(layout.diskSize - 512 + 20, Uint8Array.of(1));
    await expect(readGpt(dev)).rejects.toSatisfy((e: unknown) => hasCode(e, 'GPT_INVALID'));
  });

  it('refuses a device smaller than the layout', async () => {
    await expect(writeGpt(new MemoryBlockDevice(MIB), layout)).rejects.toSatisfy((e: unknown) => hasCode(e, 'LAYOUT_INVALID'));
  });
});
