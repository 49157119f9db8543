// NetworkPolicy semantics as a pure function: from the policies, the pods and the namespaces, the
// rules one node enforces for its own pods. A pod is isolated in a direction only when some policy
// selecting it has that policyType; what it may then send or receive is the union of those
// policies' rules. Peers of every node are resolved here (a rule names pods anywhere); only local
// pods get isolation (each node judges its own pods' traffic). render.ts turns the result into
// nftables; `allows` reads it the way the rendered rules do, for tests.
import type {
  NetworkPolicy,
  NetworkPolicyEgressRule,
  NetworkPolicyIngressRule,
  NetworkPolicyPeer,
  NetworkPolicyPort,
} from 'kubernetes-types/networking/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import { selectorFromLabelSelectorRaw } from '../machinery/labels.js';
import { cidrRanges, mergeRanges, parseIP, rangeContains, subtractRanges, type Range } from './ranges.js';

export type Protocol = 'tcp' | 'udp' | 'sctp';
export type Direction = 'ingress' | 'egress';

/**
 * What of a pod the rules need; also stands for the cluster DNS listeners (see controller.ts). A
 * dual-stack pod is one endpoint per address (IPv4 and IPv6), each isolated and matched alike.
 */
export interface Endpoint {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ip: string;
  /** Whether this node enforces the pod's isolation. */
  local: boolean;
  /** Named container ports, for rules that name a port. */
  ports: { name: string; protocol: Protocol; port: number }[];
}

export interface PortRange {
  protocol: Protocol;
  from: number;
  to: number;
}

/** A named port resolved on a destination: that address, protocol and port. */
export interface Destination {
  ip: string;
  protocol: Protocol;
  port: number;
}

/** One from/to rule: traffic is allowed when the peer and the port both match. */
export interface CompiledRule {
  /** The remote side (source for ingress, destination for egress); 'any' when the rule names no peers. */
  peers: 'any' | Range[];
  /** Numeric ports; 'any' when the rule names no ports. */
  ports: 'any' | PortRange[];
  /** The rule's named ports, resolved on the destination pods (for ingress: the selected pods). */
  named: Destination[];
}

export interface NodeRules {
  /** `ingress/ns/name` or `egress/ns/name` → the policy's rules in that direction. */
  policies: Map<string, CompiledRule[]>;
  /** Local pod IP → the policy keys isolating it for ingress (sorted). */
  ingress: Map<string, string[]>;
  egress: Map<string, string[]>;
}

export const policyKey = (dir: Direction, p: NetworkPolicy) =>
  `${dir}/${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`;

/** policyTypes as upstream defaults them: Ingress always, Egress when the policy has egress rules. */
export function policyTypes(p: NetworkPolicy): Direction[] {
  const given = p.spec?.policyTypes;
  if (given?.length)
    return given.map((t) => t.toLowerCase() as Direction).filter((t) => t === 'ingress' || t === 'egress');
  return p.spec?.egress?.length ? ['ingress', 'egress'] : ['ingress'];
}

const protocolOf = (p: string | undefined): Protocol => (p ?? 'TCP').toLowerCase() as Protocol;

