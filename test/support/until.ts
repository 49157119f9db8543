// The one polling helper of the tests: wait until a condition holds, or fail naming what was
// awaited, the last error seen and (optionally) a diagnosis of the state at the deadline.

export interface UntilOptions {
  /** Give up after this long (default 20 s). */
  timeoutMs?: number;
  /** Pause between tries (default 200 ms). */
  stepMs?: number;
  /** Called once at the deadline; its text is added to the error (e.g. `kubectl get pods -o wide`). */
  diag?: () => string | Promise<string>;
}

/** What a truthy result of `fn` can be. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Calls `fn` until it returns something truthy, and returns that. An exception counts as "not
 * yet" (the last one is reported at the deadline), so `fn` may read objects that do not exist yet.
 */
export async function until<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs: number | UntilOptions = {},
  stepMs?: number,
): Promise<Truthy<T>> {
  const o: UntilOptions = typeof timeoutMs === 'number' ? { timeoutMs, stepMs } : timeoutMs;
  const deadline = Date.now() + (o.timeoutMs ?? 20_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as Truthy<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- whatever was thrown, as String() shows it
      const why = last ? `: ${last instanceof Error ? last.message : String(last)}` : '';
      const extra = o.diag
        ? await Promise.resolve()
            .then(o.diag)
            .catch((e) => `(diagnosis failed: ${e})`)
        : '';
      throw new Error(
        `timed out after ${o.timeoutMs ?? 20_000} ms waiting for ${what}${why}${extra ? `\n${extra}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, o.stepMs ?? 200));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
