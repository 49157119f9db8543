// Sprig's string, encoding, hashing and regular-expression functions.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { FuncDef } from '../template/exec.js';
import { goQuote, sprint } from '../template/gofmt.js';
import { strslice, strval } from './convert.js';

type Fn = (...a: never[]) => unknown;
const f = (fn: Fn, params?: FuncDef['params'], variadic?: FuncDef['variadic']): FuncDef => ({
  fn: fn as FuncDef['fn'],
  params,
  variadic,
});

/** Go's strings.Title: upper-cases the first letter of every word (separators: non letters/digits/_). */
function title(s: string): string {
  let prevSep = true;
  let out = '';
  for (const ch of s) {
    const isSep = !/[\p{L}\p{Nd}_]/u.test(ch) && (ch.charCodeAt(0) < 0x80 || /\s/u.test(ch));
    out += prevSep && !isSep ? ch.toUpperCase() : ch;
    prevSep = isSep;
  }
  return out;
}

function untitle(s: string): string {
  let prevSpace = true;
  let out = '';
  for (const ch of s) {
    out += prevSpace && /\p{L}/u.test(ch) ? ch.toLowerCase() : ch;
    prevSpace = /\s/u.test(ch);
  }
  return out;
}

function swapcase(s: string): string {
  let out = '';
  for (const ch of s) out += ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase();
  return out;
}

function words(s: string): string[] {
  return s
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
}

/** Byte-oriented truncation, as Go slices strings by bytes. */
function trunc(c: bigint, s: string): string {
  const b = Buffer.from(s, 'utf8');
  const n = Number(c);
  if (n < 0 && b.length + n > 0) return b.subarray(b.length + n).toString('utf8');
  if (n >= 0 && b.length > n) return b.subarray(0, n).toString('utf8');
  return s;
}

function substr(start: bigint, end: bigint, s: string): string {
  const b = Buffer.from(s, 'utf8');
  let st = Number(start);
  let en = Number(end);
  if (st < 0) return b.subarray(0, en).toString('utf8');
  if (en < 0 || en > b.length) en = b.length;
  if (st > en) st = en;
  return b.subarray(st, en).toString('utf8');
}

function indent(spaces: bigint, v: string): string {
  const pad = ' '.repeat(Number(spaces));
  return pad + v.split('\n').join('\n' + pad);
}

function goTrim(s: string, cutset: string): string {
  const set = new Set([...cutset]);
  const chars = [...s];
  let a = 0;
  let b = chars.length;
  while (a < b && set.has(chars[a])) a++;
  while (b > a && set.has(chars[b - 1])) b--;
  return chars.slice(a, b).join('');
}

function wrap(width: number, s: string, newline = '\n'): string {
  // Apache commons WordUtils.wrap as ported by Sprig (goutils.WrapCustom with wrapLongWords false).
  const out: string[] = [];
  for (const line of s.split(/\r?\n/)) {
    let rest = line;
    while (rest.length > width) {
      if (rest[0] === ' ') {
        rest = rest.slice(1);
        continue;
      }
      let at = rest.lastIndexOf(' ', width);
      if (at <= 0) at = rest.indexOf(' ', width);
      if (at < 0) break;
      out.push(rest.slice(0, at));
      rest = rest.slice(at + 1);
    }
    out.push(rest);
  }
  return out.join(newline);
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function randFrom(chars: string, n: bigint): string {
  let s = '';
  for (let i = 0; i < Number(n); i++) s += chars[randomInt(chars.length)];
  return s;
}

function b32enc(s: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = Buffer.from(s, 'utf8');
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += '=';
  return out;
}

function b32dec(s: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = s.replace(/=+$/, '');
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of clean) {
    const i = alphabet.indexOf(ch);
    if (i < 0) return `illegal base32 data at input byte ${clean.indexOf(ch)}`;
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out).toString('utf8');
}

function b64dec(s: string): string {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) {
    const bad = s.search(/[^A-Za-z0-9+/=]/);
    return `illegal base64 data at input byte ${bad < 0 ? s.length - (s.length % 4) : bad}`;
  }
  return Buffer.from(s, 'base64').toString('utf8');
}

function adler32(s: string): string {
  let a = 1;
  let b = 0;
  for (const byte of Buffer.from(s, 'utf8')) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return String(((b << 16) | a) >>> 0);
}

// ---- regular expressions (Go RE2 syntax translated to JS) ----

const regexCache = new Map<string, RegExp>();

/** Compiles a Go regexp; global flag for find-all/replace. */
export function goRegexp(expr: string, global = false): RegExp {
  const key = (global ? 'g' : '') + expr;
  const cached = regexCache.get(key);
  if (cached) return cached;
  let src = expr;
  let flags = global ? 'g' : '';
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    for (const fl of lead[1]) if (fl !== 'U' && !flags.includes(fl)) flags += fl;
    src = src.slice(lead[0].length);
  }
  src = src
    .replace(/\(\?P</g, '(?<')
    .replace(/\\z/g, '$(?![\\s\\S])')
    .replace(/\\A/g, '^');
  let re: RegExp;
  try {
    re = new RegExp(src, flags);
  } catch (e) {
    throw new Error(`error parsing regexp: ${(e as Error).message}: \`${expr}\``, { cause: e });
  }
  regexCache.set(key, re);
  return re;
}

