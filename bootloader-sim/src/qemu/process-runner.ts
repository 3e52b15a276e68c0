/**
 * The process runner: the only way the QEMU tier starts host tools (as, ld,
 * mkimage, mkenvimage, qemu-system-*). Injected so unit tests can check the
 * exact command lines and fake results without running anything.
 */

/** What a finished process left behind. */
export interface RunResult {
  /** Exit status, or null when it was ended by a signal. */
  exitCode: number | null;
  /** Signal name that ended it (e.g. 'SIGKILL'), or null. */
  signal: string | null;
  stdout: Uint8Array;
  stderr: string;
  /** True when the runner killed it because `timeoutMs` passed. */
  timedOut: boolean;
  /** True when the runner killed it because `abort` fired. */
  aborted: boolean;
  /** Wall time from spawn to exit. */
  durationMs: number;
}

/** Options of one run. */
export interface RunOptions {
  cwd?: string;
  /** Bytes for stdin; stdin is empty (EOF) when absent. */
  stdin?: Uint8Array;
  /** SIGKILL the process after this many ms (a watchdog, not a grace period). */
  timeoutMs?: number;
  /** SIGKILL the process when this fires (a power cut). */
  abort?: AbortSignal;
  /** Called with every stdout chunk as it arrives, so callers can react to serial output. */
  onStdout?: (chunk: Uint8Array) => void;
}

export interface ProcessRunner {
  /** Runs `command args` to completion; rejects only when it cannot be started. */
  run(command: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
}
