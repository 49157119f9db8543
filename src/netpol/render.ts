// NodeRules as one nftables table of family inet, replaced in one atomic `nft -f` transaction.
// Two verdict maps send a packet by pod address to the chain of the policies isolating that pod:
// `ingress-pods` by destination, `egress-pods` by source. A pod chain jumps to each policy's chain,
// whose rules accept, and drops what none accepted. Egress and ingress are separate base chains on
// the forward hook (an accept ends only its own base chain, so egress-allowed traffic is still
// judged by the destination's ingress); pods' traffic to this host (the cluster DNS listener on
// the bridge gateway) is judged for egress on the input hook. They run at filter priority, after
// the service proxy's DNAT (nat prerouting, -100): traffic to a ClusterIP is judged as traffic to
// the backend pod. Replies of allowed connections pass (conntrack), and so does traffic from this
// host to its pods (output hook, not judged): kubelet probes, as kube-router and Calico allow them.
import { createHash } from 'node:crypto';
import type { CompiledRule, Direction, NodeRules, PortRange } from './model.js';
import { rangeElements } from './ranges.js';

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

/** The sets and rules of one policy chain. */
function policyRules(key: string, rules: CompiledRule[], sets: string[], table: string): string[] {
  const dir = key.split('/')[0] as Direction;
  const remote = dir === 'ingress' ? 'saddr' : 'daddr';
  const out: string[] = [];
  rules.forEach((r, i) => {
    let peer = '';
    if (r.peers !== 'any') {
      if (!r.peers.length) return; // selectors that match nothing allow nothing
      const name = `peers-${hash(`${key}/${i}`)}`;
      sets.push(
        `add set ${table} ${name} { type ipv4_addr; flags interval; elements = { ${rangeElements(r.peers).join(', ')} }; }`,
      );
      peer = `ip ${remote} @${name} `;
    }
    if (r.ports === 'any') {
      out.push(`${peer}accept`);
      return;
    }
    for (const m of portMatch(r.ports)) out.push(`${peer}${m} accept`);
    if (r.named.length) {
      const name = `named-${hash(`${key}/${i}`)}`;
      const elements = [...new Set(r.named.map((d) => `${d.ip} . ${d.protocol} . ${d.port}`))];
      sets.push(
        `add set ${table} ${name} { type ipv4_addr . inet_proto . inet_service; elements = { ${elements.join(', ')} }; }`,
      );
      out.push(`${peer}ip daddr . meta l4proto . th dport @${name} accept`);
    }
  });
  return out;
}

/** The whole table as an `nft -f` script that replaces what the table held. */
export function renderTable(table: string, rules: NodeRules): string {
  const t = `inet ${table}`;
  const head = [
    `add table ${t}`,
    `delete table ${t}`,
    `add table ${t}`,
    `add map ${t} ingress-pods { type ipv4_addr : verdict; }`,
    `add map ${t} egress-pods { type ipv4_addr : verdict; }`,
  ];
  const sets: string[] = [];
  const chains: string[] = [];
  const body: string[] = [];
  for (const [key, compiled] of rules.policies) {
    const name = policyChain(key);
    chains.push(`add chain ${t} ${name}`);
    for (const r of policyRules(key, compiled, sets, t)) body.push(`add rule ${t} ${name} ${r}`);
  }
  // Pods isolated by the same policies share one chain.
  const elements: string[] = [];
  for (const dir of ['ingress', 'egress'] as const) {
    const podChains = new Map<string, string>();
    for (const [ip, keys] of dir === 'ingress' ? rules.ingress : rules.egress) {
      const id = keys.join('\n');
      let chain = podChains.get(id);
      if (!chain) {
        chain = `${dir === 'ingress' ? 'pod-in' : 'pod-out'}-${hash(id)}`;
        podChains.set(id, chain);
        chains.push(`add chain ${t} ${chain}`);
        for (const k of keys) body.push(`add rule ${t} ${chain} jump ${policyChain(k)}`);
        body.push(`add rule ${t} ${chain} drop`);
      }
      elements.push(`add element ${t} ${dir}-pods { ${ip} : goto ${chain} }`);
    }
  }
  const base = (name: string, hook: string, priority: number, match: string) => [
    `add chain ${t} ${name} { type filter hook ${hook} priority ${priority}; policy accept; }`,
    `add rule ${t} ${name} ct state established,related accept`,
    `add rule ${t} ${name} ${match}`,
  ];
  return `${[
    ...head,
    ...sets,
    ...chains,
    ...body,
    ...elements,
    ...base('forward-egress', 'forward', -1, 'ip saddr vmap @egress-pods'),
    ...base('forward-ingress', 'forward', 0, 'ip daddr vmap @ingress-pods'),
    ...base('input-egress', 'input', 0, 'ip saddr vmap @egress-pods'),
  ].join('\n')}\n`;
}

/** Removes the table (`k8ts killall`, `--disable-network-policy`). */
export function deleteTableScript(table: string): string {
  return `add table inet ${table}\ndelete table inet ${table}\n`;
}
