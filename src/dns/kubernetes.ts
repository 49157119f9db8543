// The kubernetes plugin: the records of the Kubernetes DNS-based service discovery specification
// (kubernetes/dns docs/specification.md, 1.0.1) as CoreDNS's kubernetes plugin serves them, read
// from a ClusterView on every query (nothing precomputed, so a Service resolves as soon as its
// informer has it).
//
// Names under the zone (labels right to left):
//   dns-version                      TXT with the schema version
//   ns.dns                           A of the kube-dns Service (the NS record's target)
//   <svc>.<ns>.svc                   ClusterIP: A/AAAA of the cluster IPs; headless: one per ready
//                                    endpoint (NXDOMAIN without any); ExternalName: CNAME
//   <host>.<svc>.<ns>.svc            an endpoint by hostname (endpoint.hostname, the pod name with
//                                    endpoint_pod_names, else its address with dashes)
//   _<port>._<proto>.<svc>.<ns>.svc  SRV per named port (N endpoints x M ports when headless)
//   <a-b-c-d>.<ns>.pod               pod A/AAAA (pods insecure | verified | disabled)
// and PTR for cluster IPs and endpoint addresses under in-addr.arpa / ip6.arpa.
// A name that exists with no record of the asked type is NODATA (NOERROR, empty answer); a name
// that does not exist is NXDOMAIN; both carry the zone's SOA in the authority section. Names
// that exist only as parents of others (svc, <ns>.svc, pod, _tcp.<svc>...) are NODATA too.
import ipaddr from 'ipaddr.js';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Answer, RecordType } from './message.js';
import { RCODE, reply, type DnsReply } from './message.js';
import type { DnsRequest, Next, Plugin } from './plugin.js';
import { inZone } from './plugin.js';
import { canonicalIP, SERVICE_NAME_LABEL, TOLERATE_UNREADY, type ClusterView } from './view.js';

export const DNS_SCHEMA_VERSION = '1.0.1';
export type PodsMode = 'disabled' | 'insecure' | 'verified';

export interface KubernetesOptions {
  /** The cluster domain (canonical, e.g. cluster.local). */
  zone: string;
  ttl: number;
  pods: PodsMode;
  /** Endpoint names from their pods' names instead of their addresses (endpoint_pod_names). */
  endpointPodNames: boolean;
  /** Zones whose unknown names go to the next plugin instead of NXDOMAIN (`fallthrough`). */
  fallthrough: string[];
  /** The kube-dns Service, whose address `ns.dns.<zone>` has. */
  dnsService: { namespace: string; name: string };
}

export const DEFAULT_KUBERNETES_OPTIONS: KubernetesOptions = {
  zone: 'cluster.local',
  ttl: 5,
  pods: 'insecure',
  endpointPodNames: false,
  fallthrough: [],
  dnsService: { namespace: 'kube-system', name: 'kube-dns' },
};

/** One usable address of a service's endpoints, with the hostname its records are named by. */
export interface EndpointAddress {
  ip: string;
  v6: boolean;
  hostname: string;
}

interface PortRef {
  name: string;
  protocol: string;
  port: number;
}

/** "10.0.0.1" → "10-0-0-1"; "2001:db8::1" → "2001-db8--1" (CoreDNS's spelling). */
export function dashed(ip: string): string {
  return ip.replace(/[.:]/g, '-');
}

/** The address a reverse name stands for, or undefined. */
export function reverseToIP(name: string): string | undefined {
  if (name.endsWith('.in-addr.arpa')) {
    const parts = name.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && +p <= 255)) return undefined;
    return parts.reverse().join('.');
  }
  if (name.endsWith('.ip6.arpa')) {
    const nibbles = name.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return undefined;
    const hex = nibbles.reverse().join('');
    return canonicalIP(hex.match(/.{4}/g)!.join(':'));
  }
  return undefined;
}

