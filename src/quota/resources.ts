// Resource lists as upstream's quota helpers (k8s.io/apiserver/pkg/quota/v1): exact Quantity
// arithmetic over maps of resource name → quantity.
import { Quantity, parseQuantityOrNull } from '../machinery/quantity.js';
import { setOwn } from '../machinery/objects.js';

export type ResourceList = Map<string, Quantity>;

export function fromObject(o: Record<string, unknown> | undefined | null): ResourceList {
  const out: ResourceList = new Map();
  for (const [k, v] of Object.entries(o ?? {})) {
    const q = parseQuantityOrNull(v);
    if (q) out.set(k, q);
  }
  return out;
}

export function toObject(l: ResourceList): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [...l.keys()].sort()) setOwn(out, k, l.get(k)!.toString());
  return out;
}

/** a + b (keys of either). */
export function add(a: ResourceList, b: ResourceList): ResourceList {
  const out: ResourceList = new Map(a);
  for (const [k, v] of b) out.set(k, out.has(k) ? out.get(k)!.add(v) : v);
  return out;
}

/** a - b (keys of either; missing ones count as zero). */
export function subtract(a: ResourceList, b: ResourceList): ResourceList {
  const out: ResourceList = new Map(a);
  for (const [k, v] of b) out.set(k, (out.get(k) ?? Quantity.zero(v.format)).sub(v));
  return out;
}

/** Only the named resources. */
export function mask(l: ResourceList, names: Iterable<string>): ResourceList {
  const out: ResourceList = new Map();
  for (const n of names) if (l.has(n)) out.set(n, l.get(n)!);
  return out;
}

/** Whether a ≤ b for every key in both; and the keys where not. */
export function lessThanOrEqual(a: ResourceList, b: ResourceList): { ok: boolean; exceeded: string[] } {
  const exceeded: string[] = [];
  for (const [k, v] of a) {
    const limit = b.get(k);
    if (limit && v.cmp(limit) > 0) exceeded.push(k);
  }
  return { ok: exceeded.length === 0, exceeded };
}

export function isZero(l: ResourceList): boolean {
  for (const v of l.values()) if (!v.isZero()) return false;
  return true;
}

export function equals(a: ResourceList, b: ResourceList): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.cmp(v) !== 0) return false;
  }
  return true;
}

/** upstream prettyPrint: `k=v,k=v` sorted by name. */
export function prettyPrint(l: ResourceList): string {
  return [...l.keys()]
    .sort()
    .map((k) => `${k}=${l.get(k)!.toString()}`)
    .join(',');
}

export const one = (): Quantity => Quantity.fromValue(1);
export const count = (n: number): Quantity => Quantity.fromValue(n);
