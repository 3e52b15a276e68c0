/**
 * A fixed pool of worker threads running case batches in parallel. Each
 * worker receives the run context once (bundles, root, scenarios) and then
 * only batch descriptors, so per-batch messages stay small.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CaseBatch } from './case-executor.ts';
import type { CaseResult, RunContext } from './cases.ts';
import { FaultTestError } from './errors.ts';

const ENTRY = new URL('./worker-entry.mjs', import.meta.url);

/** The default parallelism: one worker per available core. */
export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}

/** Runs `batches` on `jobs` workers; `onBatch` sees each batch's results as they finish. */
export async function runInWorkers(ctx: RunContext, batches: CaseBatch[], jobs: number, onBatch: (results: CaseResult[]) => void): Promise<void> {
  const count = Math.max(1, Math.min(jobs, batches.length));
  const workers = Array.from({ length: count }, () => new Worker(ENTRY, { workerData: ctx }));
  let next = 0;
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            let current = -1;
            const feed = (): void => {
              if (next >= batches.length) return resolve();
              current = next++;
              w.postMessage({ id: current, batch: batches[current] });
            };
            w.on('message', (msg: { id: number; results?: CaseResult[]; error?: string }) => {
              if (msg.error !== undefined || msg.results === undefined) return reject(new FaultTestError('WORKER_FAILED', `worker failed on batch ${msg.id}: ${msg.error}`));
              onBatch(msg.results);
              feed();
            });
            w.once('error', (err) => reject(new FaultTestError('WORKER_FAILED', `worker crashed: ${err.message}`, { cause: err })));
            w.once('exit', (code) => {
              if (next < batches.length || current >= 0) reject(new FaultTestError('WORKER_FAILED', `worker exited early with code ${code}`));
            });
            feed();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
