// The address pool of LoadBalancer Services (`k8ts server --lb-address-pool CIDR`, MetalLB's
// IPAddressPool in layer-2 mode): each Service holds at most one address, the lowest free one
// unless it asks for a particular address. The pool keeps no state of its own on disk: on start the
// controller restores it from the Services' status, so allocations survive restarts.
import type { Service } from 'kubernetes-types/core/v1.js';

/** MetalLB's annotations naming the wanted address(es) of a Service (the old name and the current one). */
export const LB_IPS_ANNOTATIONS = ['metallb.io/loadBalancerIPs', 'metallb.universe.tf/loadBalancerIPs'];

interface Range {
  cidr: string;
  first: number;
  last: number;
}

const toInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const toIP = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
const isIPv4 = (s: string) =>
  /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s) && s.split('.').every((o) => +o <= 255);

/** One CIDR (a.b.c.d/n, IPv4) as the range of addresses it hands out. */
export function parsePoolCIDR(cidr: string): Range {
  const [ip, bits, extra] = cidr.trim().split('/');
  const n = Number(bits);
  if (extra !== undefined || !isIPv4(ip) || bits === undefined || !/^\d+$/.test(bits) || n > 32)
    throw new Error(`--lb-address-pool: invalid CIDR ${JSON.stringify(cidr)} (want e.g. 192.168.1.240/28)`);
  const size = 2 ** (32 - n);
  const base = toInt(ip) - (toInt(ip) % size);
  // The network and broadcast addresses of a subnet are left out (hosts and routers mistake them);
  // /31 and /32 have neither.
  return size > 2 ? { cidr, first: base + 1, last: base + size - 2 } : { cidr, first: base, last: base + size - 1 };
}

/** The address a Service asks for: spec.loadBalancerIP (deprecated upstream) or MetalLB's annotation. */
export function requestedAddress(svc: Service): string | undefined {
  for (const a of LB_IPS_ANNOTATIONS) {
    const v = svc.metadata?.annotations?.[a];
    const ip = v
      ?.split(',')
      .map((s) => s.trim())
      .find(isIPv4);
    if (ip) return ip;
  }
  return svc.spec?.loadBalancerIP || undefined;
}

export type Allocation = { ip: string } | { error: string };

export class AddressPool {
  private readonly ranges: Range[];
  /** address → Service key */
  private readonly owners = new Map<string, string>();
  /** Service key → address */
  private readonly byService = new Map<string, string>();

  constructor(cidrs: string[]) {
    this.ranges = cidrs.map(parsePoolCIDR);
  }

  contains(ip: string): boolean {
    if (!isIPv4(ip)) return false;
    const n = toInt(ip);
    return this.ranges.some((r) => n >= r.first && n <= r.last);
  }

  /** The address a Service holds, if any. */
  addressOf(key: string): string | undefined {
    return this.byService.get(key);
  }

  /** Takes `ip` for `key` as found in stored status (on start); false if it is not the pool's or taken. */
  restore(key: string, ip: string): boolean {
    if (!this.contains(ip) || (this.owners.has(ip) && this.owners.get(ip) !== key) || this.byService.has(key))
      return this.byService.get(key) === ip;
    this.take(key, ip);
    return true;
  }

  /**
   * The Service's address: the one it holds if it still fits what it asks for, else the wanted one,
   * else the lowest free one. Errors read as MetalLB's.
   */
  allocate(key: string, wanted?: string): Allocation {
    const held = this.byService.get(key);
    if (held && (!wanted || wanted === held)) return { ip: held };
    if (wanted) {
      if (!this.contains(wanted)) return { error: `Failed to allocate IP for "${key}": ${wanted} is not in the pool` };
      const owner = this.owners.get(wanted);
      if (owner && owner !== key)
        return { error: `Failed to allocate IP for "${key}": ${wanted} is already in use by "${owner}"` };
      this.release(key);
      this.take(key, wanted);
      return { ip: wanted };
    }
    for (const r of this.ranges)
      for (let n = r.first; n <= r.last; n++) {
        const ip = toIP(n);
        if (!this.owners.has(ip)) {
          this.take(key, ip);
          return { ip };
        }
      }
    return { error: `Failed to allocate IP for "${key}": no available IPs` };
  }

  /** Frees the Service's address; whether it held one. */
  release(key: string): boolean {
    const ip = this.byService.get(key);
    if (!ip) return false;
    this.byService.delete(key);
    this.owners.delete(ip);
    return true;
  }

  private take(key: string, ip: string): void {
    this.owners.set(ip, key);
    this.byService.set(key, ip);
  }
}
