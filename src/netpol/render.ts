// NodeRules as one nftables table of family inet, IPv4 and IPv6 side by side: every set, map
// and match exists once per family (`ip` and `ip6`), and a pod's addresses of both families lead
// to the same chains. The first load (and any after a failure)
// replaces the whole table in one atomic `nft -f` transaction; later ones carry only the sets,
// chains and map elements that changed, so one policy changed among 1,000 costs one chain.
// Two verdict maps send a packet by pod address to the chain of the policies isolating that pod:
// `ingress-pods` by destination, `egress-pods` by source. A pod chain jumps to each policy's chain,
// whose rules accept, and drops what none accepted. Egress and ingress are separate base chains on
// the forward hook (an accept ends only its own base chain, so egress-allowed traffic is still
// judged by the destination's ingress); pods' traffic to this host (the cluster DNS listener on
// the bridge gateway) is judged for egress on the input hook. They run at filter priority, after
// the service proxy's DNAT (nat prerouting, -100): traffic to a ClusterIP is judged as traffic to
// the backend pod. Replies of allowed connections pass (conntrack), and so does traffic from this
// host to its pods (output hook, not judged): kubelet probes, as kube-router and Calico allow them.
// IPv6 neighbour and router discovery always pass, as in Calico: without them no IPv6 traffic
// (allowed or not) could find its next hop.
import { createHash } from 'node:crypto';
import type { CompiledRule, Direction, NodeRules, PortRange } from './model.js';
import { familyOf, familyRanges, parseIP, rangeElements, type Family } from './ranges.js';

const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 10);

/** `ingress/ns/name` → `in-ns/name` (readable), with a hash so that distinct keys never collide. */
const policyChain = (key: string) => {
  const [dir, ...rest] = key.split('/');
  return `${dir === 'ingress' ? 'in' : 'out'}-${hash(key).slice(0, 6)}-${rest.join('/')}`.slice(0, 200);
};

function portMatch(ports: PortRange[]): string[] {
  const byProto = new Map<string, string[]>();
  for (const p of ports)
    byProto.set(p.protocol, [...(byProto.get(p.protocol) ?? []), p.from === p.to ? `${p.from}` : `${p.from}-${p.to}`]);
  return [...byProto].map(([proto, list]) => `meta l4proto ${proto} th dport { ${list.join(', ')} }`);
}

const FAMILIES = [
  { family: 4, ip: 'ip', type: 'ipv4_addr', suffix: '' },
  { family: 6, ip: 'ip6', type: 'ipv6_addr', suffix: '6' },
] as const;
const POD_MAPS = ['ingress-pods', 'egress-pods', 'ingress-pods6', 'egress-pods6'] as const;
/** Each pod IP's family, remembered (a render asks for every named-port destination of every rule). */
const families = new Map<string, Family>();
function familyOfIP(ip: string): Family {
  let f = families.get(ip);
  if (f === undefined) {
    if (families.size >= 100_000) families.clear(); // pod IPs come and go: stay bounded
    f = familyOf(parseIP(ip) ?? 0);
    families.set(ip, f);
  }
  return f;
}

/** The table's variable part: what updateScript compares. */
export interface RenderedTable {
  /** Set name → its definition and elements. */
  sets: Map<string, { def: string; elements: string[] }>;
  chains: Map<string, string[]>;
  /** Map name → pod IP → verdict. */
  maps: Record<(typeof POD_MAPS)[number], Map<string, string>>;
}

/** The sets and rules of one policy chain. */
function policyRules(key: string, rules: CompiledRule[], sets: RenderedTable['sets']): string[] {
  const dir = key.split('/')[0] as Direction;
  const remote = dir === 'ingress' ? 'saddr' : 'daddr';
  const out: string[] = [];
  rules.forEach((r, i) => {
    if (r.peers !== 'any' && !r.peers.length) return; // selectors that match nothing allow nothing
    for (const f of FAMILIES) {
      // No peer match: the rule holds for both families (the port matches are family-neutral).
      let peer = '';
      if (r.peers !== 'any') {
        const ranges = familyRanges(r.peers, f.family);
        if (!ranges.length) continue;
        const name = `peers${f.suffix}-${hash(`${key}/${i}`)}`;
        sets.set(name, { def: `{ type ${f.type}; flags interval; }`, elements: rangeElements(ranges) });
        peer = `${f.ip} ${remote} @${name} `;
      }
      if (r.ports === 'any') {
        if (peer || f.family === 4) out.push(`${peer}accept`);
        continue;
      }
      if (peer || f.family === 4) for (const m of portMatch(r.ports)) out.push(`${peer}${m} accept`);
      const named = r.named.filter((d) => familyOfIP(d.ip) === f.family);
      if (named.length) {
        const name = `named${f.suffix}-${hash(`${key}/${i}`)}`;
        const elements = [...new Set(named.map((d) => `${d.ip} . ${d.protocol} . ${d.port}`))];
        sets.set(name, { def: `{ type ${f.type} . inet_proto . inet_service; }`, elements });
        out.push(`${peer}${f.ip} daddr . meta l4proto . th dport @${name} accept`);
      }
    }
  });
  return out;
}

