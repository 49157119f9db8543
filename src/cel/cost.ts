// Runtime cost accounting for CEL programs, in the spirit of cel-go's actual-cost tracking: one
// unit per evaluated expression node (so every comprehension iteration pays for its body), plus
// size-proportional charges from library functions that walk strings or lists. Evaluation is
// synchronous, so the meter of the evaluation in progress is module state.

/** Upstream's per-expression limit (celconfig.PerCallLimit). */
export const PER_CALL_LIMIT = 1_000_000;
/** Upstream's budget for all the rules of one CRD validation (celconfig.RuntimeCELCostBudget). */
export const RUNTIME_COST_BUDGET = 10_000_000;

/** cel-go's text, which upstream callers look for. */
export const COST_EXCEEDED_MESSAGE = 'operation cancelled: actual cost limit exceeded';

export class CostLimitExceeded extends Error {
  constructor() {
    super(COST_EXCEEDED_MESSAGE);
    this.name = 'CostLimitExceeded';
  }
}

interface Meter {
  remaining: number;
}

let current: Meter | undefined;

/** Called for every evaluated node: throws once the budget is spent. */
export function tick(): void {
  if (current && --current.remaining < 0) throw new CostLimitExceeded();
}

/** A library function's extra cost (e.g. proportional to the size of its input). */
export function charge(units: number): void {
  if (!current) return;
  current.remaining -= Math.ceil(units);
  if (current.remaining < 0) throw new CostLimitExceeded();
}

/**
 * Runs fn with a fresh meter of `limit` units and returns its result with the cost spent.
 * A cost error swallowed by CEL's error-absorbing logic (`err || true`) still fails the run.
 */
export function metered<T>(limit: number, fn: () => T): { value: T; cost: number } {
  const outer = current;
  const meter: Meter = { remaining: limit };
  current = meter;
  try {
    const value = fn();
    if (meter.remaining < 0) throw new CostLimitExceeded();
    return { value, cost: limit - meter.remaining };
  } finally {
    current = outer;
  }
}
