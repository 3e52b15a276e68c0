import { describe, expect, it } from 'vitest';
import type { ProcessRunner, RunOptions, RunResult } from './process-runner.ts';
import { runQemu } from './run-qemu.ts';

/** A runner that "prints" `serial` and ends as told, recording the options it got. */
function fake(serial: string, end: Partial<RunResult>): ProcessRunner & { opts?: RunOptions | undefined } {
  const r: ProcessRunner & { opts?: RunOptions | undefined } = {
    run: async (_c, _a, opts) => {
      r.opts = opts;
      const bytes = new TextEncoder().encode(serial);
      opts?.onStdout?.(bytes);
      return { exitCode: 0, signal: null, stdout: bytes, stderr: '', timedOut: false, aborted: false, durationMs: 5, ...end };
    },
  };
  return r;
}

const banner = 'UNIOTA-PAYLOAD version=3 behaviour=hang\r\n';

describe('runQemu', () => {
  it('hands the watchdog to the runner and reports a watchdog kill as a hang', async () => {
    const runner = fake(banner, { exitCode: null, signal: 'SIGKILL', timedOut: true });
    const r = await runQemu(runner, 'qemu', [], { watchdogMs: 1234 });
    expect(runner.opts?.timeoutMs).toBe(1234);
    expect(r).toMatchObject({ outcome: 'hang', watchdogFired: true, healthy: false, version: '3', exitCode: null });
  });

  it('aborts when the power-cut text shows up in the serial output', async () => {
    const runner = fake(`${banner}`, {});
    await runQemu(runner, 'qemu', [], { watchdogMs: 1000, powerCut: { onSerial: 'version=3' } });
    expect(runner.opts?.abort?.aborted).toBe(true);
  });

  it('reports a kill by the power cut as power-cut, not hang', async () => {
    const r = await runQemu(fake(banner, { exitCode: null, signal: 'SIGKILL', aborted: true }), 'qemu', [], { watchdogMs: 1000 });
    expect(r.outcome).toBe('power-cut');
  });

  it('a healthy exit code without the health line is not healthy', async () => {
    const r = await runQemu(fake(banner, { exitCode: 0 }), 'qemu', [], { watchdogMs: 1000 });
    expect(r).toMatchObject({ healthy: false, exitCode: 0 });
  });

  it('throws TOOL_FAILED when QEMU exits at once with no serial output', async () => {
    await expect(
      runQemu(fake('', { exitCode: 1, stderr: 'qemu: could not open disk' }), 'qemu', [], { watchdogMs: 1000 }),
    ).rejects.toMatchObject({ code: 'TOOL_FAILED', message: expect.stringContaining('could not open disk') });
  });
});