/** Go's Regexp.Expand template ($1, ${1}, $name, ${name}, $$). */
function expandTemplate(
  template: string,
  groups: (string | undefined)[],
  named: Record<string, string | undefined> | undefined,
): string {
  return template.replace(
    /\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g,
    (_m, all: string, braced?: string, bare?: string) => {
      if (all === '$') return '$';
      const name = braced ?? bare ?? '';
      if (/^\d+$/.test(name)) return groups[Number(name)] ?? '';
      return named?.[name] ?? '';
    },
  );
}

function regexReplaceAll(regex: string, s: string, repl: string): string {
  return s.replace(goRegexp(regex, true), (...args: unknown[]) => {
    const hasNamed = typeof args[args.length - 1] === 'object';
    const named = hasNamed ? (args[args.length - 1] as Record<string, string | undefined>) : undefined;
    const groups = args.slice(0, args.length - (hasNamed ? 3 : 2)) as (string | undefined)[];
    return expandTemplate(repl, groups, named);
  });
}

function regexFindAll(regex: string, s: string, n: bigint): string[] {
  const all = s.match(goRegexp(regex, true)) ?? [];
  return Number(n) < 0 ? all : all.slice(0, Number(n));
}

function regexSplit(regex: string, s: string, n: bigint): string[] {
  const count = Number(n);
  if (count === 0) return [];
  if (regex.length > 0 && s.length === 0) return [''];
  const re = goRegexp(regex, true);
  const out: string[] = [];
  let beg = 0;
  for (const m of s.matchAll(re)) {
    if (count > 0 && out.length === count - 1) break;
    const end = m.index;
    if (m[0].length === 0 && (end === 0 || end === s.length)) continue;
    out.push(s.slice(beg, end));
    beg = end + m[0].length;
  }
  out.push(s.slice(beg));
  return out;
}

function splitn(sep: string, n: bigint, orig: string): Record<string, string> {
  const parts = goSplitN(orig, sep, Number(n));
  const res: Record<string, string> = {};
  parts.forEach((p, i) => (res['_' + i] = p));
  return res;
}

function goSplitN(s: string, sep: string, n: number): string[] {
  if (n === 0) return [];
  if (sep === '') {
    const chars = [...s];
    if (n < 0 || n >= chars.length) return chars;
    return [...chars.slice(0, n - 1), chars.slice(n - 1).join('')];
  }
  const all = s.split(sep);
  if (n < 0 || all.length <= n) return all;
  return [...all.slice(0, n - 1), all.slice(n - 1).join(sep)];
}

const hash = (alg: string) => (s: string) => createHash(alg).update(s, 'utf8').digest('hex');

