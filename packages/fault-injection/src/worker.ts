/** The worker thread: receives batches, answers with their results. Loaded through worker-entry.mjs (tsx). */
import { parentPort, workerData } from 'node:worker_threads';
import { CaseExecutor } from './case-executor.ts';
import type { CaseBatch } from './case-executor.ts';
import type { RunContext } from './cases.ts';

const port = parentPort;
if (port === null) throw new Error('worker.ts must run in a worker thread');
const executor = new CaseExecutor(workerData as RunContext);
port.on('message', (msg: { id: number; batch: CaseBatch }) => {
  executor.run(msg.batch).then(
    (results) => port.postMessage({ id: msg.id, results }),
    (err: unknown) => port.postMessage({ id: msg.id, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
  );
});
