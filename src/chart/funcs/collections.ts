// Sprig's list and dict functions, including mergo-style merge/mergeOverwrite.
import type { FuncDef } from '../template/exec.js';
import { goTypeName, isMap, type GoMap } from '../template/values.js';
import { asList, deepCopy, empty, strval } from './convert.js';

type Fn = (...a: never[]) => unknown;
const f = (fn: Fn, params?: FuncDef['params'], variadic?: FuncDef['variadic']): FuncDef => ({
  fn: fn as FuncDef['fn'],
  params,
  variadic,
});

/** reflect.DeepEqual over template values. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined) return b === null;
  if (b === undefined) return a === null;
  if (typeof a !== typeof b) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

function mustList(v: unknown, fn: string): unknown[] {
  if (v === null || v === undefined) throw new Error(`Cannot find ${fn} on type <nil>`);
  if (!Array.isArray(v) && !(v instanceof Uint8Array)) throw new Error(`Cannot find ${fn} on type ${goTypeName(v)}`);
  return asList(v, fn);
}

function kindName(v: unknown): string {
  if (v === null || v === undefined) return 'invalid';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'float64';
  if (typeof v === 'boolean') return 'bool';
  return isMap(v) ? 'map' : 'struct';
}

function dict(...kv: unknown[]): GoMap {
  const d: GoMap = {};
  for (let i = 0; i < kv.length; i += 2) d[strval(kv[i])] = i + 1 < kv.length ? kv[i + 1] : '';
  return d;
}

/** mergo.Merge(dst, src): fills missing or empty dst entries from src, deeply for maps. */
export function mergeInto(dst: GoMap, src: GoMap, overwrite: boolean): GoMap {
  for (const [k, sv] of Object.entries(src)) {
    const has = Object.prototype.hasOwnProperty.call(dst, k);
    const dv = dst[k];
    if (has && isMap(dv) && isMap(sv)) {
      mergeInto(dv, sv, overwrite);
      continue;
    }
    if (has && !empty(dv) && (isMap(sv) || Array.isArray(sv)) && !overwrite) continue;
    if (!has || empty(dv) || (overwrite && !empty(sv))) dst[k] = isMap(sv) ? deepCopy(sv) : sv;
  }
  return dst;
}

function asDict(v: unknown, fn: string): GoMap {
  if (isMap(v)) return v;
  throw new Error(`wrong type for value; expected map[string]interface {}; got ${goTypeName(v)} (in ${fn})`);
}

function uniq(l: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const x of l) if (!out.some((y) => deepEqual(x, y))) out.push(x);
  return out;
}

function dig(...args: unknown[]): unknown {
  if (args.length < 3) throw new Error('dig needs at least three arguments');
  const d = args[args.length - 1];
  const def = args[args.length - 2];
  const keys = args.slice(0, -2);
  let cur: unknown = d;
  for (const k of keys) {
    if (!isMap(cur) || !Object.prototype.hasOwnProperty.call(cur, strval(k))) return def;
    cur = cur[strval(k)];
  }
  return cur;
}

function chunk(size: bigint, list: unknown): unknown[][] {
  const l = mustList(list, 'chunk');
  const n = Number(size);
  const out: unknown[][] = [];
  for (let i = 0; i < l.length; i += n) out.push(l.slice(i, i + n));
  return out;
}

function sliceList(list: unknown, ...idx: unknown[]): unknown[] {
  if (!Array.isArray(list)) throw new Error(`list should be type of slice or array but ${kindName(list)}`);
  const l = list;
  const start = idx.length > 0 ? Number(idx[0]) : 0;
  const end = idx.length > 1 ? Number(idx[1]) : l.length;
  return l.slice(start, end);
}

const listFuncs: Record<string, (...a: never[]) => unknown> = {
  first: (l: unknown) => (l === null ? null : (mustList(l, 'first')[0] ?? null)),
  rest: (l: unknown) => mustList(l, 'rest').slice(1),
  last: (l: unknown) => {
    const x = mustList(l, 'last');
    return x.length ? x[x.length - 1] : null;
  },
  initial: (l: unknown) => mustList(l, 'initial').slice(0, -1),
  append: (l: unknown, v: unknown) => [...(l === null ? [] : mustList(l, 'append')), v],
  push: (l: unknown, v: unknown) => [...(l === null ? [] : mustList(l, 'push')), v],
  prepend: (l: unknown, v: unknown) => [v, ...(l === null ? [] : mustList(l, 'prepend'))],
  reverse: (l: unknown) => [...mustList(l, 'reverse')].reverse(),
  uniq: (l: unknown) => uniq(mustList(l, 'uniq')),
  compact: (l: unknown) => mustList(l, 'compact').filter((x) => !empty(x)),
  without: (l: unknown, ...omit: unknown[]) => mustList(l, 'without').filter((x) => !omit.some((o) => deepEqual(o, x))),
  has: (needle: unknown, hay: unknown) =>
    hay === null || hay === undefined ? false : mustList(hay, 'has').some((x) => deepEqual(x, needle)),
  slice: sliceList,
};

