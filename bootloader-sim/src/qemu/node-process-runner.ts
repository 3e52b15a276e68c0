import { spawn } from 'node:child_process';
import type { ProcessRunner, RunOptions, RunResult } from './process-runner.ts';

/**
 * ProcessRunner over node:child_process: the one file of the QEMU tier that
 * spawns processes. Kills with SIGKILL because a watchdog or a power cut gives
 * the guest no chance to clean up either.
 */
export class NodeProcessRunner implements ProcessRunner {
  /** Runs `command args` to completion; rejects only when it cannot be started. */
  run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const child = spawn(command, args, {
        cwd: opts.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      let aborted = false;
      const kill = (): void => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      };
      const timer =
        opts.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              kill();
            }, opts.timeoutMs);
      const onAbort = (): void => {
        aborted = true;
        kill();
      };
      if (opts.abort?.aborted) onAbort();
      else opts.abort?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (chunk: Buffer) => {
        out.push(chunk);
        opts.onStdout?.(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
      // A guest killed mid-write closes stdin under us; that is not an error.
      child.stdin.on('error', () => {});
      child.stdin.end(opts.stdin ?? undefined);
      child.on('error', (e) => {
        if (timer) clearTimeout(timer);
        opts.abort?.removeEventListener('abort', onAbort);
        reject(e);
      });
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        opts.abort?.removeEventListener('abort', onAbort);
        resolve({
          exitCode: code,
          signal,
          stdout: new Uint8Array(Buffer.concat(out)),
          stderr: Buffer.concat(err).toString('utf8'),
          timedOut,
          aborted,
          durationMs: performance.now() - started,
        });
      });
    });
  }
}
