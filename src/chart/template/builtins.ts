// text/template's predefined functions (funcs.go): comparisons with Go's basic-kind rules,
// len/index/slice, the print family and the escapers. and/or live in the executor (lazy).
import type { FuncDef } from './functypes.js';
import { formatValue, sprint, sprintf, sprintln } from './gofmt.js';
import { GoStruct, goTypeName, isMap, isTrue } from './values.js';

type Kind = 'bool' | 'int' | 'float' | 'string' | 'invalid' | 'other';

function basicKind(v: unknown): Kind {
  if (v === undefined || v === null) return 'invalid';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'int';
    case 'number':
      return 'float';
    case 'string':
      return 'string';
  }
  return 'other';
}

function eq(arg1: unknown, ...rest: unknown[]): boolean {
  if (rest.length === 0) throw new Error('missing argument for comparison');
  const k1 = basicKind(arg1);
  for (const arg of rest) {
    const k2 = basicKind(arg);
    let truth = false;
    if (k1 !== k2) {
      if (k1 !== 'invalid' && k2 !== 'invalid') throw new Error('incompatible types for comparison');
    } else if (k1 === 'other') {
      if (typeof arg1 === 'object' || typeof arg === 'object')
        throw new Error(
          `non-comparable types ${formatValue(arg1)}: ${goTypeName(arg1)}, ${goTypeName(arg)}: ${formatValue(arg)}`,
        );
      truth = arg1 === arg;
    } else truth = k1 === 'invalid' ? true : arg1 === arg;
    if (truth) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka === 'bool' || ka === 'other' || ka === 'invalid' || kb === 'bool' || kb === 'other' || kb === 'invalid')
    throw new Error('invalid type for comparison');
  if (ka !== kb) throw new Error('incompatible types for comparison');
  return (a as number) < (b as number);
}

function length(item: unknown): bigint {
  if (item === undefined || item === null) throw new Error('len of nil pointer');
  if (typeof item === 'string') return BigInt(Buffer.byteLength(item, 'utf8'));
  if (Array.isArray(item) || item instanceof Uint8Array) return BigInt(item.length);
  if (isMap(item)) return BigInt(Object.keys(item).length);
  if (item instanceof GoStruct && item.entries) return BigInt(Object.keys(item.entries).length);
  throw new Error(`len of type ${goTypeName(item)}`);
}

function indexArg(i: unknown, cap: number): number {
  if (typeof i !== 'bigint') throw new Error(`cannot index slice/array with type ${goTypeName(i)}`);
  if (i < 0n || i >= BigInt(cap)) throw new Error(`index out of range: ${i}`);
  return Number(i);
}

function index(item: unknown, ...indexes: unknown[]): unknown {
  let v = item;
  if (v === undefined || v === null) throw new Error('index of untyped nil');
  for (const ix of indexes) {
    if (v === undefined || v === null) throw new Error('index of nil pointer');
    if (Array.isArray(v)) v = v[indexArg(ix, v.length)];
    else if (v instanceof Uint8Array) v = BigInt(v[indexArg(ix, v.length)]);
    else if (typeof v === 'string') v = BigInt(Buffer.from(v)[indexArg(ix, Buffer.byteLength(v))]);
    else if (isMap(v) || (v instanceof GoStruct && v.entries)) {
      const m = isMap(v) ? v : v.entries!;
      if (typeof ix !== 'string') {
        if (ix === null || ix === undefined) throw new Error('value is nil; should be of type string');
        throw new Error(`value has type ${goTypeName(ix)}; should be string`);
      }
      v = Object.prototype.hasOwnProperty.call(m, ix) ? m[ix] : null;
    } else throw new Error(`can't index item of type ${goTypeName(v)}`);
  }
  return v;
}

function slice(item: unknown, ...indexes: unknown[]): unknown {
  if (item === undefined || item === null) throw new Error('slice of untyped nil');
  if (indexes.length > 3) throw new Error(`too many slice indexes: ${indexes.length}`);
  const len = typeof item === 'string' ? item.length : Array.isArray(item) ? item.length : -1;
  if (len < 0) throw new Error(`can't slice item of type ${goTypeName(item)}`);
  if (typeof item === 'string' && indexes.length === 3) throw new Error('cannot 3-index slice a string');
  const idx = indexes.map((i) => {
    if (typeof i !== 'bigint') throw new Error(`cannot index slice/array with type ${goTypeName(i)}`);
    if (i < 0n || i > BigInt(len)) throw new Error(`index out of range: ${i}`);
    return Number(i);
  });
  const start = idx[0] ?? 0;
  const end = idx[1] ?? len;
  if (end < start) throw new Error(`invalid slice index: ${start} > ${end}`);
  return typeof item === 'string' ? item.slice(start, end) : (item as unknown[]).slice(start, end);
}

function evalArgs(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args);
}

function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) =>
    c === '\0'
      ? '\uFFFD'
      : c === '"'
        ? '&#34;'
        : c === "'"
          ? '&#39;'
          : c === '&'
            ? '&amp;'
            : c === '<'
              ? '&lt;'
              : '&gt;',
  );
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (ch === '"') out += '\\"';
    else if (ch === '<') out += '\\u003C';
    else if (ch === '>') out += '\\u003E';
    else if (ch === '&') out += '\\u0026';
    else if (ch === '=') out += '\\u003D';
    else if (c < 0x20) out += '\\u' + c.toString(16).toUpperCase().padStart(4, '0');
    else out += ch;
  }
  return out;
}

const def = (fn: (...a: never[]) => unknown, params?: FuncDef['params'], variadic?: FuncDef['variadic']): FuncDef => ({
  fn: fn as FuncDef['fn'],
  params,
  variadic,
});

export const BUILTINS = new Map<string, FuncDef>([
  ['eq', def(eq, ['any'], 'any')],
  ['ne', def((a: unknown, b: unknown) => !eq(a, b), ['any', 'any'])],
  ['lt', def((a: unknown, b: unknown) => lt(a, b), ['any', 'any'])],
  ['le', def((a: unknown, b: unknown) => lt(a, b) || eq(a, b), ['any', 'any'])],
  ['gt', def((a: unknown, b: unknown) => !lt(a, b) && !eq(a, b), ['any', 'any'])],
  ['ge', def((a: unknown, b: unknown) => !lt(a, b), ['any', 'any'])],
  ['not', def((a: unknown) => !isTrue(a), ['any'])],
  ['len', def(length, ['any'])],
  ['index', def(index, ['any'], 'any')],
  ['slice', def(slice, ['any'], 'any')],
  ['print', def((...a: unknown[]) => sprint(a), [], 'any')],
  ['println', def((...a: unknown[]) => sprintln(a), [], 'any')],
  ['printf', def((f: string, ...a: unknown[]) => sprintf(f, a), ['string'], 'any')],
  ['html', def((...a: unknown[]) => htmlEscape(evalArgs(a)), [], 'any')],
  ['js', def((...a: unknown[]) => jsEscape(evalArgs(a)), [], 'any')],
  [
    'urlquery',
    def(
      (...a: unknown[]) =>
        encodeURIComponent(evalArgs(a))
          .replace(/%20/g, '+')
          .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()),
      [],
      'any',
    ),
  ],
  [
    'call',
    def(
      (fn: unknown, ...a: unknown[]) => {
        if (typeof fn !== 'function') throw new Error(`non-function of type ${goTypeName(fn)}`);
        return (fn as (...x: unknown[]) => unknown)(...a);
      },
      ['any'],
      'any',
    ),
  ],
]);

export const BUILTIN_NAMES = new Set([...BUILTINS.keys(), 'and', 'or']);
