// Address ranges for policy peers, IPv4 and IPv6 in one 128-bit space: an IPv4 address is kept
// as its IPv4-mapped IPv6 address (::ffff:a.b.c.d), so a rule's peers (pod IPs of both families
// and ipBlocks) become one list of disjoint ranges, which render.ts splits by family into the
// interval sets nftables accepts (it rejects overlapping elements). An ipBlock is its CIDR minus
// its excepts; an IPv6 CIDR never covers the mapped block, so `::/0` matches IPv6 peers only,
// as upstream's reference implementations read it.
import { formatIP, ipAdd, ipNum, ipSub, parseIP, V4_RANGE, type Family, type IPNum } from '../machinery/ipaddr.js';

export { familyOf, formatIP, parseIP, type Family, type IPNum } from '../machinery/ipaddr.js';

/** An inclusive range of addresses as 128-bit numbers (IPv4 mapped into ::ffff:0:0/96; see IPNum). */
export interface Range {
  from: IPNum;
  to: IPNum;
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
  if (!v6 && typeof base === 'number') {
    // IPv4: exact in doubles (the mapped block's base is a multiple of 2^32).
    const size = 2 ** (32 - prefix);
    const from = base - (base % size);
    return [{ from, to: from + size - 1 }];
  }
  const size = 1n << BigInt(width - prefix);
  const from = (BigInt(base) / size) * size;
  const r = { from: ipNum(from), to: ipNum(from + size - 1n) };
  return v6 ? subtractRanges([r], [V4_RANGE]) : [r];
}

const cmp = (a: IPNum, b: IPNum) => (a < b ? -1 : a > b ? 1 : 0);
const max = (a: IPNum, b: IPNum) => (a > b ? a : b);

/** Sorted, disjoint, adjacent ranges joined. */
export function mergeRanges(ranges: Range[]): Range[] {
  // Numbers only (IPv4 peers, the usual case): a numeric comparator, which sorts several times faster.
  const numeric = ranges.every((r) => typeof r.from === 'number' && typeof r.to === 'number');
  const sorted = [...ranges].sort(
    numeric ? (a, b) => (a.from as number) - (b.from as number) : (a, b) => cmp(a.from, b.from),
  );
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= ipAdd(last.to, 1)) last.to = max(last.to, r.to);
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
        if (r.from < h.from) next.push({ from: r.from, to: ipSub(h.from, 1) });
        if (r.to > h.to) next.push({ from: ipAdd(h.to, 1), to: r.to });
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
    } else if (r.to < V4_RANGE.from || r.from > V4_RANGE.to) out.push(r);
    else out.push(...subtractRanges([r], [V4_RANGE]));
  }
  return out;
}

/** nftables interval-set elements: `10.42.0.5`, `10.0.0.0-10.0.255.255`, `fd00::-fd00::ffff`. */
export function rangeElements(ranges: Range[]): string[] {
  return ranges.map((r) => (r.from === r.to ? formatIP(r.from) : `${formatIP(r.from)}-${formatIP(r.to)}`));
}
