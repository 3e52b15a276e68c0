import { describe, expect, it } from 'vitest';
import { buildPayload, payloadParams } from './payload-builder.ts';
import type { HostFiles } from './host-files.ts';
import type { ProcessRunner, RunResult } from './process-runner.ts';

/** In-memory files; the fake toolchain "produces" each output file named after -o (or mkimage's last arg). */
function fakes() {
  const files = new Map<string, Uint8Array>([['/src/aarch64.S', new TextEncoder().encode('src')], ['/src/x86.S', new TextEncoder().encode('src86')]]);
  const calls: string[] = [];
  const fs: HostFiles = {
    makeTempDir: async () => '/tmp/build',
    read: async (p) => files.get(p) ?? null,
    write: async (p, d) => void files.set(p, d),
    remove: async (p) => {
      for (const k of [...files.keys()]) if (k.startsWith(p)) files.delete(k);
    },
  };
  const runner: ProcessRunner = {
    run: async (cmd, args, opts): Promise<RunResult> => {
      calls.push([cmd, ...args].join(' '));
      const o = args.indexOf('-o');
      const out = cmd === 'mkimage' ? args[args.length - 1] : cmd.endsWith('objcopy') ? args[3] : args[o + 1];
      files.set(`${opts?.cwd}/${out}`, new TextEncoder().encode(`${cmd}:${out}`));
      return { exitCode: 0, signal: null, stdout: new Uint8Array(), stderr: '', timedOut: false, aborted: false, durationMs: 1 };
    },
  };
  return { files, calls, deps: { runner, files: fs, cacheDir: '/cache', sourceDir: '/src' } };
}

describe('buildPayload', () => {
  it('assembles, links, strips and wraps the aarch64 payload for U-Boot, then serves it from the cache', async () => {
    const f = fakes();
    const img = await buildPayload({ arch: 'aarch64', version: '1.2.3', behaviour: 'panic' }, f.deps);
    expect(new TextDecoder().decode(img)).toBe('mkimage:payload.img');
    expect(f.calls.map((c) => c.split(' ')[0])).toEqual([
      'aarch64-linux-gnu-as', 'aarch64-linux-gnu-ld', 'aarch64-linux-gnu-objcopy', 'mkimage',
    ]);
    expect(f.calls[3]).toContain('-T standalone');
    expect([...f.files.keys()].some((k) => k.startsWith('/tmp/build'))).toBe(false);
    f.calls.length = 0;
    expect(await buildPayload({ arch: 'aarch64', version: '1.2.3', behaviour: 'panic' }, f.deps)).toEqual(img);
    expect(f.calls).toEqual([]);
    // A different input is a different cache entry.
    await buildPayload({ arch: 'aarch64', version: '1.2.4', behaviour: 'panic' }, f.deps);
    expect(f.calls.length).toBe(4);
  });

  it('builds the x86 payload as a 32-bit ELF for -kernel (no mkimage)', async () => {
    const f = fakes();
    const elf = await buildPayload({ arch: 'x86', version: '1', behaviour: 'hang' }, f.deps);
    expect(new TextDecoder().decode(elf)).toBe('ld:payload.elf');
    expect(f.calls[0]).toBe('as --32 -o payload.o payload.S');
    expect(f.calls[1]).toContain('-m elf_i386');
  });

  it('rejects versions that could escape the assembler string, and U-Boot images for x86', async () => {
    const f = fakes();
    await expect(buildPayload({ arch: 'x86', version: '1"\n.error', behaviour: 'hang' }, f.deps)).rejects.toThrow(/version/);
    await expect(buildPayload({ arch: 'x86', version: '1', behaviour: 'hang', format: 'uboot' }, f.deps)).rejects.toThrow(/aarch64/);
    expect(f.calls).toEqual([]);
  });

  it('reports a failing tool with its stderr', async () => {
    const f = fakes();
    f.deps.runner = {
      run: async () => ({ exitCode: 1, signal: null, stdout: new Uint8Array(), stderr: 'bad expression', timedOut: false, aborted: false, durationMs: 1 }),
    };
    await expect(buildPayload({ arch: 'x86', version: '1', behaviour: 'hang' }, f.deps)).rejects.toMatchObject({
      code: 'PAYLOAD_BUILD_FAILED',
      message: expect.stringContaining('bad expression'),
    });
  });

  it('writes the behaviour number and banner strings the sources expect', () => {
    const p = payloadParams({ arch: 'x86', version: '9.9', behaviour: 'unhealthy' });
    expect(p).toContain('.set BEHAVIOUR, 3');
    expect(p).toContain('.ascii "9.9"');
    expect(p).toContain('.ascii "unhealthy"');
  });
});
