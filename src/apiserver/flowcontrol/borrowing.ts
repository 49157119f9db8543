// Seat borrowing between priority levels, as upstream's configuration controller does it
// (Kubernetes 1.30), its demand sampled rather than integrated: each level has its nominal seats (its share of the server's), of which it may
// lend `lendablePercent` and beyond which it may borrow up to `borrowingLimitPercent` of them (no
// limit when unset). Every 10 s each level's seat demand over the period (seats in use plus seats
// waiting, averaged over time) gives it a target, and the server's seats are divided anew: every
// level gets at least the smaller of its nominal seats and its highest demand in the period (never
// less than its nominal less its lendable seats), at most its nominal plus its borrowing limit,
// and in between in proportion to its target (the same proportion for all, where the bounds allow).

/** How often the seats are divided anew (upstream's borrowingAdjustmentPeriod). */
export const ADJUSTMENT_PERIOD_MS = 10_000;
/** Upstream's seatDemandSmoothingCoefficient: a half-life of about 5 minutes of 10 s periods. */
const SMOOTHING = 0.977;
/** Upstream's MinTarget: a level without demand still has a (tiny) target. */
const MIN_TARGET = 0.001;

/** How often each level's demand is sampled for its average (ms). */
export const SAMPLE_PERIOD_MS = 100;

/**
 * A level's seat demand over a period: sampled every 100 ms for its average and deviation
 * (upstream integrates every change; sampling keeps the request path free of clock reads), its
 * peak noted by the level itself as demand rises.
 */
export class SeatDemand {
  private n = 0;
  private sum = 0;
  private sumSquares = 0;
  private max = 0;

  sample(x: number): void {
    this.n++;
    this.sum += x;
    this.sumSquares += x * x;
    if (x > this.max) this.max = x;
  }

  /** The period's figures (`now`: the demand now, `peak`: the highest the level saw); a new period starts. */
  reset(now: number, peak: number): { average: number; deviation: number; max: number; durationMs: number } {
    this.sample(now);
    const average = this.sum / this.n;
    const variance = this.sumSquares / this.n - average * average;
    const out = {
      average,
      deviation: Math.sqrt(Math.max(0, variance)),
      max: Math.max(this.max, peak),
      durationMs: this.n * SAMPLE_PERIOD_MS,
    };
    this.n = 0;
    this.sum = 0;
    this.sumSquares = 0;
    this.max = 0;
    return out;
  }
}

/** A level's demand figures, kept across periods (upstream's seatDemandStats). */
export class DemandStats {
  highWatermark = 0;
  average = 0;
  deviation = 0;
  smoothed = 0;

  update(obs: ReturnType<SeatDemand['reset']>): void {
    this.highWatermark = obs.max;
    if (obs.durationMs <= 0) return;
    this.average = obs.average;
    this.deviation = obs.deviation;
    const envelope = obs.average + obs.deviation;
    this.smoothed = Math.max(envelope, SMOOTHING * this.smoothed + (1 - SMOOTHING) * envelope);
  }
}

export interface AllocationItem {
  lower: number;
  upper: number;
  target: number;
}

/**
 * Divide `total` among the items: each gets target × p clamped to [lower, upper], with the one p
 * that makes the parts add up to `total` (when the bounds allow: else every item at its lower, or
 * at its upper, bound). Found by bisection on p, the sum being non-decreasing in it.
 */
export function allocate(total: number, items: AllocationItem[]): number[] {
  let lowSum = 0;
  let highSum = 0;
  for (const it of items) {
    lowSum += it.lower;
    highSum += it.upper;
  }
  if (lowSum >= total) return items.map((it) => it.lower);
  if (highSum <= total) return items.map((it) => it.upper);
  const target = (it: AllocationItem) => Math.max(it.target, MIN_TARGET);
  const part = (it: AllocationItem, p: number) => Math.min(it.upper, Math.max(it.lower, target(it) * p));
  const sum = (p: number) => items.reduce((s, it) => s + part(it, p), 0);
  let lo = 0;
  let hi = 1;
  for (const it of items) hi = Math.max(hi, it.upper / target(it));
  for (let i = 0; i < 100 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (sum(mid) < total) lo = mid;
    else hi = mid;
  }
  return items.map((it) => part(it, hi));
}