export function compileNodeRules(
  policies: NetworkPolicy[],
  endpoints: Endpoint[],
  namespaceLabels: Map<string, Record<string, string>>,
): NodeRules {
  const out: NodeRules = { policies: new Map(), ingress: new Map(), egress: new Map() };
  const byNamespace = new Map<string, Endpoint[]>();
  for (const e of endpoints) {
    const list = byNamespace.get(e.namespace);
    if (list) list.push(e);
    else byNamespace.set(e.namespace, [e]);
  }
  const matches = selectorMatcher();
  const ipNumbers = new Map(endpoints.map((e) => [e.ip, parseIP(e.ip) ?? 0]));

  const peerEndpoints = (peer: NetworkPolicyPeer, policyNs: string): Endpoint[] => {
    let candidates: Endpoint[];
    if (peer.namespaceSelector) {
      candidates = [];
      for (const [ns, eps] of byNamespace)
        if (matches(peer.namespaceSelector, namespaceLabels.get(ns) ?? { 'kubernetes.io/metadata.name': ns }))
          candidates.push(...eps);
    } else candidates = byNamespace.get(policyNs) ?? [];
    return peer.podSelector ? candidates.filter((e) => matches(peer.podSelector, e.labels)) : candidates;
  };

  for (const policy of policies) {
    const ns = policy.metadata?.namespace ?? '';
    const selected = (byNamespace.get(ns) ?? []).filter(
      (e) => e.local && matches(policy.spec?.podSelector ?? {}, e.labels),
    );
    for (const dir of policyTypes(policy)) {
      const key = policyKey(dir, policy);
      const rules = (dir === 'ingress' ? policy.spec?.ingress : policy.spec?.egress) ?? [];
      const compiled: CompiledRule[] = [];
      for (const rule of rules) {
        const peers =
          dir === 'ingress' ? (rule as NetworkPolicyIngressRule).from : (rule as NetworkPolicyEgressRule).to;
        let remote: Endpoint[] | 'any' = 'any';
        let addresses: Range[] | 'any' = 'any';
        if (peers?.length) {
          const pods = new Map<string, Endpoint>();
          const blocks: Range[] = [];
          for (const peer of peers) {
            if (peer.ipBlock)
              blocks.push(
                ...subtractRanges(cidrRanges(peer.ipBlock.cidr), (peer.ipBlock.except ?? []).flatMap(cidrRanges)),
              );
            else if (peer.podSelector || peer.namespaceSelector)
              for (const e of peerEndpoints(peer, ns)) pods.set(e.ip, e);
          }
          remote = [...pods.values()];
          addresses = mergeRanges([
            ...blocks,
            ...remote.map((e) => ({ from: ipNumbers.get(e.ip) ?? 0, to: ipNumbers.get(e.ip) ?? 0 })),
          ]);
        }
        compiled.push(compileRule(rule.ports, addresses, dir === 'ingress' ? selected : remote, endpoints));
      }
      out.policies.set(key, compiled);
      for (const e of selected) {
        const isolated = dir === 'ingress' ? out.ingress : out.egress;
        isolated.set(e.ip, [...(isolated.get(e.ip) ?? []), key].sort());
      }
    }
  }
  return out;
}

/** labelSelectorMatches with each selector parsed once (a sync matches every pod against every peer). */
function selectorMatcher(): (ls: LabelSelector | undefined, labels: Record<string, string>) => boolean {
  const parsed = new WeakMap<LabelSelector, ReturnType<typeof selectorFromLabelSelectorRaw> | null>();
  return (ls, labels) => {
    if (!ls) return false;
    let sel = parsed.get(ls);
    if (sel === undefined) {
      try {
        sel = selectorFromLabelSelectorRaw(ls);
      } catch {
        sel = null; // an invalid selector matches nothing
      }
      parsed.set(ls, sel);
    }
    return sel !== null && sel.matches(labels);
  };
}

/** Numeric ports become ranges; a named port resolves on each destination that has it. */
function compileRule(
  ports: NetworkPolicyPort[] | undefined,
  peers: Range[] | 'any',
  destinations: Endpoint[] | 'any',
  all: Endpoint[],
): CompiledRule {
  if (!ports?.length) return { peers, ports: 'any', named: [] };
  const numeric: PortRange[] = [];
  const named: Destination[] = [];
  for (const p of ports) {
    const protocol = protocolOf(p.protocol);
    if (p.port === undefined) numeric.push({ protocol, from: 1, to: 65535 });
    else if (typeof p.port === 'number' || /^\d+$/.test(p.port)) {
      const from = Number(p.port);
      numeric.push({ protocol, from, to: Math.max(from, p.endPort ?? from) });
    } else
      for (const e of destinations === 'any' ? all : destinations)
        for (const cp of e.ports)
          if (cp.name === p.port && cp.protocol === protocol) named.push({ ip: e.ip, protocol, port: cp.port });
  }
  return { peers, ports: numeric, named };
}

/** Whether the rules let a new connection through, as the rendered nftables rules decide. */
export function allows(
  rules: NodeRules,
  packet: { src: string; dst: string; protocol: Protocol; port: number },
): boolean {
  const pass = (dir: Direction): boolean => {
    const keys = (dir === 'ingress' ? rules.ingress : rules.egress).get(dir === 'ingress' ? packet.dst : packet.src);
    if (!keys) return true;
    const remote = dir === 'ingress' ? packet.src : packet.dst;
    return keys.some((k) =>
      (rules.policies.get(k) ?? []).some(
        (r) =>
          (r.peers === 'any' || rangeContains(r.peers, remote)) &&
          (r.ports === 'any' ||
            r.ports.some((p) => p.protocol === packet.protocol && p.from <= packet.port && packet.port <= p.to) ||
            r.named.some((d) => d.ip === packet.dst && d.protocol === packet.protocol && d.port === packet.port)),
      ),
    );
  };
  return pass('egress') && pass('ingress');
}
