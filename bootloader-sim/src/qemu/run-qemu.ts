/**
 * One QEMU run with a watchdog and an optional power cut, judged from serial.
 * Shared by both tiers so they kill, time and judge boots the same way.
 */
import type { BootResult, PowerCut } from './boot-result.ts';
import { QemuError } from './errors.ts';
import type { ProcessRunner } from './process-runner.ts';
import { judgeSerial, type SerialVerdict } from './serial-verdict.ts';

/** A boot result before the tier fills in which slot it booted. */
export type QemuRun = Omit<BootResult, 'bootedSlot'> & { verdict: SerialVerdict };

/** Runs QEMU until it exits, the watchdog fires, or the power cut strikes. */
export async function runQemu(
  runner: ProcessRunner,
  binary: string,
  args: readonly string[],
  opts: { watchdogMs: number; powerCut?: PowerCut },
): Promise<QemuRun> {
  const cut = new AbortController();
  const decoder = new TextDecoder();
  let seen = '';
  const onSerial = opts.powerCut?.onSerial;
  const timer =
    opts.powerCut?.afterMs === undefined ? undefined : setTimeout(() => cut.abort(), opts.powerCut.afterMs);
  let res;
  try {
    res = await runner.run(binary, args, {
      timeoutMs: opts.watchdogMs,
      abort: cut.signal,
      ...(onSerial === undefined
        ? {}
        : {
            onStdout: (chunk: Uint8Array) => {
              seen += decoder.decode(chunk, { stream: true });
              if (seen.includes(onSerial)) cut.abort();
            },
          }),
    });
  } catch (err) {
    throw new QemuError('TOOL_FAILED', `cannot start ${binary}`, { cause: err });
  } finally {
    if (timer) clearTimeout(timer);
  }
  const serial = new TextDecoder().decode(res.stdout);
  const ended = res.aborted ? 'power-cut' : res.timedOut ? 'watchdog' : 'exited';
  const verdict = judgeSerial(serial, ended);
  // QEMU refusing to start (bad option, missing file) prints to stderr and exits 1 with no serial at all.
  if (ended === 'exited' && serial === '' && res.exitCode !== 0) {
    throw new QemuError('TOOL_FAILED', `${binary} failed to start (${res.exitCode}): ${res.stderr.trim()}`);
  }
  return {
    verdict,
    version: verdict.version,
    behaviour: verdict.behaviour,
    healthy: verdict.outcome === 'healthy',
    outcome: verdict.outcome,
    serial,
    exitCode: res.exitCode,
    watchdogFired: res.timedOut,
    durationMs: res.durationMs,
  };
}
