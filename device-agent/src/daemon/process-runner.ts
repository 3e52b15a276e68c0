/**
 * Running external commands (health checks, reboot) behind an interface, so
 * the lifecycle can be tested with a fake and no test ever reboots a host.
 * This file is the only place in the agent that spawns processes.
 */
import { execFile } from 'node:child_process';

export interface ProcessResult {
  /** Exit code; null when killed (timeout) or not started. */
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
}

export type ProcessRunner = (argv: readonly string[], opts: { timeoutMs: number }) => Promise<ProcessResult>;

/** Runs argv[0] with the rest as arguments (no shell), killed after the timeout. */
export const nodeProcessRunner: ProcessRunner = (argv, opts) =>
  new Promise((resolve) => {
    const [cmd, ...args] = argv;
    if (cmd === undefined) {
      resolve({ code: null, stdout: '', stderr: '', error: 'empty command' });
      return;
    }
    execFile(cmd, args, { timeout: opts.timeoutMs, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err === null) {
        resolve({ code: 0, stdout, stderr });
        return;
      }
      const code = typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr, error: err.message });
    });
  });
