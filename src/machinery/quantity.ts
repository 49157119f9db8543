// resource.Quantity as upstream k8s.io/apimachinery/pkg/api/resource: a fixed-point number with a
// suffix format. The value is held exactly as `unscaled * 10^scale` (bigint), never as a float.
// Parsing, rounding (up to 1n), the canonical string form and the "keep the user's string when it
// is already canonical" rule all follow upstream, so stored objects round-trip byte for byte.
import { type FieldError, type FieldPath, invalid } from './fielderrors.js';

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

const SPLIT_RE = '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$';
export const ERR_FORMAT_WRONG = `quantities must match the regular expression '${SPLIT_RE}'`;
export const ERR_NUMERIC = 'unable to parse numeric part of quantity';
export const ERR_SUFFIX = "unable to parse quantity's suffix";

/** Smallest representable scale: nano. */
const NANO = -9;
/** Upstream maxInt64Factors: most decimal digits an int64 fast path accepts. */
const MAX_INT64_FACTORS = 18;
const MAX_INT64 = (1n << 63n) - 1n;

const BINARY_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const DECIMAL_BY_EXP = new Map<number, string>(Object.entries(DECIMAL_SUFFIXES).map(([s, e]) => [e, s]));
const BINARY_BY_EXP = new Map<number, string>(Object.entries(BINARY_SUFFIXES).map(([s, e]) => [e, s]));

interface Suffix {
  base: 2 | 10;
  exponent: number;
  format: QuantityFormat;
}

function interpretSuffix(s: string): Suffix | null {
  if (s in BINARY_SUFFIXES) return { base: 2, exponent: BINARY_SUFFIXES[s], format: 'BinarySI' };
  if (s in DECIMAL_SUFFIXES) return { base: 10, exponent: DECIMAL_SUFFIXES[s], format: 'DecimalSI' };
  if (s.length > 1 && (s[0] === 'e' || s[0] === 'E')) {
    // Go strconv.ParseInt: optional sign then decimal digits.
    if (!/^[+-]?[0-9]+$/.test(s.slice(1))) return null;
    const e = Number(s.slice(1));
    if (!Number.isSafeInteger(e) || Math.abs(e) > 2 ** 31 - 1) return null;
    return { base: 10, exponent: e, format: 'DecimalExponent' };
  }
  return null;
}

const isDigit = (c: string): boolean => c >= '0' && c <= '9';

interface Scanned {
  positive: boolean;
  num: string;
  denom: string;
  suffix: string;
}

/** Upstream parseQuantityString: sign, number (leading zeros dropped), fraction, suffix. */
function scan(str: string): Scanned {
  let positive = true;
  let pos = 0;
  const end = str.length;
  if (str[0] === '-') {
    positive = false;
    pos++;
  } else if (str[0] === '+') {
    pos++;
  }
  while (pos < end && str[pos] === '0') pos++;
  if (pos >= end) return { positive, num: '0', denom: '', suffix: '' };
  let i = pos;
  while (i < end && isDigit(str[i])) i++;
  const num = str.slice(pos, i) || '0';
  pos = i;
  let denom = '';
  if (pos < end && str[pos] === '.') {
    pos++;
    i = pos;
    while (i < end && isDigit(str[i])) i++;
    denom = str.slice(pos, i);
    pos = i;
  }
  const suffixStart = pos;
  while (pos < end && 'eEinumkKMGTP'.includes(str[pos])) pos++;
  if (pos < end && (str[pos] === '-' || str[pos] === '+')) pos++;
  while (pos < end && isDigit(str[pos])) pos++;
  if (pos < end) throw new Error(ERR_FORMAT_WRONG);
  return { positive, num, denom, suffix: str.slice(suffixStart) };
}

const pow10 = (n: number): bigint => 10n ** BigInt(n);
const abs = (v: bigint): bigint => (v < 0n ? -v : v);

/** v / 10^n rounded away from zero, and whether it was exact. */
function scaleDownAway(v: bigint, n: number): { v: bigint; exact: boolean } {
  if (n <= 0) return { v: v * pow10(-n), exact: true };
  const d = pow10(n);
  const q = v / d;
  const r = v % d;
  if (r === 0n) return { v: q, exact: true };
  return { v: v > 0n ? q + 1n : q - 1n, exact: false };
}

export class Quantity {
  /** value = unscaled * 10^scale */
  private constructor(
    private readonly unscaled: bigint,
    private readonly scale: number,
    readonly format: QuantityFormat,
    private cached?: string,
  ) {}

