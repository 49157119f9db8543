// The CRI sandbox configuration of a pod: names and labels the agent finds it by again, hostname,
// DNS (as the kubelet's ClusterFirst / Default / None policies), host ports, namespaces and the
// pod's cgroup parent.
import type { Pod, PodSecurityContext, PodSpec } from 'kubernetes-types/core/v1.js';
import type { PodSandboxConfig, PortMapping } from '../runtime/types.js';
import type { AgentPod } from './types.js';
import { LABEL } from '../runtime/types.js';

export interface DnsSettings {
  /** Cluster DNS servers (--cluster-dns); empty until cluster DNS exists. */
  clusterDNS: string[];
  clusterDomain: string;
  /** The host's resolv.conf, for dnsPolicy Default and as the fallback of ClusterFirst. */
  hostResolv: { servers: string[]; searches: string[]; options: string[] };
}

/** DNS of a pod as upstream's kubelet builds it (ClusterFirst falls back to the host's settings without cluster DNS). */
export function podDNS(pod: Pod, dns: DnsSettings): { servers: string[]; searches: string[]; options: string[] } {
  const spec: PodSpec = pod.spec ?? { containers: [] };
  let policy: string = spec.dnsPolicy ?? 'ClusterFirst';
  if (policy === 'ClusterFirstWithHostNet') policy = 'ClusterFirst';
  else if (policy === 'ClusterFirst' && spec.hostNetwork) policy = 'Default';
  let out = { servers: [] as string[], searches: [] as string[], options: [] as string[] };
  if (policy === 'ClusterFirst' && dns.clusterDNS.length) {
    const ns = pod.metadata?.namespace;
    const d = dns.clusterDomain;
    const searches = [`${ns}.svc.${d}`, `svc.${d}`, d, ...dns.hostResolv.searches];
    out = {
      servers: [...dns.clusterDNS],
      searches: searches.filter((s, i) => searches.indexOf(s) === i),
      options: ['ndots:5'],
    };
  } else if (policy !== 'None') {
    out = {
      servers: [...dns.hostResolv.servers],
      searches: [...dns.hostResolv.searches],
      options: [...dns.hostResolv.options],
    };
  }
  const cfg = spec.dnsConfig;
  if (cfg) {
    for (const s of cfg.nameservers ?? []) if (!out.servers.includes(s)) out.servers.push(s);
    for (const s of cfg.searches ?? []) if (!out.searches.includes(s)) out.searches.push(s);
    const opts = new Map(out.options.map((o) => [o.split(':')[0], o]));
    for (const o of cfg.options ?? []) {
      const name = o.name ?? '';
      opts.set(name, o.value !== undefined ? `${name}:${o.value}` : name);
    }
    out.options = [...opts.values()];
  }
  return fitDNSLimits(out);
}

/** Upstream's resolver limits (kubelet pkg/kubelet/network/dns): 3 nameservers, 32 search domains, 2048 characters of them. */
export const MAX_DNS_NAMESERVERS = 3;
export const MAX_DNS_SEARCH_PATHS = 32;
export const MAX_DNS_SEARCH_LIST_CHARS = 2048;

/** Cuts a resolv.conf to the limits as the kubelet does (it reports the cut in an event; the agent logs it). */
export function fitDNSLimits(c: { servers: string[]; searches: string[]; options: string[] }): {
  servers: string[];
  searches: string[];
  options: string[];
} {
  const searches: string[] = [];
  let chars = 0;
  for (const s of c.searches.filter((x) => x !== '.' && x !== '').slice(0, MAX_DNS_SEARCH_PATHS)) {
    // The length of the search line: names joined by spaces.
    const next = chars + (searches.length ? 1 : 0) + s.length;
    if (next > MAX_DNS_SEARCH_LIST_CHARS) break;
    chars = next;
    searches.push(s);
  }
  return { servers: c.servers.slice(0, MAX_DNS_NAMESERVERS), searches, options: c.options };
}

/** The hostname a pod's containers see: spec.hostname (or the pod name), cut to 63 characters as upstream. */
export function podHostname(pod: AgentPod): string {
  let h: string = pod.spec?.hostname || pod.metadata.name;
  if (h.length > 63) h = h.slice(0, 63).replace(/[-.]+$/, '');
  return h;
}

export function portMappings(pod: Pod): PortMapping[] {
  const out: PortMapping[] = [];
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort) continue;
      out.push({
        protocol: p.protocol === 'UDP' || p.protocol === 'SCTP' ? p.protocol : 'TCP',
        containerPort: p.containerPort,
        hostPort: p.hostPort,
        hostIp: p.hostIP ?? '',
      });
    }
  }
  return out;
}

export function sandboxConfig(
  pod: AgentPod,
  attempt: number,
  opts: { logDirectory: string; dns: DnsSettings; cgroupParent?: string },
): PodSandboxConfig {
  const spec: PodSpec = pod.spec ?? { containers: [] };
  const sc: PodSecurityContext = spec.securityContext ?? {};
  return {
    metadata: { name: pod.metadata.name, uid: pod.metadata.uid, namespace: pod.metadata.namespace ?? '', attempt },
    hostname: spec.hostNetwork ? '' : podHostname(pod),
    logDirectory: opts.logDirectory,
    dnsConfig: podDNS(pod, opts.dns),
    portMappings: portMappings(pod),
    labels: {
      [LABEL.podName]: pod.metadata.name,
      [LABEL.podNamespace]: pod.metadata.namespace ?? '',
      [LABEL.podUID]: pod.metadata.uid,
    },
    annotations: { ...(pod.metadata.annotations ?? {}) },
    linux: {
      cgroupParent: opts.cgroupParent,
      securityContext: {
        namespaceOptions: {
          network: spec.hostNetwork ? 'NODE' : 'POD',
          pid: spec.hostPID ? 'NODE' : 'POD',
          ipc: spec.hostIPC ? 'NODE' : 'POD',
        },
        ...(sc.runAsUser !== undefined ? { runAsUser: { value: sc.runAsUser } } : {}),
        ...(sc.runAsGroup !== undefined ? { runAsGroup: { value: sc.runAsGroup } } : {}),
        supplementalGroups: [...(sc.supplementalGroups ?? []), ...(sc.fsGroup !== undefined ? [sc.fsGroup] : [])],
      },
      sysctls: Object.fromEntries((sc.sysctls ?? []).map((s) => [s.name, s.value])),
    },
  };
}

/** Reads a resolv.conf into servers/searches/options. */
export function parseResolvConf(text: string): { servers: string[]; searches: string[]; options: string[] } {
  const out = { servers: [] as string[], searches: [] as string[], options: [] as string[] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) out.servers.push(rest[0]);
    else if (key === 'search' || key === 'domain') out.searches.push(...rest);
    else if (key === 'options') out.options.push(...rest);
  }
  // A loopback resolver on the host (systemd-resolved, dnsmasq) is unreachable from a pod's network.
  out.servers = out.servers.filter((s) => !s.startsWith('127.') && s !== '::1');
  return out;
}