/** The reverse name of an address (for AXFR and tests). */
export function reverseName(ip: string): string {
  const a = ipaddr.parse(ip);
  if (a.kind() === 'ipv4') return `${a.toString().split('.').reverse().join('.')}.in-addr.arpa`;
  const hex = (a as ipaddr.IPv6)
    .toByteArray()
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('');
  return `${hex.split('').reverse().join('.')}.ip6.arpa`;
}

const isHeadless = (s: Service) => !s.spec?.clusterIP || s.spec.clusterIP === 'None';
const isExternalName = (s: Service) => s.spec?.type === 'ExternalName';

export class KubernetesPlugin implements Plugin {
  readonly name = 'kubernetes';

  constructor(
    private readonly view: ClusterView,
    readonly opts: KubernetesOptions = DEFAULT_KUBERNETES_OPTIONS,
  ) {}

  async serve(req: DnsRequest, next: Next): Promise<DnsReply> {
    const { qname, question } = req.query;
    const zone = this.opts.zone;
    if (question.type === 'PTR' && (qname.endsWith('.in-addr.arpa') || qname.endsWith('.ip6.arpa'))) {
      const answers = this.ptr(qname, question.name);
      return answers.length ? reply(RCODE.NOERROR, answers) : next(req);
    }
    if (!inZone(qname, zone)) return next(req);
    if (question.type === 'AXFR' || question.type === 'IXFR') return next(req); // the transfer plugin's
    const labels = qname === zone ? [] : qname.slice(0, -(zone.length + 1)).split('.');
    const found = await this.lookup(labels, question.type, question.name, req);
    if (found.rcode === RCODE.NXDOMAIN && this.opts.fallthrough.some((z) => inZone(qname, z))) return next(req);
    return found;
  }

  /** The zone's SOA record (authority section of negative answers, first and last of AXFR). */
  soa(owner = this.opts.zone): Answer {
    const zone = this.opts.zone;
    return {
      type: 'SOA',
      name: owner,
      ttl: this.opts.ttl,
      class: 'IN',
      data: {
        mname: `ns.dns.${zone}`,
        rname: `hostmaster.${zone}`,
        serial: this.view.serial(),
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: this.opts.ttl,
      },
    };
  }

  private nxdomain(): DnsReply {
    return reply(RCODE.NXDOMAIN, [], [this.soa()]);
  }

  private nodata(): DnsReply {
    return reply(RCODE.NOERROR, [], [this.soa()]);
  }

  /** The answer for a name that exists: its records of the asked type, or NODATA. */
  private answer(records: Answer[], type: RecordType, additionals: Answer[] = []): DnsReply {
    const matching = type === ('ANY' as RecordType) ? records : records.filter((r) => r.type === type);
    return matching.length ? reply(RCODE.NOERROR, matching, [], additionals) : this.nodata();
  }

  private rr(name: string, type: 'A' | 'AAAA' | 'PTR' | 'CNAME' | 'NS', data: string): Answer {
    return { type, name, ttl: this.opts.ttl, class: 'IN', data };
  }

  private addressRecords(name: string, ips: { ip: string; v6: boolean }[]): Answer[] {
    return ips.map((a) => this.rr(name, a.v6 ? 'AAAA' : 'A', a.ip));
  }

  private async lookup(labels: string[], type: RecordType, owner: string, req: DnsRequest): Promise<DnsReply> {
    const zone = this.opts.zone;
    const n = labels.length;
    if (n === 0) {
      const ns = this.rr(owner, 'NS', `ns.dns.${zone}`);
      return this.answer(
        [this.soa(owner), ns],
        type,
        type === 'NS' ? this.addressRecords(`ns.dns.${zone}`, this.dnsServiceIPs()) : [],
      );
    }
    const top = labels[n - 1];
    if (n === 1 && top === 'dns-version')
      return this.answer(
        [{ type: 'TXT', name: owner, ttl: this.opts.ttl, class: 'IN', data: DNS_SCHEMA_VERSION }],
        type,
      );
    if (top === 'dns') {
      if (n === 1) return this.nodata();
      if (n === 2 && labels[0] === 'ns') return this.answer(this.addressRecords(owner, this.dnsServiceIPs()), type);
      return this.nxdomain();
    }
    if (top === 'svc') return this.serviceNames(labels.slice(0, -1), type, owner, req);
    if (top === 'pod') return this.podNames(labels.slice(0, -1), type, owner);
    return this.nxdomain();
  }

