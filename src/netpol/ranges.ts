// Address ranges for policy peers, IPv4 and IPv6 in one 128-bit space: an IPv4 address is kept
// as its IPv4-mapped IPv6 address (::ffff:a.b.c.d), so a rule's peers (pod IPs of both families
// and ipBlocks) become one list of disjoint ranges, which render.ts splits by family into the
// interval sets nftables accepts (it rejects overlapping elements). An ipBlock is its CIDR minus
// its excepts; an IPv6 CIDR never covers the mapped block, so `::/0` matches IPv6 peers only,
// as upstream's reference implementations read it.

/** An inclusive range of addresses as 128-bit numbers (IPv4 mapped into ::ffff:0:0/96). */
export interface Range {
  from: bigint;
  to: bigint;
}

export type Family = 4 | 6;

const V4_BASE = 0xffff_0000_0000n;
/** ::ffff:0.0.0.0 - ::ffff:255.255.255.255: where IPv4 addresses live. */
export const V4_RANGE: Range = { from: V4_BASE, to: V4_BASE + 0xffff_ffffn };

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
    const v = n - V4_BASE;
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
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

/**
 * A CIDR's addresses (its host bits ignored, as upstream's net.ParseCIDR does); [] for anything
 * that is not a CIDR. An IPv6 CIDR loses the IPv4-mapped block (those are IPv4 peers).
 */
export function cidrRanges(cidr: string): Range[] {
  const [addr, bits, extra] = cidr.split('/');
  const base = extra === undefined ? parseIP(addr) : undefined;
  if (base === undefined) return [];
  const v6 = addr.includes(':');
  const width = v6 ? 128 : 32;
  const prefix = bits === undefined ? width : /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
  if (prefix < 0 || prefix > width) return [];
  const size = 1n << BigInt(width - prefix);
  const from = (base / size) * size;
  const r = { from, to: from + size - 1n };
  return v6 ? subtractRanges([r], [V4_RANGE]) : [r];
}

const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
const max = (a: bigint, b: bigint) => (a > b ? a : b);

/** Sorted, disjoint, adjacent ranges joined. */
export function mergeRanges(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => cmp(a.from, b.from));
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1n) last.to = max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}

/** `ranges` without the addresses in `holes`. */
export function subtractRanges(ranges: Range[], holes: Range[]): Range[] {
  let out = mergeRanges(ranges);
  for (const h of mergeRanges(holes)) {
    const next: Range[] = [];
    for (const r of out) {
      if (h.to < r.from || h.from > r.to) next.push(r);
      else {
        if (r.from < h.from) next.push({ from: r.from, to: h.from - 1n });
        if (r.to > h.to) next.push({ from: h.to + 1n, to: r.to });
      }
    }
    out = next;
  }
  return out;
}

export function rangeContains(ranges: Range[], ip: string): boolean {
  const n = parseIP(ip);
  return n !== undefined && ranges.some((r) => r.from <= n && n <= r.to);
}

/** The ranges of one family (a range crossing the IPv4 block's edge is cut there). */
export function familyRanges(ranges: Range[], family: Family): Range[] {
  const out: Range[] = [];
  for (const r of ranges) {
    if (family === 4) {
      const from = max(r.from, V4_RANGE.from);
      const to = r.to < V4_RANGE.to ? r.to : V4_RANGE.to;
      if (from <= to) out.push({ from, to });
    } else out.push(...subtractRanges([r], [V4_RANGE]));
  }
  return out;
}

/** nftables interval-set elements: `10.42.0.5`, `10.0.0.0-10.0.255.255`, `fd00::-fd00::ffff`. */
export function rangeElements(ranges: Range[]): string[] {
  return ranges.map((r) => (r.from === r.to ? formatIP(r.from) : `${formatIP(r.from)}-${formatIP(r.to)}`));
}
