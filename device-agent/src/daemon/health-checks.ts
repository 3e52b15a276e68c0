/**
 * Health checks an integrator configures: a command that exits 0, or an HTTP
 * endpoint that answers 2xx. Both are bounded by a timeout; anything else
 * (non-zero exit, refused connection, 5xx, timeout) is unhealthy.
 */
import type { HealthCheck } from '../health-check.ts';
import { fixedHealthCheck, withTimeout } from '../health-check.ts';
import type { HealthConfig } from './config.ts';
import type { ProcessRunner } from './process-runner.ts';

/** A check that runs `argv`; exit code 0 means healthy. */
export function commandHealthCheck(argv: readonly string[], timeoutMs: number, run: ProcessRunner): HealthCheck {
  return {
    run: async () => {
      const r = await run(argv, { timeoutMs });
      if (r.code === 0) return { healthy: true, reason: `${argv[0]} exited 0` };
      return { healthy: false, reason: `${argv.join(' ')} ${r.code === null ? `did not finish (${r.error ?? 'killed'})` : `exited ${r.code}`}: ${r.stderr.slice(0, 200)}` };
    },
  };
}

/** A check that GETs `url`; a 2xx answer means healthy. */
export function httpHealthCheck(url: string, timeoutMs: number, fetchImpl: typeof fetch = fetch): HealthCheck {
  return withTimeout(
    {
      run: async () => {
        const res = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs) });
        return res.ok ? { healthy: true, reason: `${url} answered ${res.status}` } : { healthy: false, reason: `${url} answered ${res.status}` };
      },
    },
    timeoutMs + 100,
  );
}

/** Builds the configured check. */
export function healthCheckFromConfig(cfg: HealthConfig, run: ProcessRunner): HealthCheck {
  switch (cfg.kind) {
    case 'command':
      return commandHealthCheck(cfg.command ?? [], cfg.timeoutMs, run);
    case 'http':
      return httpHealthCheck(cfg.url ?? '', cfg.timeoutMs);
    case 'none':
      return fixedHealthCheck({ healthy: true, reason: 'no health check configured' });
  }
}