  private dnsServiceIPs(): { ip: string; v6: boolean }[] {
    const s = this.view.services.getByName(this.opts.dnsService.namespace, this.opts.dnsService.name);
    return s ? this.clusterIPs(s) : [];
  }

  private namespaceExists(ns: string): boolean {
    return !!this.view.namespaces.get(ns) || this.view.services.listByNamespace(ns).length > 0;
  }

  /** Names under svc.<zone>; `rest` is what precedes "svc", outermost last. */
  private async serviceNames(rest: string[], type: RecordType, owner: string, req: DnsRequest): Promise<DnsReply> {
    const n = rest.length;
    if (n === 0) return this.nodata();
    const ns = rest[n - 1];
    if (n === 1) return this.namespaceExists(ns) ? this.nodata() : this.nxdomain();
    const svc = this.findService(ns, rest[n - 2]);
    if (!svc) return this.nxdomain();
    const svcName = `${svc.metadata!.name}.${svc.metadata!.namespace}.svc.${this.opts.zone}`;
    if (n === 2) return this.serviceRecords(svc, svcName, type, owner, req);
    if (isExternalName(svc)) return this.nxdomain();
    const first = rest[0];
    if (n === 3 && !first.startsWith('_')) {
      const ips = this.endpoints(svc).filter((e) => e.hostname === first);
      return ips.length ? this.answer(this.addressRecords(owner, ips), type) : this.nxdomain();
    }
    // _<port>._<proto>.<svc> (n = 4) and its parent _<proto>.<svc> (n = 3, NODATA when it has children).
    const proto = rest[n - 3];
    if (!proto.startsWith('_') || n > 4 || (n === 4 && !first.startsWith('_'))) return this.nxdomain();
    const srv = this.srvRecords(
      svc,
      svcName,
      owner,
      (p) => `_${p.protocol.toLowerCase()}` === proto && (n === 3 || `_${p.name.toLowerCase()}` === first),
      true,
    );
    if (!srv.answers.length) return this.nxdomain();
    return n === 3 ? this.nodata() : this.answer(srv.answers, type, srv.additionals);
  }

  private findService(ns: string, name: string): Service | undefined {
    // Object names are lower case already (DNS-1035 labels), so the lower-cased query matches them.
    return this.view.services.getByName(ns, name);
  }

  private clusterIPs(svc: Service): { ip: string; v6: boolean }[] {
    const ips = [
      ...new Set(
        [svc.spec?.clusterIP, ...(svc.spec?.clusterIPs ?? [])].map(canonicalIP).filter((x): x is string => !!x),
      ),
    ];
    return ips.map((ip) => ({ ip, v6: ip.includes(':') }));
  }

  private async serviceRecords(
    svc: Service,
    svcName: string,
    type: RecordType,
    owner: string,
    req: DnsRequest,
  ): Promise<DnsReply> {
    if (isExternalName(svc)) {
      const target = (svc.spec?.externalName ?? '').replace(/\.$/, '');
      if (!target) return this.nxdomain();
      const cname = this.rr(owner, 'CNAME', target);
      if (type === 'CNAME') return reply(RCODE.NOERROR, [cname]);
      // Chase the target through the whole chain, as a resolver would have to otherwise.
      const chased = await req.resolve(target, type);
      const rcode = chased.rcode === RCODE.NXDOMAIN ? RCODE.NXDOMAIN : RCODE.NOERROR;
      return reply(
        rcode,
        [cname, ...(chased.rcode === RCODE.NOERROR ? chased.answers : [])],
        chased.rcode === RCODE.NOERROR ? [] : chased.authorities,
      );
    }
    const srv = () => this.srvRecords(svc, svcName, owner, () => true, false);
    if (isHeadless(svc)) {
      const eps = this.endpoints(svc);
      if (!eps.length) return this.nxdomain();
      if (type === 'SRV') return this.answer(srv().answers, type, srv().additionals);
      return this.answer(this.addressRecords(owner, eps), type);
    }
    if (type === 'SRV') return this.answer(srv().answers, type, srv().additionals);
    return this.answer(this.addressRecords(owner, this.clusterIPs(svc)), type);
  }

