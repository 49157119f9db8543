// Cron schedules as robfig/cron (the parser upstream CronJobs use) reads them: five fields
// (minute hour day-of-month month day-of-week) with names, ranges, steps and lists, the
// @descriptors and @every, CRON_TZ=/TZ= prefixes; day-of-month and day-of-week are ORed when
// both are restricted. next(t) works on wall-clock time in the schedule's time zone.
import { CRON_FIELD_BOUNDS, parseCronSchedule, type CronFieldBounds } from '../../api/batch/v1/cronjob.js';

const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

export interface Schedule {
  /** The first activation strictly after `t` (ms since epoch). */
  next(t: number): number;
  readonly timeZone: string;
}

interface Field {
  values: Set<number>;
  star: boolean;
}

function parseField(expr: string, b: CronFieldBounds): Field {
  const values = new Set<number>();
  let star = false;
  for (const part of expr.split(',')) {
    const [range, stepStr] = part.split('/');
    const val = (s: string) => {
      const named = b.names?.[s.toLowerCase()];
      return named !== undefined ? named : Number.parseInt(s, 10);
    };
    let lo: number;
    let hi: number;
    let partStar = false;
    if (range === '*' || range === '?') {
      lo = b.min;
      hi = b.max;
      partStar = true;
    } else {
      const [a, c] = range.split('-');
      lo = val(a);
      hi = c !== undefined ? val(c) : lo;
    }
    let step = 1;
    if (stepStr !== undefined) {
      step = Number.parseInt(stepStr, 10);
      if (!range.includes('-') && !partStar) hi = b.max;
      if (step > 1) partStar = false;
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
    if (partStar) star = true;
  }
  return { values, star };
}

// ---- time zones ----

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall-clock time of instant `t` in `tz`, as a "naive" UTC timestamp. */
export function wallClock(t: number, tz: string): number {
  if (tz === 'UTC') return t;
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(t))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const ms = ((t % 1000) + 1000) % 1000;
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour % 24, parts.minute, parts.second, ms);
}

/** Offset of `tz` from UTC at instant `t`, in ms. */
export const tzOffset = (t: number, tz: string): number => wallClock(t, tz) - t;

/** The instant of a naive wall-clock time in `tz` (a time in a DST gap moves forward, as Go's time.Date). */
export function fromWallClock(wall: number, tz: string): number {
  if (tz === 'UTC') return wall;
  let t = wall - tzOffset(wall, tz);
  const o2 = tzOffset(t, tz);
  t = wall - o2;
  if (wallClock(t, tz) !== wall) {
    // In a gap: Go normalises using the offset before the transition, landing after it.
    t = wall - tzOffset(t - 3600_000 * 3, tz);
  }
  return t;
}

/** Parse a schedule; `timeZone` is spec.timeZone (a CRON_TZ=/TZ= prefix wins over none). */
export function parseSchedule(spec: string, timeZone?: string | null): Schedule {
  parseCronSchedule(spec); // robfig's errors
  let tz = timeZone || 'UTC';
  let s = spec.trim();
  if (s.startsWith('TZ=') || s.startsWith('CRON_TZ=')) {
    const i = s.search(/\s/);
    tz = s.slice(s.indexOf('=') + 1, i);
    s = s.slice(i).trim();
  }
  if (tz.toLowerCase() === 'local') tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  if (s.startsWith('@every ')) {
    const d = parseEvery(s.slice(7).trim());
    return {
      timeZone: tz,
      next: (t) => Math.floor(t / 1000) * 1000 + Math.max(1000, Math.floor(d / 1000) * 1000),
    };
  }
  if (s.startsWith('@')) s = DESCRIPTORS[s];
  const parts = s.split(/\s+/);
  const [minute, hour, dom, month, dow] = parts.map((p, i) => parseField(p, CRON_FIELD_BOUNDS[i]));
  // robfig accepts 7 for Sunday in ranges? No: max is 6. Keep as parsed.
  const dayMatches = (d: Date): boolean => {
    const domOk = dom.values.has(d.getUTCDate());
    const dowOk = dow.values.has(d.getUTCDay());
    if (dom.star || dow.star) return domOk && dowOk;
    return domOk || dowOk;
  };
  const next = (from: number): number => {
    // Work on naive wall-clock time (UTC arithmetic), whole minutes after `from`.
    let w = Math.floor(wallClock(from, tz) / 60_000) * 60_000 + 60_000;
    const limit = w + 5 * 366 * 86_400_000;
    while (w <= limit) {
      const d = new Date(w);
      if (!month.values.has(d.getUTCMonth() + 1)) {
        w = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
        continue;
      }
      if (!dayMatches(d)) {
        w = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
        continue;
      }
      if (!hour.values.has(d.getUTCHours())) {
        w = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1);
        continue;
      }
      if (!minute.values.has(d.getUTCMinutes())) {
        w += 60_000;
        continue;
      }
      const t = fromWallClock(w, tz);
      if (t > from) return t;
      w += 60_000;
    }
    return Number.POSITIVE_INFINITY;
  };
  return { timeZone: tz, next };
}

function parseEvery(d: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  const re = /([0-9.]+)([a-zµ]+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(d))) total += Number.parseFloat(m[1]) * (units[m[2]] ?? 0);
  return total;
}

/**
 * Upstream mostRecentScheduleTime: the latest activation in (earliest, now], and how many were
 * missed; `tooMany` when more than 100 were (the "too many missed start times" rule).
 */
export function mostRecentScheduleTime(
  sched: Schedule,
  earliest: number,
  now: number,
): { time?: number; missed: number; tooMany: boolean } {
  const t1 = sched.next(earliest);
  if (t1 > now) return { missed: 0, tooMany: false };
  let last = t1;
  let missed = 1;
  for (;;) {
    const t = sched.next(last);
    if (t > now) return { time: last, missed, tooMany: false };
    last = t;
    missed++;
    if (missed > 100) break;
  }
  // More than 100: find the latest one without walking every activation.
  for (const w of [60_000, 3_600_000, 86_400_000, 32 * 86_400_000, 367 * 86_400_000, 5 * 367 * 86_400_000]) {
    const from = Math.max(last, now - w);
    let t = sched.next(from);
    if (t > now) continue;
    for (let i = 0; i < 100_000; i++) {
      const n = sched.next(t);
      if (n > now) break;
      t = n;
    }
    return { time: t, missed: 101, tooMany: true };
  }
  return { time: last, missed: 101, tooMany: true };
}

/** Format an instant as RFC 3339 in a time zone (Go's time.In(loc).Format(time.RFC3339)). */
export function formatRFC3339In(t: number, tz: string): string {
  const off = Math.round(tzOffset(t, tz) / 60_000);
  const wall = new Date(t + off * 60_000).toISOString().replace(/\.\d+Z$/, '');
  if (off === 0) return `${wall}Z`;
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${wall}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}
