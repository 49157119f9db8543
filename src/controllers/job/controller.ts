// The Job controller (upstream pkg/controller/job): runs pods to completion — completions and
// parallelism, NonIndexed and Indexed completion modes, backoffLimit with an exponential
// back-off before failed pods are replaced, activeDeadlineSeconds, suspend — and tracks finished
// pods with the batch.kubernetes.io/job-tracking finalizer: a finished pod's UID goes to
// status.uncountedTerminatedPods, its finalizer is removed, then it is counted in
// succeeded/failed (and completedIndexes), so no pod is counted twice or lost. A Job that met its
// success (failure) criteria gets SuccessCriteriaMet (FailureTarget), its remaining pods are
// removed, then Complete (Failed).
import type { Job, JobSpec, JobStatus } from 'kubernetes-types/batch/v1.js';
import type { EnvVar, Pod, PodSpec, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, type Client, type ResourceClient } from '../../client/client.js';
import { ControllerRunner, type ReconcileResult } from '../../client/controller.js';
import { isConflict, isNotFound } from '../../client/errors.js';
import { EventRecorder } from '../../client/events.js';
import { keyOf, type SharedIndexInformer } from '../../client/informer.js';
import type { Stored } from '../../client/types.js';
import type { Controller, ControllerContext } from '../types.js';
import {
  Expectations,
  addControllerIndex,
  comparePodsForDeletion,
  controllerRefOf,
  isPodFailed,
  isPodFinished,
  isPodReady,
  isPodSucceeded,
  isPodTerminating,
  newControllerRef,
  ownedBy,
  parseTime,
  removeFinalizer,
} from '../statefulset/common.js';
import { slowStartBatch } from '../replicaset/podutil.js';
import {
  JOB_COMPLETION_INDEX,
  JOB_COMPLETION_INDEX_ENV,
  JOB_TRACKING_FINALIZER,
  backoffDelayMs,
  completionIndexOf,
  conditionTrue,
  formatIndexes,
  isJobFinished,
  jobCondition,
  parseIndexes,
  setCondition,
  DEFAULT_BACKOFF_MS,
  MAX_BACKOFF_MS,
} from './util.js';
import { rfc3339 } from '../../machinery/time.js';

export interface JobControllerOptions {
  workers?: number;
  now?: () => number;
  /** First delay before replacing a failed pod (upstream 10 s, doubling up to 6 min). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

type StoredPod = Stored<Pod>;

const hasFinalizer = (p: Pod) => (p.metadata?.finalizers ?? []).includes(JOB_TRACKING_FINALIZER);

interface BackoffRecord {
  failuresAfterLastSuccess: number;
  lastFailureAt: number;
}

/** Upstream's MaxPodCreateDeletePerSync: pods created or deleted by one sync of a Job, at most. */
export const MAX_POD_CREATE_DELETE_PER_SYNC = 500;

export class JobController implements Controller {
  readonly name = 'job';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly jobs: SharedIndexInformer<Job>;
  private readonly pods: SharedIndexInformer<Pod>;
  private readonly runner: ControllerRunner;
  private readonly recorder: EventRecorder;
  private readonly now: () => number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly backoff = new Map<string, BackoffRecord>();
  private readonly expectations = new Expectations();

