import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UBOOT_FLASH_ENV_SIZE, buildUbootFlash } from './boot-script.ts';
import type { HostFiles } from './host-files.ts';
import type { ProcessRunner } from './process-runner.ts';
import { QemuUbootMachine } from './qemu-uboot-machine.ts';

const dir = mkdtempSync(join(tmpdir(), 'uniota-uboot-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** In-memory HostFiles that keeps what was written. */
function memFiles(initial: Record<string, string>): HostFiles & { written: Map<string, Uint8Array> } {
  const written = new Map<string, Uint8Array>();
  return {
    written,
    makeTempDir: async () => '/tmp/x',
    read: async (p) => written.get(p) ?? (p in initial ? new TextEncoder().encode(initial[p]) : null),
    write: async (p, d) => void written.set(p, d),
    remove: async () => {},
  };
}

describe('buildUbootFlash', () => {
  it('writes only the env mkenvimage made (256 KiB), not a 64 MiB flash unit', async () => {
    let stdin = '';
    const runner: ProcessRunner = {
      run: async (cmd, args, opts) => {
        expect([cmd, ...args]).toEqual(['mkenvimage', '-s', '0x40000', '-']);
        stdin = new TextDecoder().decode(opts?.stdin);
        return { exitCode: 0, signal: null, stdout: new Uint8Array(UBOOT_FLASH_ENV_SIZE).fill(7), stderr: '', timedOut: false, aborted: false, durationMs: 1 };
      },
    };
    const files = memFiles({ '/s.env': 'bootcmd=run x\nx=\n  echo hi\n' });
    await buildUbootFlash('/out/flash.img', { runner, files, scriptPath: '/s.env' });
    expect(stdin).toBe('bootcmd=run x\nx=echo hi\n');
    expect(files.written.get('/out/flash.img')?.length).toBe(UBOOT_FLASH_ENV_SIZE);
  });
});

describe('QemuUbootMachine.qemuArgs', () => {
  it('runs single-threaded TCG and loads the env into pflash unit 1 without a 64 MiB pflash drive', async () => {
    const m = await QemuUbootMachine.create({ dir, flashPath: '/assets/env.img' });
    const args = m.qemuArgs();
    expect(args.slice(0, 2)).toEqual(['-accel', 'tcg,thread=single,tb-size=32']);
    expect(args).toContain('loader,file=/assets/env.img,addr=0x4000000,force-raw=on');
    expect(args.some((a) => a.includes('if=pflash'))).toBe(false);
    await m.close();
  });
});