export function renderRules(rules: NodeRules): RenderedTable {
  const out: RenderedTable = {
    sets: new Map(),
    chains: new Map(),
    maps: {
      'ingress-pods': new Map(),
      'egress-pods': new Map(),
      'ingress-pods6': new Map(),
      'egress-pods6': new Map(),
    },
  };
  for (const [key, compiled] of rules.policies) out.chains.set(policyChain(key), policyRules(key, compiled, out.sets));
  // Pods isolated by the same policies share one chain.
  for (const dir of ['ingress', 'egress'] as const) {
    const podChains = new Map<string, string>();
    for (const [ip, keys] of dir === 'ingress' ? rules.ingress : rules.egress) {
      const id = keys.join('\n');
      let chain = podChains.get(id);
      if (!chain) {
        chain = `${dir === 'ingress' ? 'pod-in' : 'pod-out'}-${hash(id)}`;
        podChains.set(id, chain);
        out.chains.set(chain, [...keys.map((k) => `jump ${policyChain(k)}`), 'drop']);
      }
      out.maps[`${dir}-pods${familyOfIP(ip) === 6 ? '6' : ''}`].set(ip, `goto ${chain}`);
    }
  }
  return out;
}

const ND_TYPES = 'nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert';

const elementsLine = (t: string, set: string, elements: string[]) =>
  elements.length ? [`add element ${t} ${set} { ${elements.join(', ')} }`] : [];

/** The whole table as an `nft -f` script that replaces what the table held. */
export function fullScript(table: string, r: RenderedTable): string {
  const t = `inet ${table}`;
  const lines = [`add table ${t}`, `delete table ${t}`, `add table ${t}`];
  for (const m of POD_MAPS)
    lines.push(`add map ${t} ${m} { type ${m.endsWith('6') ? 'ipv6' : 'ipv4'}_addr : verdict; }`);
  for (const [name, set] of r.sets)
    lines.push(`add set ${t} ${name} ${set.def}`, ...elementsLine(t, name, set.elements));
  for (const name of r.chains.keys()) lines.push(`add chain ${t} ${name}`);
  for (const [name, rules] of r.chains) for (const rule of rules) lines.push(`add rule ${t} ${name} ${rule}`);
  for (const m of POD_MAPS)
    lines.push(
      ...elementsLine(
        t,
        m,
        [...r.maps[m]].map(([ip, verdict]) => `${ip} : ${verdict}`),
      ),
    );
  const base = (name: string, hook: string, priority: number, addr: 'saddr' | 'daddr', map: string) => [
    `add chain ${t} ${name} { type filter hook ${hook} priority ${priority}; policy accept; }`,
    `add rule ${t} ${name} ct state established,related accept`,
    `add rule ${t} ${name} icmpv6 type { ${ND_TYPES} } accept`,
    `add rule ${t} ${name} ip ${addr} vmap @${map}`,
    `add rule ${t} ${name} ip6 ${addr} vmap @${map}6`,
  ];
  lines.push(
    ...base('forward-egress', 'forward', -1, 'saddr', 'egress-pods'),
    ...base('forward-ingress', 'forward', 0, 'daddr', 'ingress-pods'),
    ...base('input-egress', 'input', 0, 'saddr', 'egress-pods'),
  );
  return `${lines.join('\n')}\n`;
}

/**
 * The transaction from `before` to `after`; empty when nothing changed. Everything is created
 * before anything names it, and deleted only after nothing names it any more: new sets and
 * chains, refilled sets and chains, map elements, then deletions of what is gone.
 */
export function updateScript(table: string, before: RenderedTable, after: RenderedTable): string {
  const t = `inet ${table}`;
  const create: string[] = [];
  const fill: string[] = [];
  const elements: string[] = [];
  const flushGone: string[] = [];
  const deleteGone: string[] = [];
  for (const [name, set] of after.sets) {
    const was = before.sets.get(name);
    if (was && was.elements.join() === set.elements.join()) continue;
    if (was) fill.push(`flush set ${t} ${name}`);
    else create.push(`add set ${t} ${name} ${set.def}`);
    fill.push(...elementsLine(t, name, set.elements));
  }
  for (const [name, rules] of after.chains) {
    const was = before.chains.get(name);
    if (was && was.join('\n') === rules.join('\n')) continue;
    if (was) fill.push(`flush chain ${t} ${name}`);
    else create.push(`add chain ${t} ${name}`);
    for (const rule of rules) fill.push(`add rule ${t} ${name} ${rule}`);
  }
  for (const m of POD_MAPS) {
    const old = before.maps[m];
    const now = after.maps[m];
    const remove = [...old.keys()].filter((ip) => now.get(ip) !== old.get(ip));
    const add = [...now].filter(([ip, verdict]) => old.get(ip) !== verdict).map(([ip, v]) => `${ip} : ${v}`);
    if (remove.length) elements.push(`delete element ${t} ${m} { ${remove.join(', ')} }`);
    elements.push(...elementsLine(t, m, add));
  }
  for (const name of before.chains.keys()) {
    if (after.chains.has(name)) continue;
    flushGone.push(`flush chain ${t} ${name}`);
    deleteGone.push(`delete chain ${t} ${name}`);
  }
  for (const name of before.sets.keys()) if (!after.sets.has(name)) deleteGone.push(`delete set ${t} ${name}`);
  const lines = [...create, ...fill, ...elements, ...flushGone, ...deleteGone];
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** The whole table for `rules` (tests, benchmarks). */
export function renderTable(table: string, rules: NodeRules): string {
  return fullScript(table, renderRules(rules));
}

/** Removes the table (`k8ts killall`, `--disable-network-policy`). */
export function deleteTableScript(table: string): string {
  return `add table inet ${table}\ndelete table inet ${table}\n`;
}
