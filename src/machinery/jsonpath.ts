// A small evaluator for Kubernetes JSONPath (k8s.io/client-go/util/jsonpath), covering what
// CRD printer columns and kubectl templates commonly use: `.a.b`, `['quoted key']`, `[n]`,
// `[start:end]`, `[*]`, `.*`, `..name` (recursive descent) and filters
// `[?(@.type=="Ready")]` with ==, !=, <, <=, >, >= or a bare existence test. An expression may
// be wrapped in `{...}` as in templates; only one expression (no text around it) is supported.

export type Segment =
  | { kind: 'field'; name: string }
  | { kind: 'wildcard' }
  | { kind: 'recursive'; name?: string }
  | { kind: 'index'; index: number }
  | { kind: 'slice'; start?: number; end?: number; step?: number }
  | { kind: 'filter'; path: Segment[]; op?: string; value?: string | number | boolean | null };

export class JSONPathError extends Error {}

const IDENT = /^[A-Za-z0-9_\-$/]+/;

/** Parses an expression into segments; throws JSONPathError on bad syntax. */
export function parseJSONPath(expr: string): Segment[] {
  let text = expr.trim();
  if (text.startsWith('{') && text.endsWith('}')) text = text.slice(1, -1).trim();
  if (text.startsWith('$')) text = text.slice(1);
  if (text === '' || text === '.') return [];
  const segs: Segment[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new JSONPathError(`invalid JSONPath ${JSON.stringify(expr)}: ${why}`);
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '.') {
      if (text[i + 1] === '.') {
        i += 2;
        const m = IDENT.exec(text.slice(i));
        if (m) {
          segs.push({ kind: 'recursive', name: m[0] });
          i += m[0].length;
        } else if (text[i] === '*') {
          segs.push({ kind: 'recursive' });
          i++;
        } else segs.push({ kind: 'recursive' });
        continue;
      }
      i++;
      if (text[i] === '*') {
        segs.push({ kind: 'wildcard' });
        i++;
        continue;
      }
      if (text[i] === '[' || i >= text.length) continue;
      const m = IDENT.exec(text.slice(i));
      if (!m) fail(`unexpected ${JSON.stringify(text[i])} at ${i}`);
      segs.push({ kind: 'field', name: m![0] });
      i += m![0].length;
      continue;
    }
    if (c === '[') {
      const end = findClose(text, i);
      if (end < 0) fail('unclosed [');
      const inner = text.slice(i + 1, end).trim();
      i = end + 1;
      segs.push(parseBracket(inner, fail));
      continue;
    }
    // A leading bare name ("spec.replicas").
    const m = IDENT.exec(text.slice(i));
    if (m && segs.length === 0) {
      segs.push({ kind: 'field', name: m[0] });
      i += m[0].length;
      continue;
    }
    fail(`unexpected ${JSON.stringify(c)} at ${i}`);
  }
  return segs;
}

/** Index of the `]` closing the `[` at `open`, skipping quoted strings and nested brackets. */
function findClose(text: string, open: number): number {
  let depth = 0;
  let quote = '';
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']' && --depth === 0) return i;
  }
  return -1;
}

