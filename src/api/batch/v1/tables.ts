// Server-side printer columns (kubectl get) for batch/v1, matching upstream's printers.
import type { CronJob, Job, JobCondition } from 'kubernetes-types/batch/v1.js';
import type { TableColumn } from '../../types.js';
import { age, humanDuration } from '../../../machinery/duration.js';
import { NONE, ageColumn, boolPtr, containerColumns, labelSelectorColumn, nameColumn } from '../../printing.js';

/** Whether the first condition of the type has status True (upstream hasJobCondition). */
function hasCondition(conditions: readonly JobCondition[] | undefined, type: string): boolean {
  const c = (conditions ?? []).find((x) => x.type === type);
  return c?.status === 'True';
}

/** The STATUS cell of a job. */
export function jobStatus(job: Job): string {
  const conds = job.status?.conditions;
  if (hasCondition(conds, 'Complete')) return 'Complete';
  if (hasCondition(conds, 'Failed')) return 'Failed';
  if (job.metadata?.deletionTimestamp) return 'Terminating';
  if (hasCondition(conds, 'Suspended')) return 'Suspended';
  if (hasCondition(conds, 'FailureTarget')) return 'FailureTarget';
  return 'Running';
}

/** The COMPLETIONS cell: `1/3`, or `0/1 of 4` for a work queue job with parallelism. */
export function jobCompletions(job: Job): string {
  const succeeded = job.status?.succeeded ?? 0;
  if (job.spec?.completions !== undefined && job.spec.completions !== null)
    return `${succeeded}/${job.spec.completions}`;
  const parallelism = job.spec?.parallelism ?? 0;
  return parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

/** The DURATION cell: empty before start, running time so far, or start to completion. */
export function jobDuration(job: Job, now: number): string {
  const start = job.status?.startTime;
  if (!start) return '';
  const end = job.status?.completionTime;
  if (!end) return age(start, now);
  return humanDuration(Date.parse(end) - Date.parse(start));
}

export const jobColumns: TableColumn[] = [
  nameColumn(),
  { name: 'Status', type: 'string', description: 'Status of the job.', cell: (o: Job) => jobStatus(o) },
  {
    name: 'Completions',
    type: 'string',
    description: 'Succeeded pods out of the required completions.',
    cell: (o: Job) => jobCompletions(o),
  },
  {
    name: 'Duration',
    type: 'string',
    description: 'How long the job ran (or has been running).',
    cell: (o: Job, now) => jobDuration(o, now),
  },
  ageColumn(),
  ...containerColumns((o: Job) => o.spec?.template?.spec?.containers),
  labelSelectorColumn((o: Job) => o.spec?.selector, 'Label query over the pods of the job.'),
];

export const cronJobColumns: TableColumn[] = [
  nameColumn(),
  { name: 'Schedule', type: 'string', description: 'The cron schedule.', cell: (o: CronJob) => o.spec?.schedule ?? '' },
  {
    name: 'Timezone',
    type: 'string',
    description: 'Time zone of the schedule.',
    cell: (o: CronJob) => o.spec?.timeZone ?? NONE,
  },
  {
    name: 'Suspend',
    type: 'boolean',
    description: 'Whether new runs are suspended.',
    cell: (o: CronJob) => boolPtr(o.spec?.suspend),
  },
  {
    name: 'Active',
    type: 'integer',
    description: 'Number of running jobs.',
    cell: (o: CronJob) => (o.status?.active ?? []).length,
  },
  {
    name: 'Last Schedule',
    type: 'string',
    description: 'Time since a job was last scheduled.',
    cell: (o: CronJob, now) => (o.status?.lastScheduleTime ? age(o.status.lastScheduleTime, now) : NONE),
  },
  ageColumn(),
  ...containerColumns((o: CronJob) => o.spec?.jobTemplate?.spec?.template?.spec?.containers),
  labelSelectorColumn((o: CronJob) => o.spec?.jobTemplate?.spec?.selector, 'Label query over the pods of the jobs.'),
];
