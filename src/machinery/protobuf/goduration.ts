// metav1.Duration is nanoseconds on the wire and Go's time.Duration text in JSON ("1h0m0s").

const UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, to whole nanoseconds. Throws on text Go would reject. */
export function parseGoDuration(text: string): number {
  let s = text;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (!s) throw new Error(`time: invalid duration ${JSON.stringify(text)}`);
  let total = 0;
  const re = /^([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)/;
  while (s) {
    const m = re.exec(s);
    const unit = m ? UNITS[m[2]] : undefined;
    if (!m || m[1] === '' || m[1] === '.') throw new Error(`time: invalid duration ${JSON.stringify(text)}`);
    if (unit === undefined)
      throw new Error(`time: unknown unit ${JSON.stringify(m[2])} in duration ${JSON.stringify(text)}`);
    total += Number(m[1]) * unit;
    s = s.slice(m[0].length);
  }
  return sign * Math.round(total);
}

/** Digits of `v` after dividing by 10^prec, with trailing zeros (and a bare point) dropped. */
function fraction(v: number, prec: number): string {
  const scale = 10 ** prec;
  const whole = Math.floor(v / scale);
  const frac = (v % scale).toString().padStart(prec, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
}

/** Go's time.Duration.String(). */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(Math.round(ns));
  let out: string;
  if (u < 1e9) {
    if (u < 1e3) out = `${u}ns`;
    else if (u < 1e6) out = `${fraction(u, 3)}µs`;
    else out = `${fraction(u, 6)}ms`;
  } else {
    const secNs = u % 60e9;
    u = Math.floor(u / 60e9);
    out = `${fraction(secNs, 9)}s`;
    if (u > 0) {
      out = `${u % 60}m${out}`;
      u = Math.floor(u / 60);
      if (u > 0) out = `${u}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}
