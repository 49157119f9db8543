// batch/v1 CronJob, with a cron-expression checker that reports robfig/cron's messages (the
// parser upstream uses) so `kubectl create` users see the same errors.
import type { ResourceDef } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  invalid,
  notSupported,
  path,
  required,
} from '../../../machinery/fielderrors.js';
import { validateAnnotations, validateLabels, validateNonnegative } from '../../../machinery/validation.js';
import { cronJobColumns } from './tables.js';
import { clearStatus, defaultTemplate, ensure, isObject } from '../../apps/v1/workload.js';
import { validateJobSpec } from './job.js';
import { parseGoDuration } from '../../../machinery/duration.js';

/** One cron field's range, and the names it accepts (months, days of the week). */
export interface CronFieldBounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const MONTHS: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
};
const DAYS: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
/** minute, hour, day of month, month, day of week: what the parser and the scheduler share. */
export const CRON_FIELD_BOUNDS: CronFieldBounds[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS },
  { min: 0, max: 6, names: DAYS },
];
const DESCRIPTORS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/** Go's strconv.Atoi, with its error text. */
function atoi(s: string): number {
  if (!/^[+-]?[0-9]+$/.test(s)) throw new Error(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number.parseInt(s, 10);
  if (!Number.isSafeInteger(n) || Math.abs(n) > 9223372036854775807n)
    throw new Error(`strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`);
  return n;
}

function mustParseInt(expr: string): number {
  let n: number;
  try {
    n = atoi(expr);
  } catch (e) {
    throw new Error(`failed to parse int from ${expr}: ${(e as Error).message}`, { cause: e });
  }
  if (n < 0) throw new Error(`negative number (${n}) not allowed: ${expr}`);
  return n;
}

function parseIntOrName(expr: string, names?: Record<string, number>): number {
  if (names) {
    const v = names[expr.toLowerCase()];
    if (v !== undefined) return v;
  }
  return mustParseInt(expr);
}

function checkRange(expr: string, r: CronFieldBounds): void {
  const rangeAndStep = expr.split('/');
  const lowAndHigh = rangeAndStep[0].split('-');
  const single = lowAndHigh.length === 1;
  let start: number;
  let end: number;
  if (lowAndHigh[0] === '*' || lowAndHigh[0] === '?') {
    start = r.min;
    end = r.max;
  } else {
    start = parseIntOrName(lowAndHigh[0], r.names);
    if (lowAndHigh.length === 1) end = start;
    else if (lowAndHigh.length === 2) end = parseIntOrName(lowAndHigh[1], r.names);
    else throw new Error(`too many hyphens: ${expr}`);
  }
  let step = 1;
  if (rangeAndStep.length === 2) {
    step = mustParseInt(rangeAndStep[1]);
    if (single) end = r.max;
  } else if (rangeAndStep.length > 2) {
    throw new Error(`too many slashes: ${expr}`);
  }
  if (start < r.min) throw new Error(`beginning of range (${start}) below minimum (${r.min}): ${expr}`);
  if (end > r.max) throw new Error(`end of range (${end}) above maximum (${r.max}): ${expr}`);
  if (start > end) throw new Error(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new Error(`step of range should be a positive number: ${expr}`);
}

function validTimeZoneName(tz: string): string | undefined {
  if (tz === 'UTC' || tz === '') return undefined;
  if (tz.toLowerCase() === 'local') return undefined;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return undefined;
  } catch {
    return `unknown time zone ${tz}`;
  }
}

/** robfig/cron's ParseStandard: throws Error with its message when the spec is not valid. */
export function parseCronSchedule(spec: string): void {
  if (spec.length === 0) throw new Error('empty spec string');
  if (spec.startsWith('TZ=') || spec.startsWith('CRON_TZ=')) {
    const i = spec.search(/\s/);
    const eq = spec.indexOf('=');
    const loc = i < 0 ? spec.slice(eq + 1) : spec.slice(eq + 1, i);
    const err = validTimeZoneName(loc);
    if (err) throw new Error(`provided bad location ${loc}: ${err}`);
    spec = i < 0 ? '' : spec.slice(i).trim();
  }
  if (spec.startsWith('@')) {
    if (spec.startsWith('@every ')) {
      const d = spec.slice('@every '.length);
      try {
        parseGoDuration(d);
      } catch (e) {
        throw new Error(`failed to parse duration ${spec}: ${(e as Error).message}`, { cause: e });
      }
      return;
    }
    if (!DESCRIPTORS.has(spec)) throw new Error(`unrecognized descriptor: ${spec}`);
    return;
  }
  const fields = spec.split(/\s+/).filter((f) => f.length > 0);
  if (fields.length !== 5) throw new Error(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`);
  fields.forEach((field, i) => {
    for (const part of field.split(',').filter((x) => x.length > 0)) checkRange(part, CRON_FIELD_BOUNDS[i]);
  });
}

function validateScheduleFormat(
  schedule: string,
  allowTZInSchedule: boolean | undefined,
  timeZone: unknown,
  p: FieldPath,
): FieldError[] {
  const errs: FieldError[] = [];
  try {
    parseCronSchedule(schedule);
  } catch (e) {
    errs.push(invalid(p, schedule, (e as Error).message));
  }
  errs.push(...validateScheduleTZ(schedule, allowTZInSchedule, timeZone, p));
  return errs;
}

/** The TZ rules; `allowTZInSchedule` undefined skips them (checked later, knowing the old object). */
function validateScheduleTZ(
  schedule: string,
  allowTZInSchedule: boolean | undefined,
  timeZone: unknown,
  p: FieldPath,
): FieldError[] {
  const errs: FieldError[] = [];
  if (allowTZInSchedule === undefined) return errs;
  if (allowTZInSchedule && schedule.includes('TZ') && timeZone !== undefined && timeZone !== null) {
    errs.push(invalid(p, schedule, 'cannot use both timeZone field and TZ or CRON_TZ in schedule'));
  } else if (!allowTZInSchedule && schedule.includes('TZ')) {
    errs.push(invalid(p, schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
  }
  return errs;
}

const TZ_PART_RE = /^[A-Za-z.\-_0-9+]{1,14}$/;

export function validateTimeZone(tz: unknown, p: FieldPath): FieldError[] {
  if (tz === undefined || tz === null) return [];
  if (typeof tz !== 'string' || tz.length === 0) return [invalid(p, tz, 'timeZone must be nil or non-empty string')];
  for (const part of tz.split('/')) {
    if (part === '.' || part === '..' || part.startsWith('-') || !TZ_PART_RE.test(part))
      return [invalid(p, tz, `unknown time zone ${tz}`)];
  }
  const errs: FieldError[] = [];
  if (tz.toLowerCase() === 'local') {
    errs.push(invalid(p, tz, 'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones'));
    return errs;
  }
  const err = validTimeZoneName(tz);
  if (err) errs.push(invalid(p, tz, err));
  return errs;
}

const CONCURRENCY = ['Allow', 'Forbid', 'Replace'];

export function defaultCronJob(obj: any): void {
  const spec = ensure(obj, 'spec');
  if (!spec.concurrencyPolicy) spec.concurrencyPolicy = 'Allow';
  if (spec.suspend === undefined || spec.suspend === null) spec.suspend = false;
  if (spec.successfulJobsHistoryLimit === undefined || spec.successfulJobsHistoryLimit === null)
    spec.successfulJobsHistoryLimit = 3;
  if (spec.failedJobsHistoryLimit === undefined || spec.failedJobsHistoryLimit === null)
    spec.failedJobsHistoryLimit = 1;
  const jt = ensure(spec, 'jobTemplate');
  defaultTemplate(ensure(jt, 'spec'));
}

export function validateCronJobSpec(spec: any, p: FieldPath, allowTZInSchedule: boolean | undefined): FieldError[] {
  if (!isObject(spec)) return [required(p)];
  const errs: FieldError[] = [];
  if (typeof spec.schedule !== 'string' || spec.schedule.length === 0) errs.push(required(p.child('schedule')));
  else errs.push(...validateScheduleFormat(spec.schedule, allowTZInSchedule, spec.timeZone, p.child('schedule')));
  errs.push(...validateTimeZone(spec.timeZone, p.child('timeZone')));
  errs.push(...validateNonnegative(spec.startingDeadlineSeconds, p.child('startingDeadlineSeconds')));
  if (!spec.concurrencyPolicy) errs.push(required(p.child('concurrencyPolicy')));
  else if (!CONCURRENCY.includes(spec.concurrencyPolicy))
    errs.push(notSupported(p.child('concurrencyPolicy'), spec.concurrencyPolicy, CONCURRENCY));
  errs.push(...validateNonnegative(spec.successfulJobsHistoryLimit, p.child('successfulJobsHistoryLimit')));
  errs.push(...validateNonnegative(spec.failedJobsHistoryLimit, p.child('failedJobsHistoryLimit')));
  const jt = spec.jobTemplate;
  const jp = p.child('jobTemplate');
  if (!isObject(jt)) {
    errs.push(required(jp));
  } else {
    errs.push(...validateLabels(jt.metadata?.labels, jp.child('metadata', 'labels')));
    errs.push(...validateAnnotations(jt.metadata?.annotations, jp.child('metadata', 'annotations')));
    errs.push(...validateJobSpec(jt.spec, jp.child('spec'), { template: true }));
    if (jt.spec?.manualSelector === true)
      errs.push(notSupported(jp.child('spec', 'manualSelector'), true, ['nil', 'false']));
  }
  return errs;
}

export function validateCronJob(obj: any): FieldError[] {
  const errs: FieldError[] = [];
  const name: string = obj.metadata?.name ?? '';
  // The Jobs it creates are named <name>-<11 chars>, and must be DNS-1035 labels' length.
  if (name.length > 52) errs.push(invalid(path('metadata', 'name'), name, 'must be no more than 52 characters'));
  errs.push(...validateCronJobSpec(obj.spec, path('spec'), false));
  return errs;
}

/** On update a TZ= in the schedule stays allowed when the old schedule had one (validate() skipped it). */
export function validateCronJobUpdate(obj: any, old: any): FieldError[] {
  const schedule = obj.spec?.schedule;
  if (typeof schedule !== 'string' || schedule.length === 0) return [];
  const oldSchedule: string = old.spec?.schedule ?? '';
  return validateScheduleTZ(schedule, oldSchedule.includes('TZ'), obj.spec?.timeZone, path('spec', 'schedule'));
}

export const cronJobResource: ResourceDef = {
  group: 'batch',
  versions: [{ name: 'v1' }],
  kind: 'CronJob',
  plural: 'cronjobs',
  singular: 'cronjob',
  shortNames: ['cj'],
  categories: ['all'],
  namespaced: true,
  subresources: { status: true },
  generationTracksSpec: true,
  defaults: defaultCronJob,
  prepareForCreate: clearStatus,
  validate(obj, ctx) {
    // Upstream skips the 52-character name limit on update, so old long-named CronJobs stay editable.
    if (ctx?.operation === 'update') return validateCronJobSpec(obj.spec, path('spec'), undefined);
    return validateCronJob(obj);
  },
  validateUpdate: validateCronJobUpdate,
  table: cronJobColumns,
};
