// Sprig's integer (int64) and float arithmetic and number conversions.
import type { FuncDef } from '../template/exec.js';
import { toFloat64, toInt64 } from './convert.js';

type Fn = (...a: never[]) => unknown;
const f = (fn: Fn, params?: FuncDef['params'], variadic?: FuncDef['variadic']): FuncDef => ({
  fn: fn as FuncDef['fn'],
  params,
  variadic,
});
const i64 = (n: bigint) => BigInt.asIntN(64, n);

/** Decimal-exact float arithmetic as shopspring/decimal gives (0.1 + 0.2 = 0.3). */
function decimalRound(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(15)) : x;
}

function until(start: bigint, stop: bigint, step: bigint): bigint[] {
  const out: bigint[] = [];
  if (step === 0n) return out;
  if (step > 0n) for (let i = start; i < stop; i += step) out.push(i);
  else for (let i = start; i > stop; i += step) out.push(i);
  return out;
}

function seq(...params: bigint[]): string {
  const n = params.map(Number);
  let start = 1;
  let end: number;
  let step = 1;
  if (n.length === 1) end = n[0];
  else if (n.length === 2) [start, end] = n;
  else if (n.length === 3) [start, step, end] = n;
  else return '';
  if (n.length < 3 && end < start) step = -1;
  const out: number[] = [];
  if (step === 0) return '';
  for (let i = start; step > 0 ? i <= end : i >= end; i += step) out.push(i);
  return out.join(' ');
}

function round(a: unknown, p: bigint, ...rOpt: unknown[]): number {
  const roundOn = rOpt.length > 0 ? toFloat64(rOpt[0]) : 0.5;
  const val = toFloat64(a);
  const pow = 10 ** Number(p);
  const digit = pow * val;
  const div = digit - Math.trunc(digit);
  const r = div >= roundOn ? Math.ceil(digit) : Math.floor(digit);
  return r / pow;
}

export const mathFuncs: Record<string, FuncDef> = {
  add1: f((a: unknown) => i64(toInt64(a) + 1n), ['any']),
  add: f((...a: unknown[]) => i64(a.reduce<bigint>((s, x) => s + toInt64(x), 0n)), [], 'any'),
  sub: f((a: unknown, b: unknown) => i64(toInt64(a) - toInt64(b)), ['any', 'any']),
  mul: f((a: unknown, ...v: unknown[]) => i64(v.reduce<bigint>((s, x) => s * toInt64(x), toInt64(a))), ['any'], 'any'),
  div: f(
    (a: unknown, b: unknown) => {
      const d = toInt64(b);
      if (d === 0n) throw new Error('runtime error: integer divide by zero');
      return toInt64(a) / d;
    },
    ['any', 'any'],
  ),
  mod: f(
    (a: unknown, b: unknown) => {
      const d = toInt64(b);
      if (d === 0n) throw new Error('runtime error: integer divide by zero');
      return toInt64(a) % d;
    },
    ['any', 'any'],
  ),
  max: f(
    (a: unknown, ...r: unknown[]) => r.reduce<bigint>((m, x) => (toInt64(x) > m ? toInt64(x) : m), toInt64(a)),
    ['any'],
    'any',
  ),
  biggest: f(
    (a: unknown, ...r: unknown[]) => r.reduce<bigint>((m, x) => (toInt64(x) > m ? toInt64(x) : m), toInt64(a)),
    ['any'],
    'any',
  ),
  min: f(
    (a: unknown, ...r: unknown[]) => r.reduce<bigint>((m, x) => (toInt64(x) < m ? toInt64(x) : m), toInt64(a)),
    ['any'],
    'any',
  ),
  add1f: f((a: unknown) => decimalRound(toFloat64(a) + 1), ['any']),
  addf: f((...a: unknown[]) => decimalRound(a.reduce<number>((s, x) => s + toFloat64(x), 0)), [], 'any'),
  subf: f(
    (a: unknown, ...v: unknown[]) => decimalRound(v.reduce<number>((s, x) => s - toFloat64(x), toFloat64(a))),
    ['any'],
    'any',
  ),
  mulf: f(
    (a: unknown, ...v: unknown[]) => decimalRound(v.reduce<number>((s, x) => s * toFloat64(x), toFloat64(a))),
    ['any'],
    'any',
  ),
  divf: f(
    (a: unknown, ...v: unknown[]) => decimalRound(v.reduce<number>((s, x) => s / toFloat64(x), toFloat64(a))),
    ['any'],
    'any',
  ),
  maxf: f((a: unknown, ...r: unknown[]) => Math.max(toFloat64(a), ...r.map(toFloat64)), ['any'], 'any'),
  minf: f((a: unknown, ...r: unknown[]) => Math.min(toFloat64(a), ...r.map(toFloat64)), ['any'], 'any'),
  floor: f((a: unknown) => Math.floor(toFloat64(a)), ['any']),
  ceil: f((a: unknown) => Math.ceil(toFloat64(a)), ['any']),
  round: f(round, ['any', 'int'], 'any'),
  int: f((a: unknown) => toInt64(a), ['any']),
  int64: f((a: unknown) => toInt64(a), ['any']),
  float64: f((a: unknown) => toFloat64(a), ['any']),
  atoi: f((s: string) => (/^[+-]?\d+$/.test(s.trim() === s ? s : 'x') ? BigInt(s) : 0n), ['string']),
  toDecimal: f(
    (v: unknown) => {
      const s = String(typeof v === 'string' ? v : toInt64(v));
      return /^[0-7]+$/.test(s) ? BigInt('0o' + s) : 0n;
    },
    ['any'],
  ),
  until: f((n: bigint) => until(0n, n, n >= 0n ? 1n : -1n), ['int']),
  untilStep: f((a: bigint, b: bigint, s: bigint) => until(a, b, s), ['int', 'int', 'int']),
  seq: f(seq, [], 'int'),
  randInt: f((min: bigint, max: bigint) => min + BigInt(Math.floor(Math.random() * Number(max - min))), ['int', 'int']),
};
