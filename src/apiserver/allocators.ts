// Cluster-wide unique assignments: Service cluster IPs from --service-cidr and node ports from
// --service-node-port-range. State is rebuilt from the stored Services at start; creates reserve,
// deletes (and failed creates) release.
import ipaddr from 'ipaddr.js';
import type { Allocators } from '../api/types.js';
import { FieldErrors, invalid, path } from '../machinery/fielderrors.js';

function parseCIDR(cidr: string): { base: bigint; size: bigint; bits: number; kind: 'ipv4' | 'ipv6' } {
  const [addr, prefix] = ipaddr.parseCIDR(cidr);
  const bytes = addr.toByteArray();
  let base = 0n;
  for (const b of bytes) base = (base << 8n) | BigInt(b);
  const bits = bytes.length * 8;
  const size = 1n << BigInt(bits - prefix);
  base &= ~(size - 1n);
  return { base, size, bits, kind: addr.kind() };
}

function toIP(n: bigint, bits: number): string {
  const bytes: number[] = [];
  for (let i = bits / 8 - 1; i >= 0; i--) bytes.push(Number((n >> BigInt(i * 8)) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

function toNumber(ip: string): bigint {
  let n = 0n;
  for (const b of ipaddr.parse(ip).toByteArray()) n = (n << 8n) | BigInt(b);
  return n;
}

export class ServiceAllocators implements Allocators {
  private readonly cidr: ReturnType<typeof parseCIDR>;
  private readonly usedIPs = new Set<string>();
  private readonly usedPorts = new Set<number>();

  constructor(
    private readonly serviceCIDR: string,
    private readonly portRange: [number, number],
  ) {
    this.cidr = parseCIDR(serviceCIDR);
  }

  /** The first address of the range: the `kubernetes` Service's. */
  get apiServerServiceIP(): string {
    return toIP(this.cidr.base + 1n, this.cidr.bits);
  }

  /** Record what existing Services hold (at start). */
  observe(service: any): void {
    for (const ip of service?.spec?.clusterIPs ?? (service?.spec?.clusterIP ? [service.spec.clusterIP] : [])) {
      if (ip && ip !== 'None') this.usedIPs.add(ipaddr.parse(ip).toString());
    }
    for (const p of service?.spec?.ports ?? []) if (p.nodePort) this.usedPorts.add(p.nodePort);
  }

  clusterIP(requested: string | undefined, family: 'IPv4' | 'IPv6', fieldPath: string): string {
    const fp = path(fieldPath);
    if ((family === 'IPv6') !== (this.cidr.kind === 'ipv6')) {
      throw new FieldErrors([
        invalid(fp, requested ?? family, `no ${family} service CIDR is configured on this cluster`),
      ]);
    }
    if (requested) {
      const fail = (why: string) =>
        new FieldErrors([invalid(fp, [requested], `failed to allocate IP ${requested}: ${why}`)]);
      if (!ipaddr.isValid(requested)) throw fail('not a valid IP address');
      const n = toNumber(requested);
      if (n <= this.cidr.base || n >= this.cidr.base + this.cidr.size - (this.cidr.kind === 'ipv4' ? 1n : 0n)) {
        throw fail(
          `the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${this.serviceCIDR}`,
        );
      }
      const ip = ipaddr.parse(requested).toString();
      if (this.usedIPs.has(ip)) throw fail('provided IP is already allocated');
      this.usedIPs.add(ip);
      return ip;
    }
    // Dynamic allocations avoid the low addresses people pick by hand (.1 API, .10 DNS).
    const usable = this.cidr.size - 2n;
    const low = usable > 64n ? 16n : 1n;
    const span = usable - low;
    const start = BigInt(Math.floor(Math.random() * Number(span < 1n << 40n ? span : 1n << 40n)));
    for (let i = 0n; i < span; i++) {
      const ip = toIP(this.cidr.base + low + ((start + i) % span), this.cidr.bits);
      if (!this.usedIPs.has(ip)) {
        this.usedIPs.add(ip);
        return ip;
      }
    }
    throw new FieldErrors([invalid(fp, '', `failed to allocate a serviceIP: range is full`)]);
  }

  releaseClusterIP(ip: string): void {
    if (ip && ip !== 'None' && ipaddr.isValid(ip)) this.usedIPs.delete(ipaddr.parse(ip).toString());
  }

  nodePort(requested: number | undefined, fieldPath: string): number {
    const [lo, hi] = this.portRange;
    if (requested) {
      if (requested < lo || requested > hi) {
        throw new FieldErrors([
          invalid(
            path(fieldPath),
            requested,
            `provided port is not in the valid range. The range of valid ports is ${lo}-${hi}`,
          ),
        ]);
      }
      if (this.usedPorts.has(requested))
        throw new FieldErrors([invalid(path(fieldPath), requested, 'provided port is already allocated')]);
      this.usedPorts.add(requested);
      return requested;
    }
    const span = hi - lo + 1;
    const start = Math.floor(Math.random() * span);
    for (let i = 0; i < span; i++) {
      const p = lo + ((start + i) % span);
      if (!this.usedPorts.has(p)) {
        this.usedPorts.add(p);
        return p;
      }
    }
    throw new FieldErrors([invalid(path(fieldPath), 0, 'range is full')]);
  }

  releaseNodePort(port: number): void {
    this.usedPorts.delete(port);
  }
}
