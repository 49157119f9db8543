// Human-readable durations exactly as upstream k8s.io/apimachinery/pkg/util/duration, which is
// what kubectl prints in AGE columns. Inputs are milliseconds; Go truncates toward zero.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

const trunc = (ms: number, unit: number): number => Math.trunc(ms / unit);

/** Upstream HumanDuration: ~2-3 significant figures (`5s`, `4m30s`, `10m`, `3h5m`, `2d5h`, `45d`, `2y100d`). */
export function humanDuration(ms: number): string {
  const seconds = trunc(ms, SECOND);
  // Up to 2s in the future (clock skew) reads as now.
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = trunc(ms, MINUTE);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = trunc(ms, HOUR);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    const y = Math.trunc(hours / 24 / 365);
    return dy === 0 ? `${y}y` : `${y}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** Upstream ShortHumanDuration: one unit only (`45s`, `5m`, `3h`, `12d`, `2y`). */
export function shortHumanDuration(ms: number): string {
  const seconds = trunc(ms, SECOND);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60) return `${seconds}s`;
  const minutes = trunc(ms, MINUTE);
  if (minutes < 60) return `${minutes}m`;
  const hours = trunc(ms, HOUR);
  if (hours < 24) return `${hours}h`;
  if (hours < 24 * 365) return `${Math.trunc(hours / 24)}d`;
  return `${Math.trunc(ms / HOUR / 24 / 365)}y`;
}

/**
 * kubectl's translateTimestampSince: the age of an RFC 3339 timestamp at `now` (ms since epoch),
 * `<unknown>` when the timestamp is missing or unparseable.
 */
export function age(timestamp: string | undefined | null, now: number): string {
  if (!timestamp) return '<unknown>';
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return '<unknown>';
  return humanDuration(now - t);
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60000,
  h: 3600000,
};

/** Go's time.ParseDuration, enough to accept what it accepts; returns milliseconds. */
export function parseGoDuration(s: string): number {
  const orig = s;
  const bad = () => new Error(`time: invalid duration ${JSON.stringify(orig)}`);
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw bad();
  let total = 0;
  while (s.length > 0) {
    const m = /^([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)/.exec(s);
    if (!m || m[1] === '' || m[1] === '.') throw bad();
    const unit = DURATION_UNITS[m[2]];
    if (unit === undefined)
      throw new Error(`time: unknown unit ${JSON.stringify(m[2])} in duration ${JSON.stringify(orig)}`);
    total += Number.parseFloat(m[1]) * unit;
    s = s.slice(m[0].length);
  }
  return neg ? -total : total;
}