function unquote(s: string): string | undefined {
  if (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s[s.length - 1] === s[0]) {
    return s.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return undefined;
}

function parseBracket(inner: string, fail: (why: string) => never): Segment {
  if (inner === '*') return { kind: 'wildcard' };
  const q = unquote(inner);
  if (q !== undefined) return { kind: 'field', name: q };
  if (/^-?\d+$/.test(inner)) return { kind: 'index', index: Number(inner) };
  if (/^-?\d*:-?\d*(:-?\d*)?$/.test(inner)) {
    const [a, b, c] = inner.split(':');
    const num = (s: string | undefined) => (s === undefined || s === '' ? undefined : Number(s));
    return { kind: 'slice', start: num(a), end: num(b), step: num(c) };
  }
  if (inner.startsWith('?(') && inner.endsWith(')')) {
    const body = inner.slice(2, -1).trim();
    const m = /^@((?:\.[A-Za-z0-9_\-$/]+|\[[^\]]*\])*)\s*(==|!=|<=|>=|<|>)?\s*(.*)$/.exec(body);
    if (!m) fail(`unsupported filter ${JSON.stringify(body)}`);
    const path = parseJSONPath(m[1] || '.');
    if (!m[2]) {
      if (m[3]) fail(`unsupported filter ${JSON.stringify(body)}`);
      return { kind: 'filter', path };
    }
    const lit = m[3].trim();
    let value: string | number | boolean | null;
    const uq = unquote(lit);
    if (uq !== undefined) value = uq;
    else if (lit === 'true' || lit === 'false') value = lit === 'true';
    else if (lit === 'null') value = null;
    else if (lit !== '' && !Number.isNaN(Number(lit))) value = Number(lit);
    else if (lit.startsWith('@')) return fail('comparing two paths is not supported');
    else value = lit;
    return { kind: 'filter', path, op: m[2], value };
  }
  return fail(`unsupported subscript [${inner}]`);
}

function children(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.keys(o)
      .sort()
      .map((k) => o[k]);
  }
  return [];
}

function step(values: unknown[], seg: Segment): unknown[] {
  const out: unknown[] = [];
  for (const v of values) {
    switch (seg.kind) {
      case 'field':
        if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, seg.name))
          out.push((v as any)[seg.name]);
        break;
      case 'wildcard':
        out.push(...children(v));
        break;
      case 'index':
        if (Array.isArray(v)) {
          const i = seg.index < 0 ? v.length + seg.index : seg.index;
          if (i >= 0 && i < v.length) out.push(v[i]);
        }
        break;
      case 'slice':
        if (Array.isArray(v)) {
          const len = v.length;
          const norm = (n: number | undefined, d: number) =>
            n === undefined ? d : n < 0 ? Math.max(0, len + n) : Math.min(n, len);
          const st = seg.step && seg.step > 0 ? seg.step : 1;
          for (let i = norm(seg.start, 0); i < norm(seg.end, len); i += st) out.push(v[i]);
        }
        break;
      case 'recursive': {
        const walk = (x: unknown) => {
          if (x === null || typeof x !== 'object') return;
          if (seg.name === undefined) out.push(...children(x));
          else if (!Array.isArray(x) && Object.hasOwn(x, seg.name)) out.push((x as any)[seg.name]);
          for (const c of children(x)) walk(c);
        };
        walk(v);
        break;
      }
      case 'filter': {
        for (const item of children(v)) {
          const found = evaluate(seg.path, item);
          if (!seg.op) {
            if (found.length) out.push(item);
            continue;
          }
          if (found.some((f) => compare(f, seg.op!, seg.value!))) out.push(item);
        }
        break;
      }
    }
  }
  return out;
}

function compare(a: unknown, op: string, b: string | number | boolean | null): boolean {
  if (op === '==') return a === b || (typeof a === 'number' && typeof b === 'string' && String(a) === b);
  if (op === '!=') return !(a === b || (typeof a === 'number' && typeof b === 'string' && String(a) === b));
  if (typeof a !== typeof b || (typeof a !== 'number' && typeof a !== 'string')) return false;
  const x = a;
  const y = b as number | string;
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    case '>=':
      return x >= y;
  }
  return false;
}

/** Every value the path selects in `data`, in document order. */
export function evaluate(path: Segment[] | string, data: unknown): unknown[] {
  const segs = typeof path === 'string' ? parseJSONPath(path) : path;
  let values: unknown[] = [data];
  for (const seg of segs) {
    values = step(values, seg);
    if (!values.length) break;
  }
  return values;
}

/** A compiled expression, parsed once. */
export class JSONPath {
  readonly segments: Segment[];
  constructor(readonly expression: string) {
    this.segments = parseJSONPath(expression);
  }
  find(data: unknown): unknown[] {
    return evaluate(this.segments, data);
  }
}

/** How kubectl's JSONPath printer renders one value: strings raw, others as JSON. */
export function formatValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return JSON.stringify(v);
}