  /**
   * SRV records of the ports `want` selects: for a ClusterIP service one per port, pointing at
   * the service; for a headless one, one per endpoint and port, pointing at the endpoint's name.
   * `namedOnly`: only named ports (the _port._proto names); a query for the service name itself
   * lists every port, as CoreDNS does.
   */
  private srvRecords(
    svc: Service,
    svcName: string,
    owner: string,
    want: (p: PortRef) => boolean,
    namedOnly: boolean,
  ): { answers: Answer[]; additionals: Answer[] } {
    const answers: Answer[] = [];
    const additionals: Answer[] = [];
    const srv = (port: number, target: string, weight: number): Answer => ({
      type: 'SRV',
      name: owner,
      ttl: this.opts.ttl,
      class: 'IN',
      data: { priority: 0, weight, port, target },
    });
    if (isHeadless(svc)) {
      const ports = this.endpointPorts(svc).filter((p) => (!namedOnly || p.name) && want(p));
      const eps = this.endpoints(svc);
      const weight = Math.max(1, Math.floor(100 / Math.max(1, eps.length)));
      for (const p of ports) {
        for (const e of eps) {
          const target = `${e.hostname}.${svcName}`;
          answers.push(srv(p.port, target, weight));
          if (!additionals.some((a) => a.name === target && 'data' in a && a.data === e.ip))
            additionals.push(...this.addressRecords(target, [e]));
        }
      }
      return { answers, additionals };
    }
    const ports: PortRef[] = (svc.spec?.ports ?? []).map((p) => ({
      name: (p.name ?? '').toLowerCase(),
      protocol: p.protocol ?? 'TCP',
      port: p.port,
    }));
    for (const p of ports.filter((p) => (!namedOnly || p.name) && want(p))) answers.push(srv(p.port, svcName, 100));
    if (answers.length) additionals.push(...this.addressRecords(svcName, this.clusterIPs(svc)));
    return { answers, additionals };
  }

  /** The ports of a headless service's endpoints (the slices', which are the target ports). */
  private endpointPorts(svc: Service): PortRef[] {
    const seen = new Map<string, PortRef>();
    for (const slice of this.slicesOf(svc)) {
      for (const p of slice.ports ?? []) {
        if (p.port === undefined) continue;
        const ref = { name: (p.name ?? '').toLowerCase(), protocol: p.protocol ?? 'TCP', port: p.port };
        seen.set(`${ref.name}/${ref.protocol}/${ref.port}`, ref);
      }
    }
    return [...seen.values()];
  }

  private slicesOf(svc: Service): EndpointSlice[] {
    return this.view.slices.byIndex('service', `${svc.metadata!.namespace}/${svc.metadata!.name}`);
  }