  /** Upstream ParseQuantity. Throws Error with upstream's messages. Numbers are formatted first. */
  static parse(input: string | number): Quantity {
    const str = typeof input === 'number' ? numberToString(input) : input;
    if (typeof str !== 'string' || str.length === 0) throw new Error(ERR_FORMAT_WRONG);
    if (str === '0') return new Quantity(0n, 0, 'DecimalSI', '0');
    const { positive, num, denom, suffix } = scan(str);
    const sfx = interpretSuffix(suffix);
    if (!sfx) throw new Error(ERR_SUFFIX);

    // Fast path (upstream's int64 path): keeps the user's string when it is canonical.
    let precision: number;
    let scale = 0;
    let mantissa = 1n;
    if (sfx.base === 10) {
      scale = sfx.exponent;
      precision = MAX_INT64_FACTORS - (num.length + denom.length);
    } else if (denom.length === 0) {
      mantissa = 1n << BigInt(sfx.exponent);
      precision = 15 - num.length - Math.trunc((sfx.exponent * 3) / 10) - 1;
    } else {
      precision = -1;
    }
    if (precision >= 0) {
      scale -= denom.length;
      if (scale >= NANO) {
        const shifted = num + denom;
        const value = BigInt(shifted);
        const result = value * mantissa;
        if (value <= MAX_INT64 && result <= MAX_INT64) {
          const signed = positive ? result : -result;
          let keep: boolean;
          if (sfx.format === 'BinarySI') keep = sfx.exponent % 10 === 0 && (value & 7n) !== 0n;
          else keep = mod(scale, 3) === 0 && !shifted.endsWith('000') && shifted[0] !== '0';
          return new Quantity(signed, scale, sfx.format, keep ? str : undefined);
        }
      }
    }

    // Slow path (upstream's inf.Dec path): exact, rounded up to 1n, BinarySI capped at max int64.
    if (!/^[0-9]*$/.test(num + denom)) throw new Error(ERR_NUMERIC);
    let unscaled = BigInt(num + denom || '0');
    let sc = -denom.length;
    if (sfx.base === 10) sc += sfx.exponent;
    else unscaled *= 1n << BigInt(sfx.exponent);
    if (unscaled !== 0n && sc < NANO) {
      unscaled = scaleDownAway(unscaled, NANO - sc).v;
      sc = NANO;
    }
    let format = sfx.format;
    if (format === 'BinarySI') {
      if (cmpParts(unscaled, sc, MAX_INT64, 0) > 0) {
        unscaled = MAX_INT64;
        sc = 0;
      }
      if (unscaled !== 0n && cmpParts(unscaled, sc, 1n, 0) < 0) format = 'DecimalSI';
    }
    return new Quantity(positive ? unscaled : -unscaled, sc, format);
  }

  /** upstream NewQuantity: an integer number of base units. */
  static fromValue(v: number | bigint, format: QuantityFormat = 'DecimalSI'): Quantity {
    return new Quantity(BigInt(v), 0, format);
  }

  /** upstream NewMilliQuantity: v thousandths of a unit. */
  static fromMilli(v: number | bigint, format: QuantityFormat = 'DecimalSI'): Quantity {
    return new Quantity(BigInt(v), -3, format);
  }

  /** upstream NewScaledQuantity: v * 10^scale. */
  static fromScaled(v: number | bigint, scale: number, format: QuantityFormat = 'DecimalSI'): Quantity {
    return new Quantity(BigInt(v), scale, format);
  }

  static zero(format: QuantityFormat = 'DecimalSI'): Quantity {
    return new Quantity(0n, 0, format);
  }

  /** ceil(q * 10^scale), rounded away from zero, as a bigint (upstream ScaledValue). */
  scaledValueBig(scale: number): bigint {
    return scaleDownAway(this.unscaled, scale - this.scale).v;
  }

  /** Integer base units, rounded up (away from zero) like upstream Value(). */
  value(): number {
    return Number(this.scaledValueBig(0));
  }

  /** Thousandths of a unit, rounded up (away from zero) like upstream MilliValue(). */
  milliValue(): number {
    return Number(this.scaledValueBig(-3));
  }

  valueBig(): bigint {
    return this.scaledValueBig(0);
  }

  milliValueBig(): bigint {
    return this.scaledValueBig(-3);
  }

  /** The value as a float, as exact as a double allows. */
  asNumber(): number {
    return Number(`${this.unscaled}e${this.scale}`);
  }

  sign(): -1 | 0 | 1 {
    return this.unscaled < 0n ? -1 : this.unscaled > 0n ? 1 : 0;
  }

  isZero(): boolean {
    return this.unscaled === 0n;
  }

  cmp(o: Quantity): -1 | 0 | 1 {
    return cmpParts(this.unscaled, this.scale, o.unscaled, o.scale);
  }

  equals(o: Quantity): boolean {
    return this.cmp(o) === 0;
  }

  /** A new quantity; keeps this one's format unless this is zero (then o's), as upstream Add. */
  add(o: Quantity): Quantity {
    const s = Math.min(this.scale, o.scale);
    const v = this.unscaled * pow10(this.scale - s) + o.unscaled * pow10(o.scale - s);
    return new Quantity(v, s, this.isZero() ? o.format : this.format);
  }

