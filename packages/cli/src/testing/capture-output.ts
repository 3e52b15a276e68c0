import { afterEach, beforeEach, vi } from 'vitest';

/** What a CLI command printed during the current test. */
export interface CapturedOutput {
  out: string;
  err: string;
}

/**
 * Captures process.stdout / process.stderr for every test of the calling file
 * (reset before each test, restored after), so CLI tests can assert on what a
 * user would see. Tests may reset `out` / `err` themselves between commands.
 */
export function captureOutput(): CapturedOutput {
  const io: CapturedOutput = { out: '', err: '' };
  beforeEach(() => {
    io.out = '';
    io.err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((io.out += String(c)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((io.err += String(c)), true));
  });
  afterEach(() => vi.restoreAllMocks());
  return io;
}
