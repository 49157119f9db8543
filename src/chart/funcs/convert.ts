// Conversions Sprig relies on: strval (fmt %v of anything), spf13/cast's ToInt64/ToFloat64,
// and Sprig's notion of "empty".
import { formatValue } from '../template/gofmt.js';
import { GoStruct, isMap } from '../template/values.js';

/** Sprig's strval: strings as they are, bytes as text, everything else as fmt %v. */
export function strval(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  if (v === null || v === undefined) return '<nil>';
  return formatValue(v);
}

/** spf13/cast ToInt64 (errors become 0). */
export function toInt64(v: unknown): bigint {
  switch (typeof v) {
    case 'bigint':
      return BigInt.asIntN(64, v);
    case 'number':
      if (!Number.isFinite(v)) return 0n;
      return BigInt(Math.trunc(v));
    case 'boolean':
      return v ? 1n : 0n;
    case 'string': {
      const s = v.trim();
      const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]+|[1-9][0-9_]*|0)$/.exec(s);
      if (!m) return 0n;
      let body = m[2].replace(/_/g, '');
      if (/^0[0-7]+$/.test(body)) body = '0o' + body.slice(1);
      const n = BigInt(body);
      return m[1] === '-' ? -n : n;
    }
  }
  return 0n;
}

/** spf13/cast ToFloat64 (errors become 0). */
export function toFloat64(v: unknown): number {
  switch (typeof v) {
    case 'number':
      return v;
    case 'bigint':
      return Number(v);
    case 'boolean':
      return v ? 1 : 0;
    case 'string': {
      const f = Number(v.trim());
      return v.trim() === '' || Number.isNaN(f) ? 0 : f;
    }
  }
  return 0;
}

/** Sprig's empty: nil, zero numbers, false, and empty strings/collections. */
export function empty(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  switch (typeof v) {
    case 'string':
      return v.length === 0;
    case 'boolean':
      return !v;
    case 'bigint':
      return v === 0n;
    case 'number':
      return v === 0;
  }
  if (Array.isArray(v) || v instanceof Uint8Array) return v.length === 0;
  if (v instanceof GoStruct) return false;
  if (isMap(v)) return Object.keys(v).length === 0;
  return false;
}

/** Sprig's strslice: a list of strings from a []string/[]interface{} (nil items dropped) or one value. */
export function strslice(v: unknown): string[] {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v.filter((x) => x !== null && x !== undefined).map(strval);
  return [strval(v)];
}

/** A list from a slice value, as Sprig's list functions accept ([]T of any T). */
export function asList(v: unknown, fn: string): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Uint8Array) return Array.from(v, (b) => BigInt(b));
  throw new Error(
    `Cannot find ${fn} on type ${v === null || v === undefined ? '<nil>' : typeof v === 'string' ? 'string' : 'map'}`,
  );
}

/** Deep copy of plain data (maps, lists, scalars). */
export function deepCopy<T>(v: T): T {
  if (Array.isArray(v)) return v.map(deepCopy) as T;
  if (isMap(v)) {
    const o: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) o[k] = deepCopy(val);
    return o as T;
  }
  return v;
}
