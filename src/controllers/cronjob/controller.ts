// The CronJob controller (upstream pkg/controller/cronjob, the v2 controller): creates a Job
// named <cronjob>-<scheduled time in minutes> for each scheduled time, in the CronJob's time zone,
// honouring suspend, startingDeadlineSeconds (and the "too many missed start times" rule),
// concurrencyPolicy Allow/Forbid/Replace and the history limits; keeps status.active,
// lastScheduleTime and lastSuccessfulTime; records upstream's events. The clock is injectable.
import type { CronJob, CronJobSpec, CronJobStatus, Job, JobSpec, JobTemplateSpec } from 'kubernetes-types/batch/v1.js';
import type { ObjectReference } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta, OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../../client/client.js';
import { ControllerRunner, type ReconcileResult } from '../../client/controller.js';
import { isAlreadyExists, isNotFound } from '../../client/errors.js';
import { EventRecorder } from '../../client/events.js';
import { keyOf, type SharedIndexInformer } from '../../client/informer.js';
import type { Stored } from '../../client/types.js';
import type { Controller, ControllerContext } from '../types.js';
import { addControllerIndex, controllerRefOf, newControllerRef, ownedBy, parseTime } from '../statefulset/common.js';
import { isJobFinished } from '../job/util.js';
import { formatRFC3339In, mostRecentScheduleTime, parseSchedule } from './schedule.js';
import { rfc3339 } from '../../machinery/time.js';

export const CRONJOB_SCHEDULED_TIMESTAMP = 'batch.kubernetes.io/cronjob-scheduled-timestamp';

export interface CronJobControllerOptions {
  workers?: number;
  now?: () => number;
}

/** Job name for a scheduled time: <cronjob>-<minutes since the epoch>. */
export const jobNameFor = (cronJobName: string, scheduled: number): string =>
  `${cronJobName}-${Math.floor(scheduled / 60_000)}`;

/** A Job made from a CronJob's template: the metadata this controller always sets. */
export type TemplatedJob = Job & {
  metadata: ObjectMeta & {
    name: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences: OwnerReference[];
  };
};

/** Upstream getJobFromTemplate2. */
export function jobFromTemplate(
  cj: { metadata: ObjectMeta & { name: string; uid: string }; spec?: Partial<CronJobSpec> },
  scheduled: number,
  tz: string,
): TemplatedJob {
  const tpl: JobTemplateSpec = structuredClone(cj.spec?.jobTemplate ?? {});
  const annotations = {
    ...(tpl.metadata?.annotations ?? {}),
    [CRONJOB_SCHEDULED_TIMESTAMP]: formatRFC3339In(scheduled, tz),
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobNameFor(cj.metadata.name, scheduled),
      namespace: cj.metadata.namespace,
      labels: { ...(tpl.metadata?.labels ?? {}) },
      annotations,
      ownerReferences: [newControllerRef(cj, 'batch/v1', 'CronJob')],
    },
    // Validation requires the job template's spec; the empty one only stands in for a malformed object.
    spec: tpl.spec ?? ({} as JobSpec),
  };
}

const jobRef = (j: Stored<Job>): ObjectReference => ({
  kind: 'Job',
  namespace: j.metadata.namespace,
  name: j.metadata.name,
  uid: j.metadata.uid,
  apiVersion: 'batch/v1',
  resourceVersion: j.metadata.resourceVersion,
});

export class CronJobController implements Controller {
  readonly name = 'cronjob';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly cronjobs: SharedIndexInformer<CronJob>;
  private readonly jobs: SharedIndexInformer<Job>;
  private readonly runner: ControllerRunner;
  private readonly recorder: EventRecorder;
  private readonly now: () => number;

