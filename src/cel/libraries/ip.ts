// Kubernetes' CEL IP and CIDR libraries (library/ip.go, library/cidr.go): ip(), isIP(), cidr(),
// isCIDR() and their methods. Like upstream, only canonical-enough forms parse: no IPv4-mapped
// IPv6 addresses and no zones.
import type { Environment } from '@marcbachmann/cel-js';
import ipaddr from 'ipaddr.js';

export class CelIP {
  constructor(readonly addr: ipaddr.IPv4 | ipaddr.IPv6) {}
  toString(): string {
    return this.addr.toString();
  }
}

export class CelCIDR {
  constructor(
    readonly addr: ipaddr.IPv4 | ipaddr.IPv6,
    readonly bits: number,
  ) {}
  toString(): string {
    return `${this.addr.toString()}/${this.bits}`;
  }
}

function parseIPStrict(s: string): CelIP | undefined {
  if (s.includes('%')) return undefined;
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) return new CelIP(ipaddr.IPv4.parse(s));
  if (s.includes(':') && ipaddr.IPv6.isValid(s)) {
    const a = ipaddr.IPv6.parse(s);
    if (a.isIPv4MappedAddress() && s.includes('.')) return undefined;
    return new CelIP(a);
  }
  return undefined;
}

function parseCIDRStrict(s: string): CelCIDR | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIPStrict(s.slice(0, slash));
  const bitsText = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  if (bits > (ip.addr.kind() === 'ipv4' ? 32 : 128)) return undefined;
  return new CelCIDR(ip.addr, bits);
}

function must<T>(v: T | undefined, what: string, s: string): T {
  if (v === undefined) throw new Error(`${what} parse error during conversion from string: ${s}`);
  return v;
}

function networkOf(c: CelCIDR): ipaddr.IPv4 | ipaddr.IPv6 {
  const bytes = c.addr.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, c.bits - i * 8));
    bytes[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return ipaddr.fromByteArray(bytes);
}

function contains(c: CelCIDR, ip: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  return ip.kind() === c.addr.kind() && ip.match(networkOf(c), c.bits);
}

const family = (a: ipaddr.IPv4 | ipaddr.IPv6): bigint => (a.kind() === 'ipv4' ? 4n : 6n);

export function registerIP(env: Environment): void {
  env
    .registerType('net.IP', CelIP)
    .registerType('net.CIDR', CelCIDR)
    .registerFunction('ip(string): net.IP', (s: string) => must(parseIPStrict(s), 'IP Address', s))
    .registerFunction('isIP(string): bool', (s: string) => parseIPStrict(s) !== undefined)
    .registerFunction('string(net.IP): string', (ip: CelIP) => ip.toString())
    .registerFunction('net.IP.family(): int', (ip: CelIP) => family(ip.addr))
    .registerFunction('net.IP.isUnspecified(): bool', (ip: CelIP) => ip.addr.range() === 'unspecified')
    .registerFunction('net.IP.isLoopback(): bool', (ip: CelIP) => ip.addr.range() === 'loopback')
    .registerFunction('net.IP.isLinkLocalMulticast(): bool', (ip: CelIP) =>
      ip.addr.kind() === 'ipv4'
        ? ip.addr.match(ipaddr.parseCIDR('224.0.0.0/24'))
        : ip.addr.match(ipaddr.parseCIDR('ff02::/16')),
    )
    .registerFunction('net.IP.isLinkLocalUnicast(): bool', (ip: CelIP) => ip.addr.range() === 'linkLocal')
    .registerFunction('net.IP.isGlobalUnicast(): bool', (ip: CelIP) => {
      const r = ip.addr.range();
      return !['unspecified', 'loopback', 'linkLocal', 'multicast', 'broadcast'].includes(r);
    })
    .registerOperator('net.IP == net.IP', (a: CelIP, b: CelIP) => a.toString() === b.toString())
    .registerFunction('cidr(string): net.CIDR', (s: string) => must(parseCIDRStrict(s), 'network address', s))
    .registerFunction('isCIDR(string): bool', (s: string) => parseCIDRStrict(s) !== undefined)
    .registerFunction('string(net.CIDR): string', (c: CelCIDR) => c.toString())
    .registerFunction('net.CIDR.containsIP(net.IP): bool', (c: CelCIDR, ip: CelIP) => contains(c, ip.addr))
    .registerFunction('net.CIDR.containsIP(string): bool', (c: CelCIDR, s: string) =>
      contains(c, must(parseIPStrict(s), 'IP Address', s).addr),
    )
    .registerFunction(
      'net.CIDR.containsCIDR(net.CIDR): bool',
      (c: CelCIDR, o: CelCIDR) => o.bits >= c.bits && contains(c, o.addr),
    )
    .registerFunction('net.CIDR.containsCIDR(string): bool', (c: CelCIDR, s: string) => {
      const o = must(parseCIDRStrict(s), 'network address', s);
      return o.bits >= c.bits && contains(c, o.addr);
    })
    .registerFunction('net.CIDR.ip(): net.IP', (c: CelCIDR) => new CelIP(c.addr))
    .registerFunction('net.CIDR.masked(): net.CIDR', (c: CelCIDR) => new CelCIDR(networkOf(c), c.bits))
    .registerFunction('net.CIDR.prefixLength(): int', (c: CelCIDR) => BigInt(c.bits))
    .registerOperator('net.CIDR == net.CIDR', (a: CelCIDR, b: CelCIDR) => a.toString() === b.toString());
}