  /**
   * The addresses DNS publishes for a service: ready endpoints (a missing condition means ready),
   * or all of them with publishNotReadyAddresses or the old tolerate-unready-endpoints annotation.
   */
  endpoints(svc: Service): EndpointAddress[] {
    const all = svc.spec?.publishNotReadyAddresses === true || svc.metadata?.annotations?.[TOLERATE_UNREADY] === 'true';
    const out: EndpointAddress[] = [];
    const seen = new Set<string>();
    for (const slice of this.slicesOf(svc)) {
      if (slice.addressType === 'FQDN') continue;
      for (const ep of slice.endpoints ?? []) {
        if (!all && ep.conditions?.ready === false) continue;
        for (const raw of ep.addresses ?? []) {
          const ip = canonicalIP(raw);
          if (!ip) continue;
          const hostname = (
            ep.hostname ??
            (this.opts.endpointPodNames &&
            ep.targetRef?.kind === 'Pod' &&
            /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ep.targetRef.name ?? '')
              ? ep.targetRef.name!
              : dashed(ip))
          ).toLowerCase();
          const key = `${hostname}/${ip}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push({ ip, v6: ip.includes(':'), hostname });
        }
      }
    }
    return out;
  }

  /** Names under pod.<zone>: <a-b-c-d>.<ns>. */
  private podNames(rest: string[], type: RecordType, owner: string): DnsReply {
    if (this.opts.pods === 'disabled') return this.nxdomain();
    const n = rest.length;
    if (n === 0) return this.nodata();
    const ns = rest[n - 1];
    if (n === 1) return this.namespaceExists(ns) ? this.nodata() : this.nxdomain();
    if (n !== 2) return this.nxdomain();
    const dashedIP = rest[0];
    const ip = canonicalIP(
      /^\d+-\d+-\d+-\d+$/.test(dashedIP) ? dashedIP.replace(/-/g, '.') : dashedIP.replace(/-/g, ':'),
    );
    if (!ip) return this.nxdomain();
    if (this.opts.pods === 'verified') {
      const pods = this.view.pods?.byIndex('podIP', ip) ?? [];
      if (!pods.some((p) => p.metadata?.namespace === ns && !p.metadata?.deletionTimestamp)) return this.nxdomain();
    }
    return this.answer(this.addressRecords(owner, [{ ip, v6: ip.includes(':') }]), type);
  }

  private ptr(qname: string, owner: string): Answer[] {
    const ip = reverseToIP(qname);
    if (!ip) return [];
    const names = new Set<string>();
    for (const svc of this.view.services.byIndex('clusterIP', ip))
      names.add(`${svc.metadata!.name}.${svc.metadata!.namespace}.svc.${this.opts.zone}`);
    for (const slice of this.view.slices.byIndex('address', ip)) {
      const svcName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
      const svc = svcName ? this.view.services.getByName(slice.metadata!.namespace, svcName) : undefined;
      if (!svc) continue;
      for (const e of this.endpoints(svc))
        if (e.ip === ip)
          names.add(`${e.hostname}.${svc.metadata!.name}.${svc.metadata!.namespace}.svc.${this.opts.zone}`);
    }
    return [...names].map((n) => this.rr(owner, 'PTR', n));
  }

  /** Every record of the zone, for AXFR (SOA first; the caller repeats it last). */
  *zoneRecords(): Generator<Answer> {
    const zone = this.opts.zone;
    yield this.soa();
    yield this.rr(zone, 'NS', `ns.dns.${zone}`);
    yield* this.addressRecords(`ns.dns.${zone}`, this.dnsServiceIPs());
    yield { type: 'TXT', name: `dns-version.${zone}`, ttl: this.opts.ttl, class: 'IN', data: DNS_SCHEMA_VERSION };
    for (const svc of this.view.services.list()) {
      const svcName = `${svc.metadata!.name}.${svc.metadata!.namespace}.svc.${zone}`;
      if (isExternalName(svc)) {
        if (svc.spec?.externalName) yield this.rr(svcName, 'CNAME', svc.spec.externalName.replace(/\.$/, ''));
        continue;
      }
      const eps = this.endpoints(svc);
      if (isHeadless(svc)) {
        yield* this.addressRecords(svcName, eps);
        for (const e of eps) yield* this.addressRecords(`${e.hostname}.${svcName}`, [e]);
      } else yield* this.addressRecords(svcName, this.clusterIPs(svc));
      const ports = isHeadless(svc)
        ? this.endpointPorts(svc)
        : (svc.spec?.ports ?? []).map((p) => ({
            name: (p.name ?? '').toLowerCase(),
            protocol: p.protocol ?? 'TCP',
            port: p.port,
          }));
      for (const p of ports.filter((p) => p.name)) {
        yield* this.srvRecords(
          svc,
          svcName,
          `_${p.name}._${p.protocol.toLowerCase()}.${svcName}`,
          (q) => q.name === p.name && q.protocol === p.protocol,
          true,
        ).answers;
      }
    }
  }
}
