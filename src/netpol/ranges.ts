// IPv4 address ranges for policy peers: an ipBlock is its CIDR minus its excepts, and a rule's
// peers (pod IPs and blocks) become one list of disjoint ranges, the form an nftables interval set
// accepts (it rejects overlapping elements).

/** An inclusive range of IPv4 addresses as 32-bit numbers. */
export interface Range {
  from: number;
  to: number;
}

export function parseIPv4(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** 10.0.0.0/8 → its range; undefined for anything that is not an IPv4 CIDR (IPv6 blocks match no IPv4 pod). */
export function cidrRange(cidr: string): Range | undefined {
  const [addr, bits] = cidr.split('/');
  const base = parseIPv4(addr);
  const prefix = bits === undefined ? 32 : Number(bits);
  if (base === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  const from = Math.floor(base / size) * size;
  return { from, to: from + size - 1 };
}

/** Sorted, disjoint, adjacent ranges joined. */
export function mergeRanges(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a.from - b.from);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
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
        if (r.from < h.from) next.push({ from: r.from, to: h.from - 1 });
        if (r.to > h.to) next.push({ from: h.to + 1, to: r.to });
      }
    }
    out = next;
  }
  return out;
}

export function rangeContains(ranges: Range[], ip: string): boolean {
  const n = parseIPv4(ip);
  return n !== undefined && ranges.some((r) => r.from <= n && n <= r.to);
}

/** nftables interval-set elements: `10.42.0.5` or `10.0.0.0-10.0.255.255`. */
export function rangeElements(ranges: Range[]): string[] {
  return ranges.map((r) => (r.from === r.to ? formatIPv4(r.from) : `${formatIPv4(r.from)}-${formatIPv4(r.to)}`));
}
