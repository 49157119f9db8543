// Job helpers (upstream pkg/controller/job): conditions, completion indexes and their compressed
// "1,3-5" form, the pod-recreation back-off.

export const JOB_TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';
export const JOB_COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index';
export const JOB_COMPLETION_INDEX_ENV = 'JOB_COMPLETION_INDEX';

/** Upstream DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff. */
export const DEFAULT_BACKOFF_MS = 10_000;
export const MAX_BACKOFF_MS = 360_000;

/** Delay before the next pod may be created after `failures` consecutive failures (0: none). */
import type { JobCondition, JobSpec, JobStatus } from 'kubernetes-types/batch/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';

export function backoffDelayMs(failures: number, baseMs = DEFAULT_BACKOFF_MS, maxMs = MAX_BACKOFF_MS): number {
  if (failures <= 0) return 0;
  const exp = Math.min(failures - 1, 40);
  return Math.min(baseMs * 2 ** exp, maxMs);
}

/** What the condition helpers read of a Job (tests pass partial ones). */
export type JobView = { spec?: Partial<JobSpec>; status?: JobStatus } | undefined;

export function jobCondition(job: JobView, type: string): JobCondition | undefined {
  return (job?.status?.conditions ?? []).find((c) => c?.type === type);
}

export const conditionTrue = (job: JobView, type: string): boolean => jobCondition(job, type)?.status === 'True';

/** Complete or Failed. */
export function isJobFinished(job: JobView): 'Complete' | 'Failed' | undefined {
  if (conditionTrue(job, 'Complete')) return 'Complete';
  if (conditionTrue(job, 'Failed')) return 'Failed';
  return undefined;
}

/** Set (or update) a condition; lastTransitionTime moves only when the status changes. */
export function setCondition(
  status: JobStatus,
  type: string,
  value: 'True' | 'False',
  reason: string,
  message: string,
  now: string,
): boolean {
  const conds: JobCondition[] = (status.conditions ??= []);
  const c = conds.find((x) => x.type === type);
  if (c) {
    if (c.status === value && c.reason === reason && c.message === message) return false;
    if (c.status !== value) c.lastTransitionTime = now;
    c.status = value;
    c.reason = reason;
    c.message = message;
    c.lastProbeTime = now;
    return true;
  }
  conds.push({ type, status: value, lastProbeTime: now, lastTransitionTime: now, reason, message });
  return true;
}

/** Parse "1,3-5" into a sorted set of indexes (ignoring anything malformed or ≥ completions). */
export function parseIndexes(s: string | undefined, completions = Number.MAX_SAFE_INTEGER): Set<number> {
  const out = new Set<number>();
  if (!s) return out;
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    for (let i = a; i <= b && i < completions; i++) out.add(i);
  }
  return out;
}

/** The compressed form upstream writes in status.completedIndexes. */
export function formatIndexes(set: Iterable<number>): string {
  const sorted = [...new Set(set)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? String(sorted[i]) : j === i + 1 ? `${sorted[i]},${sorted[j]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** The completion index of a pod, or undefined. */
export function completionIndexOf(pod: { metadata?: ObjectMeta } | undefined): number | undefined {
  const v = pod?.metadata?.annotations?.[JOB_COMPLETION_INDEX] ?? pod?.metadata?.labels?.[JOB_COMPLETION_INDEX];
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}
