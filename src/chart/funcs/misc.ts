// Sprig's defaults, JSON, reflection, path, date, UUID, URL and semver functions.
import { randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import type { FuncDef } from '../template/exec.js';
import { formatValue } from '../template/gofmt.js';
import { GoStruct, goKind, goTypeName, type GoMap } from '../template/values.js';
import { parseSemver, semverCompare } from '../semver.js';
import { toJsonValue } from '../yaml.js';
import { empty, toInt64 } from './convert.js';

type Fn = (...a: never[]) => unknown;
const f = (fn: Fn, params?: FuncDef['params'], variadic?: FuncDef['variadic']): FuncDef => ({
  fn: fn as FuncDef['fn'],
  params,
  variadic,
});

// ---- JSON with encoding/json's conventions ----

function jsonFloat(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`json: unsupported value: ${formatValue(n)}`);
  return String(n);
}

/** json.Marshal: sorted keys, HTML-safe escaping unless raw, optional indentation. */
export function goJson(v: unknown, opts: { escapeHtml?: boolean; indent?: string } = {}, level = 0): string {
  const val = level === 0 ? toJsonValue(v) : v;
  const esc = opts.escapeHtml ?? true;
  const nl = opts.indent !== undefined ? '\n' + opts.indent.repeat(level + 1) : '';
  const close = opts.indent !== undefined ? '\n' + opts.indent.repeat(level) : '';
  const sep = opts.indent !== undefined ? ': ' : ':';
  if (val === null || val === undefined) return 'null';
  switch (typeof val) {
    case 'string':
      return jsonString(val, esc);
    case 'boolean':
      return String(val);
    case 'bigint':
      return val.toString();
    case 'number':
      return jsonFloat(val);
  }
  if (Array.isArray(val)) {
    if (val.length === 0) return '[]';
    return '[' + nl + val.map((x) => goJson(x, opts, level + 1)).join(',' + nl) + close + ']';
  }
  const m = val as GoMap;
  const keys = Object.keys(m).sort((a, b) =>
    Buffer.from(a) < Buffer.from(b) ? -1 : a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b)),
  );
  if (keys.length === 0) return '{}';
  return (
    '{' + nl + keys.map((k) => jsonString(k, esc) + sep + goJson(m[k], opts, level + 1)).join(',' + nl) + close + '}'
  );
}

function jsonString(s: string, escapeHtml: boolean): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || (escapeHtml && (ch === '<' || ch === '>' || ch === '&')) || c === 0x2028 || c === 0x2029)
      out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

/** JSON text → values with float64 numbers; errors use Go's wording where it matters. */
export function parseGoJson(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch (e) {
    throw new Error((e as Error).message.replace(/^Unexpected/, 'invalid character'), { cause: e });
  }
}

// ---- dates (Go layouts, UTC) ----

export function goTime(d: Date): GoStruct {
  return new GoStruct(
    'time.Time',
    {},
    {
      Unix: () => BigInt(Math.floor(d.getTime() / 1000)),
      UTC: () => goTime(d),
      Format: (l: unknown) => formatGoTime(d, String(l)),
    },
    () => formatGoTime(d, '2006-01-02 15:04:05.999999999 -0700 MST'),
    () => d.toISOString(),
  );
}

function toDate(v: unknown): Date {
  if (v instanceof GoStruct && v.typeName === 'time.Time') return new Date(String((v.json as () => string)()));
  if (typeof v === 'bigint') return new Date(Number(v) * 1000);
  if (typeof v === 'number') return new Date(v * 1000);
  return new Date();
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Go's time.Format for the common layout elements, in UTC. */
export function formatGoTime(d: Date, layout: string): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const tokens: [string, () => string][] = [
    ['2006', () => String(d.getUTCFullYear())],
    ['January', () => MONTHS[d.getUTCMonth()]],
    ['Jan', () => MONTHS[d.getUTCMonth()].slice(0, 3)],
    ['Monday', () => DAYS[d.getUTCDay()]],
    ['Mon', () => DAYS[d.getUTCDay()].slice(0, 3)],
    ['MST', () => 'UTC'],
    ['Z07:00', () => 'Z'],
    ['-07:00', () => '+00:00'],
    ['-0700', () => '+0000'],
    [
      '.999999999',
      () => (d.getUTCMilliseconds() ? '.' + String(d.getUTCMilliseconds()).padStart(3, '0').replace(/0+$/, '') : ''),
    ],
    ['.000000', () => '.' + String(d.getUTCMilliseconds()).padStart(3, '0') + '000'],
    ['.000', () => '.' + String(d.getUTCMilliseconds()).padStart(3, '0')],
    ['01', () => p2(d.getUTCMonth() + 1)],
    ['02', () => p2(d.getUTCDate())],
    ['06', () => p2(d.getUTCFullYear() % 100)],
    ['15', () => p2(d.getUTCHours())],
    ['03', () => p2(d.getUTCHours() % 12 || 12)],
    ['04', () => p2(d.getUTCMinutes())],
    ['05', () => p2(d.getUTCSeconds())],
    ['PM', () => (d.getUTCHours() >= 12 ? 'PM' : 'AM')],
    ['1', () => String(d.getUTCMonth() + 1)],
    ['2', () => String(d.getUTCDate())],
    ['3', () => String(d.getUTCHours() % 12 || 12)],
    ['4', () => String(d.getUTCMinutes())],
    ['5', () => String(d.getUTCSeconds())],
  ];
  let out = '';
  let i = 0;
  outer: while (i < layout.length) {
    for (const [tok, fn] of tokens) {
      if (layout.startsWith(tok, i)) {
        out += fn();
        i += tok.length;
        continue outer;
      }
    }
    out += layout[i++];
  }
  return out;
}

