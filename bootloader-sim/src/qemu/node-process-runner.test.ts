import { describe, expect, it } from 'vitest';
import { NodeProcessRunner } from './node-process-runner.ts';

const runner = new NodeProcessRunner();

describe('NodeProcessRunner', () => {
  it('passes stdin through and captures stdout, stderr and the exit code', async () => {
    const r = await runner.run('sh', ['-c', 'cat; echo oops >&2; exit 3'], { stdin: new TextEncoder().encode('hello') });
    expect(new TextDecoder().decode(r.stdout)).toBe('hello');
    expect(r).toMatchObject({ exitCode: 3, signal: null, stderr: 'oops\n', timedOut: false, aborted: false });
  });

  it('kills with SIGKILL when the watchdog timeout passes', async () => {
    const r = await runner.run('sleep', ['30'], { timeoutMs: 100 });
    expect(r).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: true, aborted: false });
    expect(r.durationMs).toBeLessThan(5000);
  });

  it('kills on abort (a power cut) as soon as the awaited output appears', async () => {
    const cut = new AbortController();
    let seen = '';
    const r = await runner.run('sh', ['-c', 'echo ready; exec sleep 30'], {
      abort: cut.signal,
      onStdout: (c) => {
        seen += new TextDecoder().decode(c);
        if (seen.includes('ready')) cut.abort();
      },
    });
    expect(r).toMatchObject({ signal: 'SIGKILL', aborted: true, timedOut: false });
    expect(new TextDecoder().decode(r.stdout)).toBe('ready\n');
  });

  it('rejects when the command does not exist', async () => {
    await expect(runner.run('uniota-no-such-command', [])).rejects.toThrow(/ENOENT/);
  });
});
