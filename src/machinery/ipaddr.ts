// IP addresses of both families as numbers of one 128-bit space: an IPv4 address is its
// IPv4-mapped IPv6 address (::ffff:a.b.c.d), so ranges and arithmetic need no second code path
// (network policy peers, node IPAM's IPv6 ranges).
//
// An address is an IPNum: a plain number when its value fits in a double exactly (every IPv4
// address: the mapped block ends at 2^48), a bigint only above that (IPv6). Each value has one
// form, so `===` compares addresses, and `<`/`>` compare numbers with bigints exactly. IPv4 work
// (the common case: policy peers of 1,000s of pods) then never touches bigint arithmetic; use
// ipAdd/ipSub for arithmetic, which keep the form.

export type Family = 4 | 6;
export type IPNum = number | bigint;

const V4_BASE = 0xffff_0000_0000;
/** ::ffff:0.0.0.0 - ::ffff:255.255.255.255: where IPv4 addresses live. */
export const V4_RANGE: { from: IPNum; to: IPNum } = { from: V4_BASE, to: V4_BASE + 0xffff_ffff };

const MAX_NUM = BigInt(Number.MAX_SAFE_INTEGER);

/** The one form of a value: a number when it fits exactly, else the bigint. */
export function ipNum(n: bigint): IPNum {
  return n <= MAX_NUM ? Number(n) : n;
}

/** `a + d` (d small, non-negative), in its one form. */
export function ipAdd(a: IPNum, d: number): IPNum {
  if (typeof a === 'number') {
    const s = a + d;
    return s <= Number.MAX_SAFE_INTEGER ? s : BigInt(a) + BigInt(d);
  }
  return a + BigInt(d);
}

/** `a - d` (d small, non-negative, a ≥ d), in its one form. */
export function ipSub(a: IPNum, d: number): IPNum {
  return typeof a === 'number' ? a - d : ipNum(a - BigInt(d));
}

/** The dotted quad's value 0..2^32-1, or -1 (digits only, 1-3 of them, each part ≤ 255). */
function parseV4Value(ip: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255 || ++dots > 3) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (++digits > 3) return -1;
      part = part * 10 + (c - 48);
    } else return -1;
  }
  if (dots !== 3 || digits === 0 || part > 255) return -1;
  return n * 256 + part;
}

function parseV6(ip: string): IPNum | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(ip) || ip.split('::').length > 2) return undefined;
  // A dotted IPv4 tail (::ffff:10.0.0.1) stands for the last two groups.
  let text = ip;
  const dot = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = parseV4Value(text.slice(dot + 1));
    if (v4 < 0) return undefined;
    text = `${text.slice(0, dot + 1)}${Math.floor(v4 / 65536).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const missing = 8 - h.length - t.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const all = [...h, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...t];
  let n = 0n;
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  return ipNum(n);
}

/** An IPv4 or IPv6 address as its number in the shared space; undefined if it is neither. */
export function parseIP(ip: string): IPNum | undefined {
  if (ip.includes(':')) return parseV6(ip);
  const v4 = parseV4Value(ip);
  return v4 < 0 ? undefined : V4_BASE + v4;
}

export function familyOf(n: IPNum): Family {
  return n >= V4_RANGE.from && n <= V4_RANGE.to ? 4 : 6;
}

/** The address in its usual text: dotted IPv4, or IPv6 with the longest run of zero groups as `::`. */
export function formatIP(a: IPNum): string {
  const n = typeof a === 'bigint' ? ipNum(a) : a;
  if (typeof n === 'number' && n >= V4_BASE && n <= V4_BASE + 0xffff_ffff) {
    const v = n - V4_BASE;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const b = BigInt(n);
  const g: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) g.push(((b >> s) & 0xffffn).toString(16));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`;
}