  /** A new quantity; keeps this one's format unless this is zero (then o's), as upstream Sub. */
  sub(o: Quantity): Quantity {
    return this.add(o.neg().withFormat(o.format));
  }

  neg(): Quantity {
    return new Quantity(-this.unscaled, this.scale, this.format);
  }

  /** Same value, another format (canonical string recomputed). */
  withFormat(format: QuantityFormat): Quantity {
    return format === this.format ? this : new Quantity(this.unscaled, this.scale, format);
  }

  /**
   * Upstream RoundUp(scale): the value rounded away from zero to a multiple of 10^scale (the
   * defaulting of resource lists uses -3). Keeps this object (and its string) when already fine.
   */
  roundUp(scale: number): Quantity {
    if (this.scale >= scale) return this;
    const r = scaleDownAway(this.unscaled, scale - this.scale);
    return r.exact ? this : new Quantity(r.v, scale, this.format);
  }

  /** Multiplies by an integer (e.g. per-replica requests times replicas). */
  mul(n: number | bigint): Quantity {
    return new Quantity(this.unscaled * BigInt(n), this.scale, this.format);
  }

  /** The canonical upstream form (or the parsed string when it already was canonical). */
  toString(): string {
    if (this.cached === undefined) this.cached = this.canonical();
    return this.cached;
  }

  toJSON(): string {
    return this.toString();
  }

  private canonical(): string {
    if (this.unscaled === 0n) return '0';
    let format = this.format;
    let rounded = 0n;
    if (format === 'BinarySI') {
      if (cmpParts(this.unscaled, this.scale, -1024n, 0) > 0 && cmpParts(this.unscaled, this.scale, 1024n, 0) < 0) {
        format = 'DecimalSI';
      } else {
        const r = scaleDownAway(this.unscaled, -this.scale);
        if (!r.exact) format = 'DecimalSI';
        rounded = r.v;
      }
    }
    if (format === 'BinarySI') {
      let v = rounded;
      let exp = 0;
      while (exp < 6 && abs(v) >= 1024n && v % 1024n === 0n) {
        v /= 1024n;
        exp++;
      }
      return `${v}${exp === 0 ? '' : (BINARY_BY_EXP.get(exp * 10) as string)}`;
    }
    // Decimal: move factors of ten into the exponent, then make the exponent a multiple of 3.
    let v = this.unscaled;
    let exp = this.scale;
    while (abs(v) >= 10n && v % 10n === 0n) {
      v /= 10n;
      exp++;
    }
    while (mod(exp, 3) !== 0) {
      v *= 10n;
      exp--;
    }
    if (format === 'DecimalExponent') return exp === 0 ? `${v}` : `${v}e${exp}`;
    // DecimalSI: upstream has suffixes from n to E. Values past E keep the E suffix; values below
    // n cannot be produced by parsing (they round up to 1n).
    while (exp > 18) {
      v *= 1000n;
      exp -= 3;
    }
    while (exp < -9) {
      v = scaleDownAway(v, 3).v;
      exp += 3;
    }
    return `${v}${DECIMAL_BY_EXP.get(exp) as string}`;
  }
}

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

function cmpParts(a: bigint, as: number, b: bigint, bs: number): -1 | 0 | 1 {
  const s = Math.min(as, bs);
  const x = a * pow10(as - s);
  const y = b * pow10(bs - s);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A JSON number as its JSON text (what upstream parses when a quantity is sent unquoted). */
function numberToString(n: number): string {
  return String(n);
}

/** The quantity, or null when `s` is not a valid quantity string or number. */
export function parseQuantityOrNull(s: unknown): Quantity | null {
  if (s instanceof Quantity) return s;
  if (typeof s !== 'string' && typeof s !== 'number') return null;
  try {
    return Quantity.parse(s);
  } catch {
    return null;
  }
}

/** Field errors for a value that must be a quantity (strings and numbers accepted; absent ok). */
export function validateQuantity(v: unknown, p: FieldPath): FieldError[] {
  if (v === undefined || v === null || v instanceof Quantity) return [];
  if (typeof v !== 'string' && typeof v !== 'number') return [invalid(p, v, ERR_FORMAT_WRONG)];
  try {
    Quantity.parse(v);
    return [];
  } catch (e) {
    return [invalid(p, v, (e as Error).message)];
  }
}

/** Upstream ValidateNonnegativeQuantity: the value shown is the canonical form. */
export function validateNonNegativeQuantity(v: unknown, p: FieldPath): FieldError[] {
  const errs = validateQuantity(v, p);
  if (errs.length) return errs;
  const q = parseQuantityOrNull(v);
  if (q && q.sign() < 0) return [invalid(p, q.toString(), 'must be greater than or equal to 0')];
  return [];
}