export const stringFuncs: Record<string, FuncDef> = {
  upper: f((s: string) => s.toUpperCase(), ['string']),
  lower: f((s: string) => s.toLowerCase(), ['string']),
  title: f(title, ['string']),
  untitle: f(untitle, ['string']),
  swapcase: f(swapcase, ['string']),
  snakecase: f(
    (s: string) =>
      words(s)
        .map((w) => w.toLowerCase())
        .join('_'),
    ['string'],
  ),
  camelcase: f(
    (s: string) =>
      s
        .split('_')
        .map((w) => (w ? w[0].toUpperCase() + w.slice(1) : ''))
        .join(''),
    ['string'],
  ),
  kebabcase: f(
    (s: string) =>
      words(s)
        .map((w) => w.toLowerCase())
        .join('-'),
    ['string'],
  ),
  substr: f(substr, ['int', 'int', 'string']),
  trunc: f(trunc, ['int', 'string']),
  trim: f((s: string) => s.trim(), ['string']),
  trimAll: f((cut: string, s: string) => goTrim(s, cut), ['string', 'string']),
  trimall: f((cut: string, s: string) => goTrim(s, cut), ['string', 'string']),
  trimSuffix: f(
    (suf: string, s: string) => (suf && s.endsWith(suf) ? s.slice(0, -suf.length) : s),
    ['string', 'string'],
  ),
  trimPrefix: f((pre: string, s: string) => (s.startsWith(pre) ? s.slice(pre.length) : s), ['string', 'string']),
  nospace: f((s: string) => s.replace(/\s/gu, ''), ['string']),
  repeat: f((n: bigint, s: string) => s.repeat(Math.max(0, Number(n))), ['int', 'string']),
  replace: f((o: string, n: string, s: string) => s.split(o).join(n), ['string', 'string', 'string']),
  contains: f((sub: string, s: string) => s.includes(sub), ['string', 'string']),
  hasPrefix: f((p: string, s: string) => s.startsWith(p), ['string', 'string']),
  hasSuffix: f((p: string, s: string) => s.endsWith(p), ['string', 'string']),
  indent: f(indent, ['int', 'string']),
  nindent: f((n: bigint, v: string) => '\n' + indent(n, v), ['int', 'string']),
  quote: f(
    (...a: unknown[]) =>
      a
        .filter((x) => x !== null && x !== undefined)
        .map((x) => goQuote(strval(x)))
        .join(' '),
    [],
    'any',
  ),
  squote: f(
    (...a: unknown[]) =>
      a
        .filter((x) => x !== null && x !== undefined)
        .map((x) => `'${strval(x)}'`)
        .join(' '),
    [],
    'any',
  ),
  cat: f(
    (...a: unknown[]) => sprint([a.filter((x) => x !== null && x !== undefined)]).replace(/^\[|\]$/g, ''),
    [],
    'any',
  ),
  toString: f((v: unknown) => strval(v), ['any']),
  abbrev: f(
    (w: bigint, s: string) => (Number(w) < 4 || s.length <= Number(w) ? s : s.slice(0, Number(w) - 3) + '...'),
    ['int', 'string'],
  ),
  abbrevboth: f(
    (l: bigint, r: bigint, s: string) => {
      let out = s;
      if (Number(l) > 4 && out.length > Number(r)) out = '...' + out.slice(Number(l));
      return Number(r) >= 4 && out.length > Number(r) ? out.slice(0, Number(r) - 3) + '...' : out;
    },
    ['int', 'int', 'string'],
  ),
  initials: f(
    (s: string) =>
      s
        .split(/\s+/)
        .filter(Boolean)
        .map((w) => [...w][0])
        .join(''),
    ['string'],
  ),
  wrap: f((w: bigint, s: string) => wrap(Number(w), s), ['int', 'string']),
  wrapWith: f((w: bigint, sep: string, s: string) => wrap(Number(w), s, sep), ['int', 'string', 'string']),
  plural: f((one: string, many: string, n: bigint) => (n === 1n ? one : many), ['string', 'string', 'int']),
  shuffle: f((s: string) => [...s].sort(() => randomInt(3) - 1).join(''), ['string']),
  randAlphaNum: f((n: bigint) => randFrom(ALNUM, n), ['int']),
  randAlpha: f((n: bigint) => randFrom(ALNUM.slice(0, 52), n), ['int']),
  randNumeric: f((n: bigint) => randFrom('0123456789', n), ['int']),
  randAscii: f(
    (n: bigint) => randFrom(Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join(''), n),
    ['int'],
  ),
  randBytes: f((n: bigint) => randomBytes(Number(n)).toString('base64'), ['int']),
  split: f((sep: string, s: string) => splitn(sep, -1n, s), ['string', 'string']),
  splitn: f(splitn, ['string', 'int', 'string']),
  splitList: f((sep: string, s: string) => s.split(sep), ['string', 'string']),
  join: f((sep: string, v: unknown) => strslice(v).join(sep), ['string', 'any']),
  sortAlpha: f((v: unknown) => strslice(Array.isArray(v) ? v : v === null ? [] : [v]).sort(), ['any']),
  toStrings: f((v: unknown) => (Array.isArray(v) ? v.map(strval) : [strval(v)]), ['any']),
  b64enc: f((s: string) => Buffer.from(s, 'utf8').toString('base64'), ['string']),
  b64dec: f(b64dec, ['string']),
  b32enc: f(b32enc, ['string']),
  b32dec: f(b32dec, ['string']),
  sha1sum: f(hash('sha1'), ['string']),
  sha256sum: f(hash('sha256'), ['string']),
  sha512sum: f(hash('sha512'), ['string']),
  adler32sum: f(adler32, ['string']),
  regexMatch: f((re: string, s: string) => goRegexp(re).test(s), ['string', 'string']),
  mustRegexMatch: f((re: string, s: string) => goRegexp(re).test(s), ['string', 'string']),
  regexFind: f((re: string, s: string) => goRegexp(re).exec(s)?.[0] ?? '', ['string', 'string']),
  mustRegexFind: f((re: string, s: string) => goRegexp(re).exec(s)?.[0] ?? '', ['string', 'string']),
  regexFindAll: f(regexFindAll, ['string', 'string', 'int']),
  mustRegexFindAll: f(regexFindAll, ['string', 'string', 'int']),
  regexReplaceAll: f(regexReplaceAll, ['string', 'string', 'string']),
  mustRegexReplaceAll: f(regexReplaceAll, ['string', 'string', 'string']),
  regexReplaceAllLiteral: f(
    (re: string, s: string, repl: string) => s.replace(goRegexp(re, true), () => repl),
    ['string', 'string', 'string'],
  ),
  mustRegexReplaceAllLiteral: f(
    (re: string, s: string, repl: string) => s.replace(goRegexp(re, true), () => repl),
    ['string', 'string', 'string'],
  ),
  regexSplit: f(regexSplit, ['string', 'string', 'int']),
  mustRegexSplit: f(regexSplit, ['string', 'string', 'int']),
  regexQuoteMeta: f((s: string) => s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&'), ['string']),
};
