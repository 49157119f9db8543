// Normalization of an HPA's desired replicas (upstream horizontal.go): the stabilization window
// over recent recommendations, then the rate limits — without spec.behavior the legacy rules
// (scale-down stabilization of --horizontal-pod-autoscaler-downscale-stabilization, scale-up at
// most max(2×current, 4)); with it, per-direction windows and Pods/Percent policies over their
// periods, selectPolicy Max/Min/Disabled. State (recommendations, scale events) is per HPA key.

import type { HPAScalingPolicy, HPAScalingRules } from 'kubernetes-types/autoscaling/v2.js';

export interface Recommendation {
  replicas: number;
  at: number;
}

export interface ScaleEvent {
  change: number;
  at: number;
  outdated: boolean;
}

/** A scaling policy: type Pods or Percent (validation admits no other). */
export type ScalingPolicy = HPAScalingPolicy;

/** Per-direction scaling rules: selectPolicy Max, Min or Disabled. */
export type ScalingRules = HPAScalingRules;

export interface Outcome {
  replicas: number;
  ableToScale: { reason: string; message: string };
  scalingLimited: { status: 'True' | 'False'; reason: string; message: string };
}

/** Defaults of autoscaling/v2 (SetDefaults_HorizontalPodAutoscalerBehavior). */
export const DEFAULT_SCALE_UP: Required<ScalingRules> = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ],
};
export const DEFAULT_SCALE_DOWN: Required<ScalingRules> = {
  stabilizationWindowSeconds: 300,
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
};

const READY = { reason: 'ReadyForNewScale', message: 'recommended size matches current size' };
const WITHIN = { reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };

export class ScalingState {
  readonly recommendations = new Map<string, Recommendation[]>();
  readonly scaleUpEvents = new Map<string, ScaleEvent[]>();
  readonly scaleDownEvents = new Map<string, ScaleEvent[]>();

  constructor(
    /** --horizontal-pod-autoscaler-downscale-stabilization (ms), for HPAs without behavior. */
    readonly downscaleStabilizationMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  forget(key: string): void {
    this.recommendations.delete(key);
    this.scaleUpEvents.delete(key);
    this.scaleDownEvents.delete(key);
  }

  /** Without spec.behavior (upstream normalizeDesiredReplicas). */
  normalize(key: string, current: number, desired: number, min: number, max: number): Outcome {
    const now = this.now();
    const recs = this.recommendations.get(key) ?? [];
    // stabilizeRecommendation: the highest recommendation of the window, recording this one.
    let stabilized = desired;
    let oldIndex = -1;
    const cutoff = now - this.downscaleStabilizationMs;
    recs.forEach((r, i) => {
      if (r.at > cutoff) stabilized = Math.max(stabilized, r.replicas);
      else oldIndex = i;
    });
    if (oldIndex >= 0) recs[oldIndex] = { replicas: desired, at: now };
    else recs.push({ replicas: desired, at: now });
    this.recommendations.set(key, recs);
    const ableToScale =
      stabilized !== desired
        ? {
            reason: 'ScaleDownStabilized',
            message: 'recent recommendations were higher than current one, applying the highest recent recommendation',
          }
        : READY;
    const limited = convertDesiredReplicasWithRules(current, stabilized, min, max);
    return {
      replicas: limited.replicas,
      ableToScale,
      scalingLimited: {
        status: limited.replicas === stabilized ? 'False' : 'True',
        reason: limited.reason,
        message: limited.message,
      },
    };
  }

  /** With spec.behavior (upstream normalizeDesiredReplicasWithBehaviors). */
  normalizeWithBehaviors(
    key: string,
    current: number,
    desired: number,
    min: number,
    max: number,
    up: ScalingRules,
    down: ScalingRules,
  ): Outcome {
    const now = this.now();
    const upRules = { ...DEFAULT_SCALE_UP, ...stripUndefined(up) };
    const downRules = { ...DEFAULT_SCALE_DOWN, ...stripUndefined(down) };
    // maybeInitScaleDownStabilizationWindow: a new HPA starts with the current size in its window.
    if (!this.recommendations.has(key) && downRules.stabilizationWindowSeconds > 0)
      this.recommendations.set(key, [{ replicas: current, at: now }]);
    const recs = this.recommendations.get(key) ?? [];
    const upCutoff = now - upRules.stabilizationWindowSeconds * 1000;
    const downCutoff = now - downRules.stabilizationWindowSeconds * 1000;
    let upRec = desired;
    let downRec = desired;
    let oldIndex = -1;
    recs.forEach((r, i) => {
      if (r.at > upCutoff) upRec = Math.min(r.replicas, upRec);
      if (r.at > downCutoff) downRec = Math.max(r.replicas, downRec);
      if (r.at < upCutoff && r.at < downCutoff) oldIndex = i;
    });
    let stabilized = current;
    if (stabilized < upRec) stabilized = upRec;
    if (stabilized > downRec) stabilized = downRec;
    if (oldIndex >= 0) recs[oldIndex] = { replicas: desired, at: now };
    else recs.push({ replicas: desired, at: now });
    this.recommendations.set(key, recs);
    const ableToScale =
      stabilized === desired
        ? READY
        : desired >= current
          ? {
              reason: 'ScaleUpStabilized',
              message: 'recent recommendations were lower than current one, applying the lowest recent recommendation',
            }
          : {
              reason: 'ScaleDownStabilized',
              message:
                'recent recommendations were higher than current one, applying the highest recent recommendation',
            };
    const rated = this.convertWithBehaviorRate(key, current, stabilized, min, max, upRules, downRules);
    return {
      replicas: rated.replicas,
      ableToScale,
      scalingLimited: {
        status: rated.replicas === stabilized ? 'False' : 'True',
        reason: rated.reason,
        message: rated.message,
      },
    };
  }

  private convertWithBehaviorRate(
    key: string,
    current: number,
    desired: number,
    min: number,
    max: number,
    up: Required<ScalingRules>,
    down: Required<ScalingRules>,
  ) {
    const ups = this.scaleUpEvents.get(key) ?? [];
    const downs = this.scaleDownEvents.get(key) ?? [];
    const now = this.now();
    if (desired > current) {
      let limit = scaleUpLimit(current, ups, downs, up, now);
      if (limit < current) limit = current;
      let maxAllowed = max;
      let reason: string;
      let message: string;
      if (maxAllowed > limit) {
        maxAllowed = limit;
        reason = 'ScaleUpLimit';
        message = 'the desired replica count is increasing faster than the maximum scale rate';
      } else {
        reason = 'TooManyReplicas';
        message = 'the desired replica count is more than the maximum replica count';
      }
      if (desired > maxAllowed) return { replicas: maxAllowed, reason, message };
    } else if (desired < current) {
      let limit = scaleDownLimit(current, ups, downs, down, now);
      if (limit > current) limit = current;
      let minAllowed = min;
      let reason: string;
      let message: string;
      if (minAllowed < limit) {
        minAllowed = limit;
        reason = 'ScaleDownLimit';
        message = 'the desired replica count is decreasing faster than the maximum scale rate';
      } else {
        reason = 'TooFewReplicas';
        message = 'the desired replica count is less than the minimum replica count';
      }
      if (desired < minAllowed) return { replicas: minAllowed, reason, message };
    }
    return { replicas: desired, ...WITHIN };
  }

  /** Remember a rescale for the policies' periods (upstream storeScaleEvent; only with behavior). */
  storeScaleEvent(
    key: string,
    behavior: { scaleUp?: ScalingRules; scaleDown?: ScalingRules } | undefined,
    prev: number,
    next: number,
  ): void {
    if (!behavior) return;
    const now = this.now();
    const upward = next > prev;
    const rules = upward
      ? { ...DEFAULT_SCALE_UP, ...stripUndefined(behavior.scaleUp) }
      : { ...DEFAULT_SCALE_DOWN, ...stripUndefined(behavior.scaleDown) };
    const map = upward ? this.scaleUpEvents : this.scaleDownEvents;
    const events = map.get(key) ?? [];
    const longest = Math.max(0, ...rules.policies.map((p) => p.periodSeconds));
    for (const e of events) if (e.at < now - longest * 1000) e.outdated = true;
    const event = { change: Math.abs(next - prev), at: now, outdated: false };
    const i = events.findIndex((e) => e.outdated);
    if (i >= 0) events[i] = event;
    else events.push(event);
    map.set(key, events);
  }
}

function stripUndefined<T extends object>(o: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o ?? {}) as [keyof T, T[keyof T]][])
    if (v !== undefined && v !== null) out[k] = v;
  return out;
}

