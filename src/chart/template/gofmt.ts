// Go's fmt for the values templates handle: %v printing of maps/slices/floats, Sprintf verbs,
// Sprint/Sprintln spacing rules and strconv.Quote.
import { GoStruct, goTypeName, isMap, sortedKeys } from './values.js';

/** strconv.FormatFloat(f, 'g', -1, 64) with fmt's %v exponent rule (exponent < -4 or >= 21 → e-form). */
export function formatFloat(f: number, verb = 'g', prec = -1): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  switch (verb) {
    case 'f':
    case 'F':
      return fixNegZero(f, toFixedHalfEven(f, prec < 0 ? 6 : prec));
    case 'e':
    case 'E': {
      const p = prec < 0 ? 6 : prec;
      const r = roundSignificant(f, p + 1);
      const mant = p > 0 ? r.digits[0] + '.' + r.digits.slice(1) : r.digits[0];
      const es = Math.abs(r.exp) < 10 ? '0' + Math.abs(r.exp) : String(Math.abs(r.exp));
      const s = `${f < 0 || Object.is(f, -0) ? '-' : ''}${mant}e${r.exp < 0 ? '-' : '+'}${es}`;
      return verb === 'E' ? s.toUpperCase() : s;
    }
  }
  // 'g': shortest representation decides digits; %e form when exp < -4 || exp >= eprec.
  let digits: string;
  let exp: number;
  if (prec < 0) {
    const [m, e] = f.toExponential().split('e');
    digits = m.replace('-', '').replace('.', '');
    exp = Number(e);
  } else {
    const r = roundSignificant(f, prec === 0 ? 1 : prec);
    digits = r.digits.replace(/0+$/, '') || '0';
    exp = r.exp;
  }
  let eprec = prec < 0 ? 6 : prec === 0 ? 1 : prec;
  if (prec >= 0 && eprec > digits.length && digits.length >= exp + 1) eprec = digits.length;
  const neg = f < 0 || Object.is(f, -0) ? '-' : '';
  if (exp < -4 || exp >= eprec) {
    const mant = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits;
    const es = Math.abs(exp) < 10 ? '0' + Math.abs(exp) : String(Math.abs(exp));
    return `${neg}${mant}${verb === 'G' ? 'E' : 'e'}${exp < 0 ? '-' : '+'}${es}`;
  }
  let s: string;
  if (exp < 0) s = '0.' + '0'.repeat(-exp - 1) + digits;
  else if (digits.length <= exp + 1) s = digits + '0'.repeat(exp + 1 - digits.length);
  else s = digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
  return neg + s;
}

/** The exact decimal digits of |f| and the power of ten of the last one (|f| = digits × 10^scale). */
function exactDecimal(f: number): { digits: string; scale: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(f));
  const hi = view.getUint32(0);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  let exp = biased - 1075;
  if (biased === 0) exp = -1074;
  else mant |= 1n << 52n;
  if (exp >= 0) return { digits: (mant << BigInt(exp)).toString(), scale: 0 };
  // mant / 2^k = mant * 5^k / 10^k
  return { digits: (mant * 5n ** BigInt(-exp)).toString(), scale: exp };
}

/** |f| rounded to n significant digits, exact ties to even; exp is the power of ten of the first digit. */
function roundSignificant(f: number, n: number): { digits: string; exp: number } {
  if (f === 0) return { digits: '0'.repeat(n), exp: 0 };
  const { digits: all, scale } = exactDecimal(f);
  let exp = all.length - 1 + scale;
  if (all.length <= n) return { digits: all.padEnd(n, '0'), exp };
  let kept = BigInt(all.slice(0, n));
  const rest = all.slice(n);
  const half = rest[0] > '5' || (rest[0] === '5' && /[1-9]/.test(rest.slice(1)));
  const tie = rest[0] === '5' && !/[1-9]/.test(rest.slice(1));
  if (half || (tie && kept % 2n === 1n)) kept += 1n;
  let digits = kept.toString();
  if (digits.length > n) {
    digits = digits.slice(0, n);
    exp += 1;
  }
  return { digits, exp };
}

/**
 * Fixed-point formatting from the double's exact value, rounding exact ties to even as Go's
 * strconv does (JS toFixed rounds 2.5 to "3", Go's %.0f gives "2").
 */
