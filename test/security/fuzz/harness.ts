/**
 * Runs one fuzz target: each generator gets its share of the inputs and its
 * own fixed seed (so a failure reproduces), every input is judged by the
 * target's check, and the target prints one summary line:
 *
 *   fuzz: <target> <N> inputs, <crashes> crashes, <state changes> state changes
 *
 * A crash is an exception that escaped (or one that is not a documented
 * error code); a state change is anything the check saw change that the
 * input had no right to change. Either fails the property at once, and
 * fast-check then shrinks the input and reports it with its seed.
 */
import fc from 'fast-check';

/** One generator of a target and how many inputs it contributes. */
export interface FuzzGenerator<T> {
  name: string;
  arb: fc.Arbitrary<T>;
  runs: number;
}

/** What the check says about one input. */
export type Verdict = { ok: true; outcome: string } | { ok: false; kind: 'crash' | 'state-change'; detail: string };

/** Totals of one target's run. */
export interface FuzzTotals {
  inputs: number;
  crashes: number;
  stateChanges: number;
  /** How the inputs ended, by outcome (rejection code, "accepted", ...). */
  outcomes: Map<string, number>;
}

/** Judges `fn`'s exception: a documented code is a rejection, anything else a crash. */
export function classifyError(err: unknown, documented: (err: unknown) => string | null): Verdict {
  const code = documented(err);
  if (code !== null) return { ok: true, outcome: code };
  return { ok: false, kind: 'crash', detail: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err) };
}

function tally(totals: FuzzTotals, v: Verdict): boolean {
  totals.inputs += 1;
  if (v.ok) {
    totals.outcomes.set(v.outcome, (totals.outcomes.get(v.outcome) ?? 0) + 1);
    return true;
  }
  if (v.kind === 'crash') totals.crashes += 1;
  else totals.stateChanges += 1;
  throw new Error(`${v.kind}: ${v.detail}`);
}

function summary(target: string, t: FuzzTotals): string {
  return `fuzz: ${target} ${t.inputs} inputs, ${t.crashes} crashes, ${t.stateChanges} state changes`;
}

function finish(target: string, totals: FuzzTotals): FuzzTotals {
  console.log(summary(target, totals));
  const top = [...totals.outcomes].sort((a, b) => b[1] - a[1]).slice(0, 8);
  console.log(`      outcomes: ${top.map(([k, n]) => `${k}=${n}`).join(', ')}`);
  return totals;
}

/** Fuzzes a synchronous target. */
export function fuzzSync<T>(target: string, seed: number, generators: FuzzGenerator<T>[], check: (input: T, generator: string) => Verdict): FuzzTotals {
  const totals: FuzzTotals = { inputs: 0, crashes: 0, stateChanges: 0, outcomes: new Map() };
  generators.forEach((g, i) => {
    try {
      fc.assert(
        fc.property(g.arb, (x) => tally(totals, check(x, g.name))),
        { numRuns: g.runs, seed: seed + i, endOnFailure: false },
      );
    } catch (err) {
      console.log(summary(target, totals));
      throw new Error(`fuzz target ${target}, generator ${g.name} (seed ${seed + i}) failed`, { cause: err });
    }
  });
  return finish(target, totals);
}

/** Fuzzes an asynchronous target (handlers that journal, publish or batch). */
export async function fuzzAsync<T>(
  target: string,
  seed: number,
  generators: FuzzGenerator<T>[],
  check: (input: T, generator: string) => Promise<Verdict>,
): Promise<FuzzTotals> {
  const totals: FuzzTotals = { inputs: 0, crashes: 0, stateChanges: 0, outcomes: new Map() };
  for (const [i, g] of generators.entries()) {
    try {
      await fc.assert(
        fc.asyncProperty(g.arb, async (x) => tally(totals, await check(x, g.name))),
        { numRuns: g.runs, seed: seed + i },
      );
    } catch (err) {
      console.log(summary(target, totals));
      throw new Error(`fuzz target ${target}, generator ${g.name} (seed ${seed + i}) failed`, { cause: err });
    }
  }
  return finish(target, totals);
}