function semverValue(v: string): GoStruct {
  const s = parseSemver(v);
  return new GoStruct(
    '*semver.Version',
    { Major: s.major, Minor: s.minor, Patch: s.patch },
    {
      Major: () => s.major,
      Minor: () => s.minor,
      Patch: () => s.patch,
      Prerelease: () => s.prerelease,
      Metadata: () => s.metadata,
      Original: () => s.original,
      String: () =>
        `${s.major}.${s.minor}.${s.patch}${s.prerelease ? '-' + s.prerelease : ''}${s.metadata ? '+' + s.metadata : ''}`,
    },
    () =>
      `${s.major}.${s.minor}.${s.patch}${s.prerelease ? '-' + s.prerelease : ''}${s.metadata ? '+' + s.metadata : ''}`,
  );
}

function urlParse(s: string): GoMap {
  const u = new URL(s);
  return {
    scheme: u.protocol.replace(/:$/, ''),
    host: u.host,
    hostname: u.hostname,
    path: decodeURIComponent(u.pathname),
    query: u.search.replace(/^\?/, ''),
    opaque: '',
    fragment: u.hash.replace(/^#/, ''),
    userinfo: u.username ? u.username + (u.password ? ':' + u.password : '') : '',
  };
}

function urlJoin(d: GoMap): string {
  const str = (k: string) => (typeof d[k] === 'string' ? d[k] : '');
  let out = str('scheme') ? str('scheme') + ':' : '';
  if (str('host') || str('userinfo')) out += '//' + (str('userinfo') ? str('userinfo') + '@' : '') + str('host');
  out += str('path');
  if (str('query')) out += '?' + str('query');
  if (str('fragment')) out += '#' + str('fragment');
  return out;
}

/** Go's time.ParseDuration → seconds (float). */
function parseGoDuration(s: string): number {
  const units: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(s);
  if (!m && s !== '0') throw new Error(`time: invalid duration "${s}"`);
  let total = 0;
  for (const part of s.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(part[1]) * units[part[2]];
  return s.startsWith('-') ? -total : total;
}

/** Sprig's durationRound: the largest whole unit (y, mo, d, h, m, s). */
function durationRound(v: unknown): string {
  let secs: number;
  if (typeof v === 'string') secs = parseGoDuration(v);
  else if (v instanceof GoStruct && v.typeName === 'time.Time') secs = (Date.now() - toDate(v).getTime()) / 1000;
  else secs = Number(toInt64(v)) / 1e9;
  const u = Math.abs(secs);
  const steps: [number, string][] = [
    [365 * 86400, 'y'],
    [30 * 86400, 'mo'],
    [86400, 'd'],
    [3600, 'h'],
    [60, 'm'],
    [1, 's'],
  ];
  for (const [size, unit] of steps) if (u >= size) return `${Math.floor(u / size)}${unit}`;
  return '0s';
}

/** Go's time.Duration.String for whole seconds. */
function goDurationString(totalSeconds: number): string {
  if (totalSeconds === 0) return '0s';
  const neg = totalSeconds < 0 ? '-' : '';
  let s = Math.abs(Math.round(totalSeconds));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return neg + (h ? `${h}h${m}m${s}s` : m ? `${m}m${s}s` : `${s}s`);
}

const unsupported = (name: string) => () => {
  throw new Error(`${name} is not supported by k8ts chart template`);
};

export const miscFuncs: Record<string, FuncDef> = {
  ago: f((d: unknown) => goDurationString((Date.now() - toDate(d).getTime()) / 1000), ['any']),
  durationRound: f(durationRound, ['any']),
  dateModify: f(
    (mod: string, d: unknown) => goTime(new Date(toDate(d).getTime() + parseGoDuration(mod) * 1000)),
    ['string', 'any'],
  ),
  mustDateModify: f(
    (mod: string, d: unknown) => goTime(new Date(toDate(d).getTime() + parseGoDuration(mod) * 1000)),
    ['string', 'any'],
  ),
  ...Object.fromEntries(['bcrypt', 'htpasswd', 'derivePassword'].map((n) => [n, f(unsupported(n), [], 'any')])),
  default: f(
    (d: unknown, ...given: unknown[]) => (given.length === 0 || empty(given[0]) ? d : given[0]),
    ['any'],
    'any',
  ),
  empty: f((v: unknown) => empty(v), ['any']),
  coalesce: f((...v: unknown[]) => v.find((x) => !empty(x)) ?? null, [], 'any'),
  ternary: f((t: unknown, fl: unknown, c: boolean) => (c ? t : fl), ['any', 'any', 'bool']),
  toJson: f(
    (v: unknown) => {
      try {
        return goJson(v);
      } catch {
        return '';
      }
    },
    ['any'],
  ),
  mustToJson: f((v: unknown) => goJson(v), ['any']),
  toPrettyJson: f((v: unknown) => goJson(v, { indent: '  ' }), ['any']),
  mustToPrettyJson: f((v: unknown) => goJson(v, { indent: '  ' }), ['any']),
  toRawJson: f((v: unknown) => goJson(v, { escapeHtml: false }), ['any']),
  mustToRawJson: f((v: unknown) => goJson(v, { escapeHtml: false }), ['any']),
  mustFromJson: f((s: string) => parseGoJson(s), ['string']),
  typeOf: f((v: unknown) => (v === null || v === undefined ? '<nil>' : goTypeName(v)), ['any']),
  typeIs: f((t: string, v: unknown) => t === (v === null ? '<nil>' : goTypeName(v)), ['string', 'any']),
  typeIsLike: f(
    (t: string, v: unknown) => {
      const n = v === null ? '<nil>' : goTypeName(v);
      return t === n || t === '*' + n;
    },
    ['string', 'any'],
  ),
  kindOf: f(goKind, ['any']),
  kindIs: f((k: string, v: unknown) => k === goKind(v), ['string', 'any']),
  base: f((p: string) => posix.basename(p) || (p === '' ? '.' : '/'), ['string']),
  dir: f((p: string) => posix.dirname(p), ['string']),
  clean: f((p: string) => (p === '' ? '.' : posix.normalize(p).replace(/(.)\/$/, '$1')), ['string']),
  ext: f((p: string) => posix.extname(p), ['string']),
  isAbs: f((p: string) => p.startsWith('/'), ['string']),
  osBase: f((p: string) => posix.basename(p), ['string']),
  osDir: f((p: string) => posix.dirname(p), ['string']),
  osClean: f((p: string) => posix.normalize(p), ['string']),
  osExt: f((p: string) => posix.extname(p), ['string']),
  osIsAbs: f((p: string) => p.startsWith('/'), ['string']),
  uuidv4: f(() => randomUUID(), []),
  now: f(() => goTime(new Date()), []),
  date: f((fmt: string, d: unknown) => formatGoTime(toDate(d), fmt), ['string', 'any']),
  dateInZone: f((fmt: string, d: unknown) => formatGoTime(toDate(d), fmt), ['string', 'any', 'string']),
  htmlDate: f((d: unknown) => formatGoTime(toDate(d), '2006-01-02'), ['any']),
  htmlDateInZone: f((d: unknown) => formatGoTime(toDate(d), '2006-01-02'), ['any', 'string']),
  unixEpoch: f((d: unknown) => String(Math.floor(toDate(d).getTime() / 1000)), ['any']),
  toDate: f((_fmt: string, s: string) => goTime(new Date(s)), ['string', 'string']),
  mustToDate: f((_fmt: string, s: string) => goTime(new Date(s)), ['string', 'string']),
  duration: f((v: unknown) => goDurationString(Number(toInt64(v))), ['any']),
  semver: f((v: string) => semverValue(v), ['string']),
  semverCompare: f((c: string, v: string) => semverCompare(c, v), ['string', 'string']),
  urlParse: f(urlParse, ['string']),
  urlJoin: f(urlJoin, ['map']),
  getHostByName: f(() => '', ['string']),
  hello: f(() => 'Hello!', []),
  fail: f(
    (msg: string) => {
      throw new Error(msg);
    },
    ['string'],
  ),
};