function toFixedHalfEven(f: number, prec: number): string {
  if (Math.abs(f) >= 1e21) return f.toFixed(prec);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(f));
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp = biased - 1075;
  if (biased === 0) exp = -1074;
  else mant |= 1n << 52n;
  // |f| = mant * 2^exp; scaled = |f| * 10^prec = num / den.
  let num = mant * 10n ** BigInt(prec);
  let den = 1n;
  if (exp >= 0) num <<= BigInt(exp);
  else den <<= BigInt(-exp);
  let q = num / den;
  const r2 = (num % den) * 2n;
  if (r2 > den || (r2 === den && q % 2n === 1n)) q += 1n;
  let digits = q.toString().padStart(prec + 1, '0');
  if (prec > 0) digits = digits.slice(0, -prec) + '.' + digits.slice(-prec);
  return (f < 0 ? '-' : '') + digits;
}

function fixNegZero(f: number, s: string): string {
  return Object.is(f, -0) || (f < 0 && !s.startsWith('-')) ? '-' + s : s;
}

/** strconv.Quote. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c === 0xfffd && ch !== '\ufffd') out += '\\ufffd';
    else if ((c >= 0x80 && c < 0xa0) || c === 0xad || c === 0x2028 || c === 0x2029 || (c >= 0xd800 && c < 0xe000))
      out += c > 0xffff ? '\\U' + c.toString(16).padStart(8, '0') : '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

/** fmt's %v. */
export function formatValue(v: unknown, plus = false): string {
  if (v === null || v === undefined) return '<nil>';
  switch (typeof v) {
    case 'string':
      return v;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return v.toString();
    case 'number':
      return formatFloat(v);
    case 'function':
      return '0x1';
  }
  if (v instanceof Uint8Array) return '[' + Array.from(v).join(' ') + ']';
  if (Array.isArray(v)) return '[' + v.map((e) => formatValue(e, plus)).join(' ') + ']';
  if (v instanceof GoStruct) {
    if (v.stringer) return v.stringer();
    const parts = Object.entries(v.fields).map(([k, f]) => (plus ? `${k}:` : '') + formatValue(f, plus));
    return '{' + parts.join(' ') + '}';
  }
  if (v instanceof Error) return v.message;
  const m = v as Record<string, unknown>;
  return (
    'map[' +
    sortedKeys(m)
      .map((k) => `${k}:${formatValue(m[k], plus)}`)
      .join(' ') +
    ']'
  );
}

/** fmt.Sprint: spaces are added between operands when neither side is a string. */
export function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a);
  });
  return out;
}

export function sprintln(args: unknown[]): string {
  return args.map((a) => formatValue(a)).join(' ') + '\n';
}

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width?: number;
  prec?: number;
}

