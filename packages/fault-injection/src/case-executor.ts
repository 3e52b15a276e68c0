/** Runs batches of cases, preparing each scenario's device once per executor (main thread or worker). */
import { buildRun, qemuSetup, runCase } from './cases.ts';
import type { CaseResult, CaseSpec, RunContext } from './cases.ts';
import type { PreparedRun } from './flow-runner.ts';

/** A batch of cases of one scenario: the unit of work handed to a worker. */
export interface CaseBatch {
  scenario: number;
  cases: CaseSpec[];
}

/** Runs batches against one context, caching the provisioned device per scenario. */
export class CaseExecutor {
  private readonly prepared = new Map<number, Promise<PreparedRun | string>>();

  constructor(private readonly ctx: RunContext) {}

  /** Runs every case of `batch` in order. */
  async run(batch: CaseBatch): Promise<CaseResult[]> {
    let p = this.prepared.get(batch.scenario);
    if (p === undefined) {
      const scenario = this.ctx.file.scenarios[batch.scenario];
      p = scenario === undefined ? Promise.resolve('no such scenario') : buildRun(this.ctx, scenario).then((b) => ('skip' in b ? b.skip : b.run));
      this.prepared.set(batch.scenario, p);
    }
    const prepared = await p;
    const out: CaseResult[] = [];
    for (const c of batch.cases) {
      out.push(typeof prepared === 'string' ? { scenario: c.scenario, index: c.index, name: c.name, violations: [], skipped: prepared, durationMs: 0 } : await runCase(prepared, c, qemuSetup(this.ctx)));
    }
    return out;
  }
}