  constructor(ctx: ControllerContext, opts: CronJobControllerOptions = {}) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'cronjob' });
    this.now = opts.now ?? Date.now;
    this.cronjobs = ctx.informers.forResource(R.cronjobs);
    this.jobs = ctx.informers.forResource(R.jobs);
    addControllerIndex(this.jobs);
    this.recorder = new EventRecorder(this.client, { component: 'cronjob-controller' }, this.log);
    this.runner = new ControllerRunner({
      name: 'cronjob',
      workers: opts.workers ?? 5,
      reconcile: (k) => this.sync(k),
      logger: this.log,
    });
    const enqueue = (cj: Stored<CronJob>) => this.runner.enqueue(keyOf(cj));
    this.cronjobs.addEventHandler({ add: enqueue, update: (_o, cj) => enqueue(cj), delete: enqueue });
    const onJob = (j: Stored<Job>) => {
      const ref = controllerRefOf(j);
      if (ref?.kind === 'CronJob') this.runner.enqueue(`${j.metadata.namespace}/${ref.name}`);
    };
    this.jobs.addEventHandler({ add: onJob, update: (_o, j) => onJob(j), delete: onJob });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  async sync(key: string): Promise<ReconcileResult | void> {
    const cached = this.cronjobs.store.get(key);
    if (!cached) return;
    let cj = structuredClone(cached);
    if (cj.metadata.deletionTimestamp) return;
    const ns = cj.metadata.namespace;
    const jobsClient = this.client.resource(R.jobs).namespace(ns);
    const jobs = ownedBy(this.jobs, cj.metadata.uid);
    const status: CronJobStatus = structuredClone(cj.status ?? {});
    const before = JSON.stringify(status);
    const active: ObjectReference[] = [...(status.active ?? [])];
    const inActive = (uid: string | undefined) => active.some((r) => r.uid === uid);

    // Reconcile status.active with the Jobs that exist.
    const children = new Set<string>();
    for (const j of jobs) {
      children.add(j.metadata.uid);
      const found = inActive(j.metadata.uid);
      const finished = isJobFinished(j);
      if (!found && !finished) {
        const scheduledAt = j.metadata.annotations?.[CRONJOB_SCHEDULED_TIMESTAMP];
        if (scheduledAt && j.metadata.name === jobNameFor(cj.metadata.name, Date.parse(scheduledAt))) {
          // Ours but not recorded yet (e.g. a status write was lost): track it.
          active.push(jobRef(j));
        } else {
          this.recorder.event(
            cj,
            'Warning',
            'UnexpectedJob',
            `Saw a job that the controller did not create or forgot: ${j.metadata.name}`,
          );
        }
      } else if (found && finished) {
        active.splice(
          active.findIndex((r) => r.uid === j.metadata.uid),
          1,
        );
        this.recorder.event(
          cj,
          'Normal',
          'SawCompletedJob',
          `Saw completed job: ${j.metadata.name}, status: ${finished}`,
        );
      }
      if (finished === 'Complete') {
        const done = parseTime(j.status?.completionTime);
        if (done !== undefined && (!status.lastSuccessfulTime || done > (parseTime(status.lastSuccessfulTime) ?? 0)))
          status.lastSuccessfulTime = rfc3339(done);
      }
    }
    // Active entries whose Job is gone (checked against the API, not just the cache).
    for (const r of [...active]) {
      if (children.has(r.uid ?? '')) continue;
      try {
        const j = await jobsClient.get(r.name ?? '');
        if (j.metadata?.uid === r.uid) continue;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      active.splice(active.indexOf(r), 1);
    }
    status.active = active.length ? active : undefined;
    if (!status.active) delete status.active;

    await this.cleanupHistory(cj, jobs);

    const flush = async () => {
      if (JSON.stringify(status) === before) return;
      try {
        cj = await this.client
          .resource(R.cronjobs)
          .namespace(ns)
          .updateStatus({ ...cj, status });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    };

    if (cj.spec?.suspend) {
      await flush();
      return;
    }
    let sched;
    try {
      sched = parseSchedule(cj.spec?.schedule ?? '', cj.spec?.timeZone);
    } catch (err) {
      this.recorder.event(
        cj,
        'Warning',
        'UnparseableSchedule',
        `unparseable schedule: ${JSON.stringify(cj.spec?.schedule)} : ${(err as Error).message}`,
      );
      await flush();
      return;
    }
    const now = this.now();
    const next = () => {
      const t = sched.next(now);
      return Number.isFinite(t) ? { requeueAfterMs: Math.max(0, t - now) + 100 } : undefined;
    };
    let earliest = parseTime(status.lastScheduleTime) ?? parseTime(cj.metadata.creationTimestamp) ?? now;
    const sds = cj.spec?.startingDeadlineSeconds;
    if (sds !== undefined && sds !== null) earliest = Math.max(earliest, now - sds * 1000);
    const recent = earliest > now ? { missed: 0, tooMany: false } : mostRecentScheduleTime(sched, earliest, now);
    if (recent.tooMany) {
      this.recorder.event(
        cj,
        'Warning',
        'TooManyMissedTimes',
        `too many missed start times: ${recent.missed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew`,
      );
    }
    if (recent.time === undefined) {
      await flush();
      return next();
    }
    const scheduled = recent.time;
    if (sds !== undefined && sds !== null && scheduled + sds * 1000 < now) {
      this.recorder.event(
        cj,
        'Warning',
        'MissSchedule',
        `Missed scheduled time to start a job: ${formatRFC3339In(scheduled, sched.timeZone)}`,
      );
      await flush();
      return next();
    }
    const name = jobNameFor(cj.metadata.name, scheduled);
    if (
      active.some((r) => r.name === name) ||
      (status.lastScheduleTime && parseTime(status.lastScheduleTime)! >= scheduled)
    ) {
      await flush();
      return next();
    }
    const policy = cj.spec?.concurrencyPolicy ?? 'Allow';
    if (policy === 'Forbid' && active.length > 0) {
      // Not recorded as scheduled: it may still start later, within the starting deadline.
      this.recorder.event(
        cj,
        'Normal',
        'JobAlreadyActive',
        'Not starting job because prior execution is running and concurrency policy is Forbid',
      );
      await flush();
      return next();
    }
    if (policy === 'Replace') {
      for (const r of [...active]) {
        try {
          await jobsClient.delete(r.name ?? '', { propagationPolicy: 'Background', preconditions: { uid: r.uid } });
          this.recorder.event(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${r.name}`);
        } catch (err) {
          if (!isNotFound(err)) {
            this.recorder.event(cj, 'Warning', 'FailedDelete', `Deleted job: ${(err as Error).message}`);
            throw err;
          }
        }
        active.splice(active.indexOf(r), 1);
      }
      status.active = active.length ? active : undefined;
      if (!status.active) delete status.active;
    }
    const job = jobFromTemplate(cj, scheduled, sched.timeZone);
    let created: Stored<Job> | undefined;
    try {
      created = await jobsClient.create(job);
      this.recorder.event(cj, 'Normal', 'SuccessfulCreate', `Created job ${created.metadata.name}`);
    } catch (err) {
      if (!isAlreadyExists(err)) {
        this.recorder.event(cj, 'Warning', 'FailedCreate', `Error creating job: ${(err as Error).message}`);
        throw err;
      }
      const existing = await jobsClient.get(job.metadata.name);
      if (controllerRefOf(existing)?.uid === cj.metadata.uid && !isJobFinished(existing)) created = existing;
    }
    const createdUid = created?.metadata.uid;
    if (created && !active.some((r) => r.uid === createdUid)) active.push(jobRef(created));
    status.active = active.length ? active : undefined;
    if (!status.active) delete status.active;
    status.lastScheduleTime = rfc3339(scheduled);
    await flush();
    return next();
  }

  /** Delete the oldest finished Jobs beyond the history limits. */
  private async cleanupHistory(cj: Stored<CronJob>, jobs: Stored<Job>[]): Promise<void> {
    const limits: [string, number | undefined][] = [
      ['Complete', cj.spec?.successfulJobsHistoryLimit],
      ['Failed', cj.spec?.failedJobsHistoryLimit],
    ];
    const started = (j: Job) => parseTime(j.status?.startTime) ?? parseTime(j.metadata?.creationTimestamp) ?? 0;
    for (const [kind, limit] of limits) {
      if (limit === undefined || limit === null) continue;
      const done = jobs
        .filter((j) => isJobFinished(j) === kind && !j.metadata.deletionTimestamp)
        .sort((a, b) => started(a) - started(b));
      for (const j of done.slice(0, Math.max(0, done.length - limit))) {
        try {
          await this.client
            .resource(R.jobs)
            .namespace(j.metadata.namespace)
            .delete(j.metadata.name, { propagationPolicy: 'Background', preconditions: { uid: j.metadata.uid } });
          this.recorder.event(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${j.metadata.name}`);
        } catch (err) {
          if (!isNotFound(err)) this.log.debug({ err, job: j.metadata.name }, 'history cleanup failed');
        }
      }
    }
  }
}