function badVerb(verb: string, v: unknown): string {
  if (v === null || v === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${goTypeName(v)}=${formatValue(v)})`;
}

function pad(s: string, spec: Spec, numeric = false): string {
  if (spec.width === undefined || s.length >= spec.width) return s;
  const fill = spec.width - [...s].length;
  if (fill <= 0) return s;
  if (spec.minus) return s + ' '.repeat(fill);
  if (spec.zero && numeric) {
    const sign = /^[+-]/.test(s) ? s[0] : '';
    return sign + '0'.repeat(fill) + s.slice(sign.length);
  }
  return ' '.repeat(fill) + s;
}

function formatInt(n: bigint, verb: string, spec: Spec): string {
  const neg = n < 0n;
  const abs = neg ? -n : n;
  let body: string;
  switch (verb) {
    case 'd':
    case 'v':
      body = abs.toString();
      break;
    case 'x':
      body = (spec.sharp ? '0x' : '') + abs.toString(16);
      break;
    case 'X':
      body = (spec.sharp ? '0X' : '') + abs.toString(16).toUpperCase();
      break;
    case 'o':
      body = (spec.sharp ? '0' : '') + abs.toString(8);
      break;
    case 'O':
      body = '0o' + abs.toString(8);
      break;
    case 'b':
      body = abs.toString(2);
      break;
    case 'c':
      return pad(String.fromCodePoint(Number(n)), spec);
    case 'q':
      return pad(`'${String.fromCodePoint(Number(n))}'`, spec);
    case 'U':
      return pad('U+' + abs.toString(16).toUpperCase().padStart(4, '0'), spec);
    default:
      return badVerb(verb, n);
  }
  if (spec.prec !== undefined) body = body.padStart(spec.prec, '0');
  const sign = neg ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  return pad(sign + body, spec, spec.prec === undefined);
}

function formatOne(verb: string, v: unknown, spec: Spec): string {
  if (verb === 'T') return pad(v === null || v === undefined ? '<nil>' : goTypeName(v), spec);
  if (verb === 'v') {
    if (typeof v === 'bigint') return formatInt(v, 'd', spec);
    if (typeof v === 'number') return formatFloatSpec(v, 'g', spec);
    if (typeof v === 'string' && spec.sharp) return pad(goQuote(v), spec);
    return pad(formatValue(v, spec.plus), spec);
  }
  if (v === null || v === undefined) return badVerb(verb, v);
  if (Array.isArray(v) && verb !== 'q' && !(verb === 's' && false)) {
    return pad('[' + v.map((e) => formatOne(verb, e, { ...spec, width: undefined })).join(' ') + ']', spec);
  }
  if (isMap(v)) {
    return (
      'map[' +
      sortedKeys(v)
        .map((k) => `${formatOne(verb, k, {} as Spec)}:${formatOne(verb, v[k], {} as Spec)}`)
        .join(' ') +
      ']'
    );
  }
  switch (typeof v) {
    case 'string':
      switch (verb) {
        case 's':
          return pad(spec.prec !== undefined ? [...v].slice(0, spec.prec).join('') : v, spec);
        case 'q':
          return pad(spec.sharp && !v.includes('`') ? '`' + v + '`' : goQuote(v), spec);
        case 'x':
        case 'X': {
          const hex = Buffer.from(v, 'utf8').toString('hex');
          return pad(verb === 'X' ? hex.toUpperCase() : hex, spec);
        }
      }
      return badVerb(verb, v);
    case 'boolean':
      return verb === 't' ? pad(String(v), spec) : badVerb(verb, v);
    case 'bigint':
      return formatInt(v, verb, spec);
    case 'number':
      if ('eEfFgG'.includes(verb)) return formatFloatSpec(v, verb, spec);
      return badVerb(verb, v);
  }
  if (v instanceof Uint8Array) {
    if (verb === 's') return pad(Buffer.from(v).toString('utf8'), spec);
    if (verb === 'x') return pad(Buffer.from(v).toString('hex'), spec);
    if (verb === 'q') return pad(goQuote(Buffer.from(v).toString('utf8')), spec);
  }
  if (v instanceof GoStruct && v.stringer && (verb === 's' || verb === 'q')) {
    const s = v.stringer();
    return pad(verb === 'q' ? goQuote(s) : s, spec);
  }
  if (v instanceof Error && verb === 's') return pad(v.message, spec);
  return badVerb(verb, v);
}

function formatFloatSpec(v: number, verb: string, spec: Spec): string {
  let s = formatFloat(v, verb === 'v' ? 'g' : verb, spec.prec ?? -1);
  if (verb === 'F') s = s.toUpperCase();
  if (!s.startsWith('-') && (spec.plus || spec.space) && !Number.isNaN(v)) s = (spec.plus ? '+' : ' ') + s;
  return pad(s, spec, Number.isFinite(v));
}

/** fmt.Sprintf. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argi = 0;
  let i = 0;
  while (i < format.length) {
    const c = format[i];
    if (c !== '%') {
      const next = format.indexOf('%', i);
      const end = next < 0 ? format.length : next;
      out += format.slice(i, end);
      i = end;
      continue;
    }
    i++;
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const spec: Spec = { minus: false, plus: false, sharp: false, space: false, zero: false };
    for (; i < format.length; i++) {
      const f = format[i];
      if (f === '-') spec.minus = true;
      else if (f === '+') spec.plus = true;
      else if (f === '#') spec.sharp = true;
      else if (f === ' ') spec.space = true;
      else if (f === '0') spec.zero = !spec.minus;
      else break;
    }
    const readNum = (): number | undefined => {
      if (format[i] === '*') {
        i++;
        const a = args[argi++];
        return typeof a === 'bigint' ? Number(a) : undefined;
      }
      const m = /^\d+/.exec(format.slice(i));
      if (!m) return undefined;
      i += m[0].length;
      return Number(m[0]);
    };
    spec.width = readNum();
    if (format[i] === '.') {
      i++;
      spec.prec = readNum() ?? 0;
    }
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatOne(verb, args[argi++], spec);
  }
  if (argi < args.length) {
    out +=
      '%!(EXTRA ' +
      args
        .slice(argi)
        .map((a) => (a === null || a === undefined ? '<nil>' : `${goTypeName(a)}=${formatValue(a)}`))
        .join(', ') +
      ')';
  }
  return out;
}