export const collectionFuncs: Record<string, FuncDef> = {
  list: f((...a: unknown[]) => a, [], 'any'),
  tuple: f((...a: unknown[]) => a, [], 'any'),
  dict: f(dict, [], 'any'),
  get: f((d: GoMap, k: string) => (Object.prototype.hasOwnProperty.call(d ?? {}, k) ? d[k] : ''), ['map', 'string']),
  set: f((d: GoMap, k: string, v: unknown) => ((d[k] = v), d), ['map', 'string', 'any']),
  unset: f((d: GoMap, k: string) => (delete d[k], d), ['map', 'string']),
  hasKey: f((d: GoMap, k: string) => d !== null && Object.prototype.hasOwnProperty.call(d, k), ['map', 'string']),
  pluck: f(
    (k: string, ...ds: GoMap[]) => ds.filter((d) => d && Object.prototype.hasOwnProperty.call(d, k)).map((d) => d[k]),
    ['string'],
    'map',
  ),
  keys: f((...ds: GoMap[]) => ds.flatMap((d) => Object.keys(d ?? {})), [], 'map'),
  values: f((d: GoMap) => Object.values(d ?? {}), ['map']),
  pick: f(
    (d: GoMap, ...ks: string[]) =>
      Object.fromEntries(ks.filter((k) => Object.prototype.hasOwnProperty.call(d, k)).map((k) => [k, d[k]])),
    ['map'],
    'string',
  ),
  omit: f(
    (d: GoMap, ...ks: string[]) => Object.fromEntries(Object.entries(d).filter(([k]) => !ks.includes(k))),
    ['map'],
    'string',
  ),
  merge: f(
    (dst: GoMap, ...srcs: GoMap[]) => srcs.reduce((acc, s) => mergeInto(acc, s ?? {}, false), asDict(dst, 'merge')),
    ['map'],
    'map',
  ),
  mustMerge: f(
    (dst: GoMap, ...srcs: GoMap[]) => srcs.reduce((acc, s) => mergeInto(acc, s ?? {}, false), asDict(dst, 'merge')),
    ['map'],
    'map',
  ),
  mergeOverwrite: f(
    (dst: GoMap, ...srcs: GoMap[]) =>
      srcs.reduce((acc, s) => mergeInto(acc, s ?? {}, true), asDict(dst, 'mergeOverwrite')),
    ['map'],
    'map',
  ),
  mustMergeOverwrite: f(
    (dst: GoMap, ...srcs: GoMap[]) =>
      srcs.reduce((acc, s) => mergeInto(acc, s ?? {}, true), asDict(dst, 'mergeOverwrite')),
    ['map'],
    'map',
  ),
  deepCopy: f((v: unknown) => deepCopy(v), ['any']),
  mustDeepCopy: f((v: unknown) => deepCopy(v), ['any']),
  dig: f(dig, [], 'any'),
  chunk: f(chunk, ['int', 'any']),
  mustChunk: f(chunk, ['int', 'any']),
  concat: f((...ls: unknown[]) => ls.flatMap((l) => (l === null ? [] : mustList(l, 'concat'))), [], 'any'),
  deepEqual: f((a: unknown, b: unknown) => deepEqual(a, b), ['any', 'any']),
  all: f((...a: unknown[]) => a.every((x) => !empty(x)), [], 'any'),
  any: f((...a: unknown[]) => a.some((x) => !empty(x)), [], 'any'),
  ...Object.fromEntries(
    Object.entries(listFuncs).flatMap(([name, fn]) => {
      const d = f(fn, ['any'], name === 'without' || name === 'slice' ? 'any' : undefined);
      const must = 'must' + name[0].toUpperCase() + name.slice(1);
      if (name === 'append' || name === 'push' || name === 'prepend' || name === 'has') d.params = ['any', 'any'];
      return [
        [name, d],
        [must, d],
      ];
    }),
  ),
};
