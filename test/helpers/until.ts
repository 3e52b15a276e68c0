/** Polls `fn` until it returns a value (not undefined / false / null), or fails after `ms` naming `what`. */
export async function until<T>(what: string, fn: () => T | undefined | false | null, ms = 60_000, everyMs = 25): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false && v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
