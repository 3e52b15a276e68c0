import { describe, expect, it } from 'vitest';
import { accelArgs, kvmUsable, parseAccelChoice, resolveAccel } from './accel.ts';
import type { ProcessRunner, RunOptions } from './process-runner.ts';

/** A runner that answers the KVM probe with `exitCode` (or fails to start) and records each call. */
function probeRunner(exitCode: number | 'enoent'): ProcessRunner & { calls: { args: readonly string[]; opts?: RunOptions | undefined }[] } {
  const r = {
    calls: [] as { args: readonly string[]; opts?: RunOptions | undefined }[],
    run: async (_c: string, args: readonly string[], opts?: RunOptions) => {
      r.calls.push({ args, opts });
      if (exitCode === 'enoent') throw new Error('spawn ENOENT');
      return { exitCode, signal: null, stdout: new Uint8Array(), stderr: '', timedOut: false, aborted: false, durationMs: 1 };
    },
  };
  return r;
}

describe('parseAccelChoice', () => {
  it.each([
    [undefined, 'auto'],
    ['', 'auto'],
    ['kvm', 'kvm'],
    [' TCG ', 'tcg'],
    ['auto', 'auto'],
  ] as const)('%j -> %s', (value, choice) => {
    expect(parseAccelChoice(value)).toBe(choice);
  });

  it('rejects anything else with ACCEL_INVALID', () => {
    expect(() => parseAccelChoice('hvf')).toThrow(expect.objectContaining({ code: 'ACCEL_INVALID' }));
  });
});

describe('accelArgs', () => {
  it('runs TCG single-threaded with a small code buffer, KVM as is', () => {
    expect(accelArgs('tcg')).toEqual(['-accel', 'tcg,thread=single,tb-size=32']);
    expect(accelArgs('kvm')).toEqual(['-accel', 'kvm']);
  });
});

describe('resolveAccel', () => {
  it('auto takes KVM when QEMU starts with -accel kvm, asking QEMU to quit through its monitor', async () => {
    const runner = probeRunner(0);
    expect(await resolveAccel('auto', runner, 'qemu-x')).toBe('kvm');
    expect(runner.calls[0]!.args.slice(0, 4)).toEqual(['-accel', 'kvm', '-M', 'none']);
    expect(new TextDecoder().decode(runner.calls[0]!.opts?.stdin)).toBe('quit\n');
  });

  it.each([[1], ['enoent']] as const)('auto falls back to TCG when the probe ends with %s', async (end) => {
    expect(await resolveAccel('auto', probeRunner(end), 'qemu-x')).toBe('tcg');
  });

  it('kvm insists: ACCEL_UNAVAILABLE when QEMU cannot use it', async () => {
    await expect(resolveAccel('kvm', probeRunner(1), 'qemu-x')).rejects.toMatchObject({ code: 'ACCEL_UNAVAILABLE' });
    expect(await resolveAccel('kvm', probeRunner(0), 'qemu-x')).toBe('kvm');
  });

  it('tcg never probes', async () => {
    const runner = probeRunner(0);
    expect(await resolveAccel('tcg', runner, 'qemu-x')).toBe('tcg');
    expect(runner.calls).toHaveLength(0);
  });

  it('probes once per runner and binary', async () => {
    const runner = probeRunner(0);
    await Promise.all([kvmUsable(runner, 'qemu-x'), kvmUsable(runner, 'qemu-x'), resolveAccel('auto', runner, 'qemu-x')]);
    await kvmUsable(runner, 'qemu-y');
    expect(runner.calls).toHaveLength(2);
  });
});