  constructor(ctx: ControllerContext, opts: JobControllerOptions = {}) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'job' });
    this.now = opts.now ?? Date.now;
    this.backoffBaseMs = opts.backoffBaseMs ?? DEFAULT_BACKOFF_MS;
    this.backoffMaxMs = opts.backoffMaxMs ?? MAX_BACKOFF_MS;
    this.jobs = ctx.informers.forResource(R.jobs);
    this.pods = ctx.informers.forResource(R.pods);
    addControllerIndex(this.pods);
    this.recorder = new EventRecorder(this.client, { component: 'job-controller' }, this.log);
    this.runner = new ControllerRunner({
      name: 'job',
      workers: opts.workers ?? 5,
      reconcile: (k) => this.sync(k),
      logger: this.log,
    });
    this.jobs.addEventHandler({
      add: (j) => this.runner.enqueue(keyOf(j)),
      update: (_o, j) => this.runner.enqueue(keyOf(j)),
      delete: (j) => {
        this.runner.enqueue(keyOf(j));
        // Pods of a deleted Job must not keep their tracking finalizer.
        for (const p of ownedBy(this.pods, j.metadata.uid)) if (hasFinalizer(p)) this.releasePod(p);
      },
    });
    const onPod = (pod: StoredPod, deleted = false) => {
      const ref = controllerRefOf(pod);
      if (ref?.kind !== 'Job') {
        if (!ref && hasFinalizer(pod) && (isPodFinished(pod) || isPodTerminating(pod))) this.releasePod(pod);
        return;
      }
      const key = `${pod.metadata.namespace}/${ref.name}`;
      this.expectations.observe(key, pod, deleted);
      const job = this.jobs.store.get(key);
      if ((!job || job.metadata.uid !== ref.uid) && this.jobs.hasSynced()) {
        if (hasFinalizer(pod)) this.releasePod(pod);
        return;
      }
      this.runner.enqueue(key);
    };
    this.pods.addEventHandler({ add: (p) => onPod(p), update: (_o, p) => onPod(p), delete: (p) => onPod(p, true) });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  private podsClient(ns: string | undefined): ResourceClient<Pod> {
    return this.client.resource(R.pods).namespace(ns);
  }

  private releasePod(pod: StoredPod): void {
    void removeFinalizer(this.client.resource(R.pods), pod, JOB_TRACKING_FINALIZER).catch((err) =>
      this.log.debug({ err, pod: pod.metadata.name }, 'finalizer removal failed'),
    );
  }

  async sync(key: string): Promise<ReconcileResult | void> {
    const cached = this.jobs.store.get(key);
    if (!cached) {
      this.backoff.delete(key);
      this.expectations.forget(key);
      return;
    }
    const job = structuredClone(cached);
    const uid = job.metadata.uid;
    const now = this.now();
    const nowStr = rfc3339(now);
    const pods = ownedBy(this.pods, uid);
    const spec: Partial<JobSpec> = job.spec ?? {};
    const indexed = spec.completionMode === 'Indexed';
    const completions: number | undefined = spec.completions ?? undefined;
    const backoffLimit: number = spec.backoffLimit ?? 6;
    const suspended = spec.suspend === true;
    const status: JobStatus = structuredClone(job.status ?? {});
    const before = JSON.stringify(status);

    const finished = isJobFinished(job);
    if (finished || job.metadata.deletionTimestamp) {
      // Nothing to run any more: release every pod that is done or going away.
      const release = pods.filter((p) => hasFinalizer(p) && (finished || isPodFinished(p) || isPodTerminating(p)));
      await Promise.all(release.map((p) => removeFinalizer(this.client.resource(R.pods), p, JOB_TRACKING_FINALIZER)));
      return;
    }

    if (!status.startTime && !suspended) status.startTime = nowStr;

    // ---- count finished pods (finalizer tracking) ----
    const uncounted = {
      succeeded: [...(status.uncountedTerminatedPods?.succeeded ?? [])],
      failed: [...(status.uncountedTerminatedPods?.failed ?? [])],
    };
    const inUncounted = new Set([...uncounted.succeeded, ...uncounted.failed]);
    const completed = parseIndexes(status.completedIndexes, completions);
    let newSucceeded = 0;
    let newFailed = 0;
    const toRelease: StoredPod[] = [];
    const isFailed = (p: Pod) =>
      isPodFailed(p) ||
      (isPodTerminating(p) && !isPodSucceeded(p) && !suspended && spec.podReplacementPolicy !== 'Failed');
    for (const p of pods) {
      if (!hasFinalizer(p)) continue;
      const succeeded = isPodSucceeded(p);
      const failed = !succeeded && isFailed(p);
      if (!succeeded && !failed) {
        // Removed while the Job is suspended: not counted, but released.
        if (isPodTerminating(p) && suspended) toRelease.push(p);
        continue;
      }
      toRelease.push(p);
      if (inUncounted.has(p.metadata.uid)) continue;
      inUncounted.add(p.metadata.uid);
      if (succeeded) {
        if (indexed) {
          const ix = completionIndexOf(p);
          if (ix === undefined || ix >= (completions ?? 0) || completed.has(ix)) {
            // A duplicate or out-of-range success counts for nothing.
            continue;
          }
          completed.add(ix);
        }
        uncounted.succeeded.push(p.metadata.uid);
        newSucceeded++;
      } else {
        uncounted.failed.push(p.metadata.uid);
        newFailed++;
      }
    }
    if (indexed) status.completedIndexes = formatIndexes(completed);
    status.uncountedTerminatedPods = {
      ...(uncounted.succeeded.length ? { succeeded: uncounted.succeeded } : {}),
      ...(uncounted.failed.length ? { failed: uncounted.failed } : {}),
    };
    // Back-off bookkeeping (in memory, as upstream's podBackoffStore).
    if (newFailed || newSucceeded) {
      const rec = this.backoff.get(key) ?? { failuresAfterLastSuccess: 0, lastFailureAt: 0 };
      if (newSucceeded) rec.failuresAfterLastSuccess = 0;
      if (newFailed) {
        rec.failuresAfterLastSuccess += newFailed;
        rec.lastFailureAt = now;
      }
      this.backoff.set(key, rec);
    }
    let current = job;
    if (newSucceeded || newFailed) current = await this.writeStatus(current, status);
    // Remove the finalizers, then move what was released into the counters.
    const released = new Set<string>();
    await Promise.all(
      toRelease.map(async (p) => {
        try {
          await removeFinalizer(this.client.resource(R.pods), p, JOB_TRACKING_FINALIZER);
          released.add(p.metadata.uid);
        } catch (err) {
          this.log.debug({ err, pod: p.metadata.name }, 'finalizer removal failed');
        }
      }),
    );
    const stillTracked = new Map(
      pods.filter((p) => hasFinalizer(p) && !released.has(p.metadata.uid)).map((p) => [p.metadata.uid, p]),
    );
    const flush = (list: string[]) => {
      const keep: string[] = [];
      let moved = 0;
      for (const u of list) {
        if (stillTracked.has(u)) keep.push(u);
        else moved++;
      }
      return { keep, moved };
    };
    const s = flush(uncounted.succeeded);
    const f = flush(uncounted.failed);
    status.succeeded = (status.succeeded ?? 0) + s.moved;
    status.failed = (status.failed ?? 0) + f.moved;
    if (!status.succeeded) delete status.succeeded;
    if (!status.failed) delete status.failed;
    status.uncountedTerminatedPods = {
      ...(s.keep.length ? { succeeded: s.keep } : {}),
      ...(f.keep.length ? { failed: f.keep } : {}),
    };
    const succeeded = (status.succeeded ?? 0) + s.keep.length;
    const failed = (status.failed ?? 0) + f.keep.length;

    // ---- active pods ----
    let active = pods.filter((p) => !isPodFinished(p) && !isPodTerminating(p));
    const terminating = pods.filter((p) => isPodTerminating(p) && !isPodFinished(p)).length;

    // ---- failure and success criteria ----
    let requeueAfterMs: number | undefined;
    const wake = (ms: number) => (requeueAfterMs = requeueAfterMs === undefined ? ms : Math.min(requeueAfterMs, ms));
    const failureTarget = jobCondition({ status }, 'FailureTarget');
    const successTarget = jobCondition({ status }, 'SuccessCriteriaMet');
    let failure: { reason: string; message: string } | undefined =
      // This controller writes FailureTarget with a reason and a message.
      failureTarget?.status === 'True' ? { reason: failureTarget.reason!, message: failureTarget.message! } : undefined;
    if (!failure && !successTarget) {
      if (failed > backoffLimit && (newFailed > 0 || failed > 0)) {
        failure = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
      } else if (
        spec.activeDeadlineSeconds !== undefined &&
        spec.activeDeadlineSeconds !== null &&
        status.startTime &&
        !suspended
      ) {
        const deadline = (parseTime(status.startTime) ?? now) + spec.activeDeadlineSeconds * 1000;
        if (now >= deadline)
          failure = { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
        else wake(deadline - now + 10);
      }
      if (failure) {
        setCondition(status, 'FailureTarget', 'True', failure.reason, failure.message, nowStr);
        this.recorder.event(job, 'Warning', failure.reason, failure.message);
      }
    }
    let success = successTarget?.status === 'True';
    if (!failure && !success) {
      if (indexed) success = completed.size >= (completions ?? 0);
      else if (completions !== undefined) success = succeeded >= completions;
      else success = succeeded > 0 && active.length === 0;
      if (success)
        setCondition(
          status,
          'SuccessCriteriaMet',
          'True',
          'CompletionsReached',
          'Reached expected number of succeeded pods',
          nowStr,
        );
    }

    if (failure || success) {
      // Remove what still runs; the terminal condition comes once every pod is accounted for.
      await Promise.all(active.map((p) => this.deletePod(key, job, p)));
      active = [];
      const unaccounted =
        stillTracked.size > 0 ||
        (status.uncountedTerminatedPods.succeeded?.length ?? 0) > 0 ||
        (status.uncountedTerminatedPods.failed?.length ?? 0) > 0;
      if (!unaccounted) {
        if (failure) {
          setCondition(status, 'Failed', 'True', failure.reason, failure.message, nowStr);
        } else {
          setCondition(
            status,
            'Complete',
            'True',
            'CompletionsReached',
            'Reached expected number of succeeded pods',
            nowStr,
          );
          status.completionTime = nowStr;
          this.recorder.event(job, 'Normal', 'Completed', 'Job completed');
        }
      }
    } else if (suspended) {
      await Promise.all(active.map((p) => this.deletePod(key, job, p)));
      active = [];
      if (!conditionTrue({ status }, 'Suspended')) {
        setCondition(status, 'Suspended', 'True', 'JobSuspended', 'Job suspended', nowStr);
        this.recorder.event(job, 'Normal', 'Suspended', 'Job suspended');
      }
    } else {
      if (conditionTrue({ status }, 'Suspended')) {
        setCondition(status, 'Suspended', 'False', 'JobResumed', 'Job resumed', nowStr);
        status.startTime = nowStr;
        this.recorder.event(job, 'Normal', 'Resumed', 'Job resumed');
      }
      if (this.expectations.satisfied(key, pods)) {
        const r = await this.manage(key, job, active, completed, succeeded, now);
        active = r.active;
        if (r.requeueAfterMs !== undefined) wake(r.requeueAfterMs);
      }
    }

    status.active = active.length;
    if (!status.active) delete status.active;
    status.ready = active.filter(isPodReady).length;
    status.terminating = terminating;
    if (JSON.stringify(status) !== before) await this.writeStatus(current, status);
    if (requeueAfterMs !== undefined) return { requeueAfterMs };
  }

  /** Create or delete pods towards what the Job wants running now (upstream manageJob). */
  private async manage(
    key: string,
    job: Stored<Job>,
    active: StoredPod[],
    completed: Set<number>,
    succeeded: number,
    now: number,
  ): Promise<{ active: StoredPod[]; requeueAfterMs?: number }> {
    const spec: Partial<JobSpec> = job.spec ?? {};
    const parallelism: number = spec.parallelism ?? 1;
    const completions: number | undefined = spec.completions ?? undefined;
    const indexed = spec.completionMode === 'Indexed';
    const toDelete: StoredPod[] = [];
    let keep = [...active];
    if (indexed) {
      // Pods without a valid index, for a completed index, or duplicates go.
      const seen = new Set<number>();
      keep = [];
      for (const p of [...active].sort((a, b) => comparePodsForDeletion(b, a))) {
        const ix = completionIndexOf(p);
        if (ix === undefined || ix >= (completions ?? 0) || completed.has(ix) || seen.has(ix)) toDelete.push(p);
        else {
          seen.add(ix);
          keep.push(p);
        }
      }
    }
    let wantActive: number;
    if (indexed) wantActive = Math.min(parallelism, (completions ?? 0) - completed.size);
    else if (completions !== undefined) wantActive = Math.max(0, Math.min(parallelism, completions - succeeded));
    else wantActive = succeeded > 0 ? Math.min(keep.length, parallelism) : parallelism;
    if (keep.length > wantActive) {
      const sorted = [...keep].sort(comparePodsForDeletion);
      const excess = sorted.slice(0, keep.length - wantActive);
      toDelete.push(...excess);
      keep = keep.filter((p) => !excess.includes(p));
    }
    // Upstream MaxPodCreateDeletePerSync: a huge (valid) parallelism makes bounded progress per sync.
    if (toDelete.length > MAX_POD_CREATE_DELETE_PER_SYNC) toDelete.length = MAX_POD_CREATE_DELETE_PER_SYNC;
    await Promise.all(toDelete.map((p) => this.deletePod(key, job, p)));
    let diff = Math.min(wantActive - keep.length, MAX_POD_CREATE_DELETE_PER_SYNC);
    let requeueAfterMs: number | undefined;
    if (diff > 0) {
      const rec = this.backoff.get(key);
      const delay = rec ? backoffDelayMs(rec.failuresAfterLastSuccess, this.backoffBaseMs, this.backoffMaxMs) : 0;
      const remaining = rec && delay ? rec.lastFailureAt + delay - now : 0;
      if (remaining > 0) {
        requeueAfterMs = remaining + 10;
        diff = 0;
      }
    }
    if (diff > 0) {
      const indexes: (number | undefined)[] = [];
      if (indexed) {
        const running = new Set(keep.map(completionIndexOf));
        for (let i = 0; i < (completions ?? 0) && indexes.length < diff; i++)
          if (!completed.has(i) && !running.has(i)) indexes.push(i);
      } else {
        for (let i = 0; i < diff; i++) indexes.push(undefined);
      }
      // Batches of 1, 2, 4, ...: a template the API refuses fails once, not `diff` times.
      let next = 0;
      const { error } = await slowStartBatch(indexes.length, 1, async () => {
        const created = await this.createPod(key, job, indexes[next++]);
        if (created) keep.push(created);
      });
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows the caught value unchanged
      if (error) throw error;
    }
    return { active: keep, requeueAfterMs };
  }

  private async createPod(key: string, job: Stored<Job>, index: number | undefined): Promise<StoredPod> {
    const tpl: PodTemplateSpec = structuredClone(job.spec?.template ?? {});
    // Validation requires a template spec; the empty one only stands in for a malformed object.
    const spec = tpl.spec ?? ({} as PodSpec);
    const labels: Record<string, string> = { ...(tpl.metadata?.labels ?? {}) };
    const annotations: Record<string, string> = { ...(tpl.metadata?.annotations ?? {}) };
    let generateName = `${job.metadata.name}-`;
    if (index !== undefined) {
      labels[JOB_COMPLETION_INDEX] = String(index);
      annotations[JOB_COMPLETION_INDEX] = String(index);
      generateName = `${job.metadata.name}-${index}-`;
      if (!spec.hostname) spec.hostname = `${job.metadata.name}-${index}`;
      const env: EnvVar = {
        name: JOB_COMPLETION_INDEX_ENV,
        valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${JOB_COMPLETION_INDEX}']` } },
      };
      for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
        const list = (c.env ??= []);
        if (!list.some((e) => e.name === JOB_COMPLETION_INDEX_ENV)) list.push(env);
      }
    }
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName,
        namespace: job.metadata.namespace,
        labels,
        ...(Object.keys(annotations).length ? { annotations } : {}),
        finalizers: [...(tpl.metadata?.finalizers ?? []), JOB_TRACKING_FINALIZER],
        ownerReferences: [newControllerRef(job, 'batch/v1', 'Job')],
      },
      spec,
    };
    try {
      const created = await this.podsClient(job.metadata.namespace).create(pod);
      this.expectations.expectCreate(key, created.metadata.name);
      this.recorder.event(job, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
      return created;
    } catch (err) {
      this.recorder.event(job, 'Warning', 'FailedCreate', `Error creating: ${(err as Error).message}`);
      throw err;
    }
  }

  private async deletePod(key: string, job: Stored<Job>, pod: StoredPod): Promise<void> {
    try {
      await this.podsClient(job.metadata.namespace).delete(pod.metadata.name, {
        preconditions: { uid: pod.metadata.uid },
      });
      this.expectations.expectDelete(key, pod.metadata.uid);
      this.recorder.event(job, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return;
      this.recorder.event(job, 'Warning', 'FailedDelete', `Error deleting: ${(err as Error).message}`);
      throw err;
    }
  }

  private async writeStatus(job: Stored<Job>, status: JobStatus): Promise<Stored<Job>> {
    return this.client
      .resource(R.jobs)
      .namespace(job.metadata.namespace)
      .updateStatus({ ...job, status });
  }
}
