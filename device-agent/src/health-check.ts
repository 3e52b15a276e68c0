/**
 * Health checks decide whether a freshly booted image is committed.
 *
 * They are pluggable because "healthy" is the integrator's call: the
 * simulated image's own verdict, a command that exits 0, an HTTP probe. A
 * check that throws or times out counts as unhealthy: when in doubt, roll back.
 */
export interface HealthResult {
  healthy: boolean;
  reason: string;
}

export interface HealthCheck {
  /** Runs the check against the image that is running now. */
  run(): Promise<HealthResult>;
}

/** A health check whose verdict is fixed up front (the simulated device knows what its image does). */
export function fixedHealthCheck(result: HealthResult): HealthCheck {
  return { run: async () => result };
}

/** Wraps a check with a deadline; a check that does not answer in time is unhealthy. */
export function withTimeout(check: HealthCheck, ms: number, timers: { setTimeout: typeof setTimeout; clearTimeout: typeof clearTimeout } = globalThis): HealthCheck {
  return {
    run: () =>
      new Promise<HealthResult>((resolve) => {
        const t = timers.setTimeout(() => resolve({ healthy: false, reason: `health check did not answer within ${ms} ms` }), ms);
        check.run().then(
          (r) => {
            timers.clearTimeout(t);
            resolve(r);
          },
          (err: unknown) => {
            timers.clearTimeout(t);
            resolve({ healthy: false, reason: `health check failed: ${err instanceof Error ? err.message : String(err)}` });
          },
        );
      }),
  };
}
