// IP addresses of both families as numbers of one 128-bit space: an IPv4 address is its
// IPv4-mapped IPv6 address (::ffff:a.b.c.d), so ranges and arithmetic need no second code path
// (network policy peers, node IPAM's IPv6 ranges).

export type Family = 4 | 6;

const V4_BASE = 0xffff_0000_0000n;
/** ::ffff:0.0.0.0 - ::ffff:255.255.255.255: where IPv4 addresses live. */
export const V4_RANGE = { from: V4_BASE, to: V4_BASE + 0xffff_ffffn };

function parseV4Number(ip: string): bigint | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256n + BigInt(p);
  }
  return n;
}

function parseV6(ip: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(ip) || ip.split('::').length > 2) return undefined;
  // A dotted IPv4 tail (::ffff:10.0.0.1) stands for the last two groups.
  let text = ip;
  const dot = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = parseV4Number(text.slice(dot + 1));
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, dot + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
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
  return n;
}

/** An IPv4 or IPv6 address as its number in the shared space; undefined if it is neither. */
export function parseIP(ip: string): bigint | undefined {
  if (ip.includes(':')) return parseV6(ip);
  const v4 = parseV4Number(ip);
  return v4 === undefined ? undefined : V4_BASE + v4;
}

export function familyOf(n: bigint): Family {
  return n >= V4_RANGE.from && n <= V4_RANGE.to ? 4 : 6;
}

/** The address in its usual text: dotted IPv4, or IPv6 with the longest run of zero groups as `::`. */
export function formatIP(n: bigint): string {
  if (familyOf(n) === 4) {
    const v = Number(n - V4_BASE);
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const g: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) g.push(((n >> s) & 0xffffn).toString(16));
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