/** Replicas changed by events within the last periodSeconds (upstream getReplicasChangePerPeriod). */
export function changeInPeriod(periodSeconds: number, events: ScaleEvent[], now: number): number {
  const cutoff = now - periodSeconds * 1000;
  let sum = 0;
  for (const e of events) if (e.at > cutoff) sum += e.change;
  return sum;
}

export function scaleUpLimit(
  current: number,
  ups: ScaleEvent[],
  downs: ScaleEvent[],
  rules: Required<ScalingRules>,
  now: number,
): number {
  if (rules.selectPolicy === 'Disabled') return current;
  let result = rules.selectPolicy === 'Min' ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
  for (const p of rules.policies) {
    const start = current - changeInPeriod(p.periodSeconds, ups, now) + changeInPeriod(p.periodSeconds, downs, now);
    const proposed = p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    result = rules.selectPolicy === 'Min' ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return result;
}

export function scaleDownLimit(
  current: number,
  ups: ScaleEvent[],
  downs: ScaleEvent[],
  rules: Required<ScalingRules>,
  now: number,
): number {
  if (rules.selectPolicy === 'Disabled') return current;
  let result = rules.selectPolicy === 'Min' ? Number.MIN_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
  for (const p of rules.policies) {
    const start = current - changeInPeriod(p.periodSeconds, ups, now) + changeInPeriod(p.periodSeconds, downs, now);
    const proposed = p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
    result = rules.selectPolicy === 'Min' ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return result;
}

/** Legacy rules without behavior (upstream convertDesiredReplicasWithRules). */
export function convertDesiredReplicasWithRules(
  current: number,
  desired: number,
  min: number,
  max: number,
): { replicas: number; reason: string; message: string } {
  const scaleUpLimit = Math.max(2 * current, 4);
  let maxAllowed: number;
  let reason: string;
  let message: string;
  if (max > scaleUpLimit) {
    maxAllowed = scaleUpLimit;
    reason = 'ScaleUpLimit';
    message = 'the desired replica count is increasing faster than the maximum scale rate';
  } else {
    maxAllowed = max;
    reason = 'TooManyReplicas';
    message = 'the desired replica count is more than the maximum replica count';
  }
  if (desired < min)
    return {
      replicas: min,
      reason: 'TooFewReplicas',
      message: 'the desired replica count is less than the minimum replica count',
    };
  if (desired > maxAllowed) return { replicas: maxAllowed, reason, message };
  return { replicas: desired, ...WITHIN };
}
