// The nftables renderer, after kube-proxy's nftables mode (pkg/proxy/nftables/proxier.go): one
// table per cluster, in which verdict maps send `daddr . proto . dport` straight to a Service port's
// chain, so the cost per packet does not grow with the number of Services. A Service chain DNATs
// to an endpoint picked by the Service's scheduler (`numgen inc` for rr, `jhash ip saddr` for sh,
// `numgen random` for what the kernel cannot do; pickExpression) through an inline map of
// addresses, in one rule.
// Unlike upstream there is no chain per endpoint, except for sessionAffinity ClientIP, where an
// endpoint chain records the client in that endpoint's timed set (consulted before the
// scheduler's choice). Why: every `nft -f` lists all chains of the table into nft's cache before it applies
// anything, and at 10,000 Services × 10 endpoints 100,000 endpoint chains made that listing (and
// so every sync) take seconds. Hairpin traffic (an endpoint reaching itself through its Service),
// which upstream marks in the endpoint chain, is recognised in postrouting instead: a DNATed
// packet whose `saddr . daddr` is in the set of `endpoint . endpoint` pairs. Traffic that needs it
// is marked and masqueraded in postrouting; Service ports without endpoints are rejected by
// filter chains that run before DNAT.
//
// Each Service port renders to a Fragment (its chains, sets and map elements), so a sync after the
// first sends only what changed: the transaction flushes and refills changed chains, swaps map
// elements and deletes what is gone, in that order (nothing is deleted while still referenced).
// Only commands that need nft's cache of tables, chains and sets are used (never rule handles,
// positions or listings, which would make nft fetch every rule).
import { createHash } from 'node:crypto';
import type { Endpoint, ServicePort } from './model.js';

export interface NftConfig {
  /** The table's name (family ip); unique per cluster on a host. */
  table: string;
  /** The pod range: traffic to a cluster IP from outside it is masqueraded (undefined: none is). */
  clusterCIDR?: string;
}

/** The mark that asks postrouting to masquerade (upstream's 0x4000). */
export const MASQ_MARK = '0x00004000';

export interface MapElement {
  map: 'service-ips' | 'service-nodeports' | 'no-endpoint-services' | 'no-endpoint-nodeports';
  key: string;
  verdict: string;
}

export interface Fragment {
  chains: Map<string, string[]>;
  /** Set name → its definition (type, flags, timeout). */
  sets: Map<string, string>;
  elements: MapElement[];
  /** The endpoint addresses traffic may be DNATed to (their hairpin pairs; shared between ports). */
  endpointIPs: string[];
}

/** The set of `ip . ip` pairs that postrouting masquerades (an endpoint reaching itself through a Service). */
export const HAIRPIN_SET = 'hairpin-endpoints';

const hash = (s: string) =>
  createHash('sha256').update(s).digest('base64url').replace(/[-_]/g, 'x').slice(0, 8).toUpperCase();

/** `ns/name/proto/portName`, the readable half of upstream's chain names. */
const portTag = (sp: ServicePort) => `${sp.namespace}/${sp.name}/${sp.protocol.toLowerCase()}/${sp.portName}`;

export function serviceChainName(sp: ServicePort): string {
  return `service-${hash(`${sp.key}/${sp.protocol}`)}-${portTag(sp)}`;
}
export function externalChainName(sp: ServicePort): string {
  return `external-${hash(`${sp.key}/${sp.protocol}`)}-${portTag(sp)}`;
}
export function endpointChainName(sp: ServicePort, ep: Endpoint): string {
  return `endpoint-${hash(`${sp.key}/${sp.protocol}/${ep.ip}:${ep.port}`)}-${portTag(sp)}__${ep.ip}/${ep.port}`;
}
function affinitySetName(sp: ServicePort, ep: Endpoint): string {
  return `affinity-${hash(`${sp.key}/${sp.protocol}/${ep.ip}:${ep.port}/${sp.affinitySeconds}`)}`;
}

/** A fixed jhash seed: the same client hashes to the same endpoint on every node and across resyncs. */
export const HASH_SEED = '0x6b387473';

/**
 * The expression that numbers a new connection 0..n-1 for the Service's scheduler (its IPVS name,
 * annotation k8ts.io/lb-scheduler or --lb-scheduler). The kernel knows no connection counts, so the
 * least-connection family (lc, wlc, sed, nq) falls back to random, as upstream's kernel modes do;
 * rr and wrr (every weight is 1) take turns with a counter; sh and dh hash the client's or the
 * destination's address (IPVS's source and destination hashing).
 */
export function pickExpression(sp: ServicePort, n: number): string {
  switch (sp.scheduler) {
    case 'rr':
    case 'wrr':
      return `numgen inc mod ${n}`;
    case 'sh':
      return `jhash ip saddr mod ${n} seed ${HASH_SEED}`;
    case 'dh':
      return `jhash ip daddr mod ${n} seed ${HASH_SEED}`;
    default:
      return `numgen random mod ${n}`;
  }
}

/**
 * The rules that send a packet to one of `eps`: with session affinity, the pinned endpoint first,
 * else the endpoint chain the scheduler picks (which pins the client); without, the endpoint the
 * scheduler picks, DNATed inline.
 */
function dispatch(sp: ServicePort, eps: Endpoint[]): string[] {
  if (sp.affinitySeconds !== undefined) {
    const rules = eps.map((ep) => `ip saddr @${affinitySetName(sp, ep)} goto ${endpointChainName(sp, ep)}`);
    const choices = eps.map((ep, i) => `${i} : goto ${endpointChainName(sp, ep)}`).join(', ');
    rules.push(`${pickExpression(sp, eps.length)} vmap { ${choices} }`);
    return rules;
  }
  const proto = sp.protocol.toLowerCase();
  if (eps.length === 1) return [`meta l4proto ${proto} dnat ip to ${eps[0].ip}:${eps[0].port}`];
  const choices = eps.map((ep, i) => `${i} : ${ep.ip} . ${ep.port}`).join(', ');
  return [`meta l4proto ${proto} dnat ip to ${pickExpression(sp, eps.length)} map { ${choices} }`];
}

/** The chains, sets and map elements of one Service port. */
export function serviceFragment(sp: ServicePort, cfg: NftConfig): Fragment {
  const f: Fragment = { chains: new Map(), sets: new Map(), elements: [], endpointIPs: [] };
  const proto = sp.protocol.toLowerCase();
  const svcChain = serviceChainName(sp);
  const extChain = externalChainName(sp);
  const used = new Map<string, Endpoint>();
  for (const ep of [...sp.clusterEndpoints, ...sp.externalEndpoints]) used.set(`${ep.ip}:${ep.port}`, ep);

  // Traffic to the cluster IPs.
  if (sp.clusterEndpoints.length) {
    const rules: string[] = [];
    if (cfg.clusterCIDR)
      for (const ip of sp.clusterIPs)
        rules.push(`ip daddr ${ip} ${proto} dport ${sp.port} ip saddr != ${cfg.clusterCIDR} jump mark-for-masquerade`);
    rules.push(...dispatch(sp, sp.clusterEndpoints));
    f.chains.set(svcChain, rules);
    for (const ip of sp.clusterIPs)
      f.elements.push({ map: 'service-ips', key: `${ip} . ${proto} . ${sp.port}`, verdict: `goto ${svcChain}` });
  } else {
    // Upstream drops rather than rejects when internalTrafficPolicy Local leaves this node without endpoints others have.
    const verdict = sp.internalPolicyLocal && sp.allEndpoints.length ? 'drop' : 'goto reject-chain';
    for (const ip of sp.clusterIPs)
      f.elements.push({ map: 'no-endpoint-services', key: `${ip} . ${proto} . ${sp.port}`, verdict });
  }

  // Traffic to NodePorts, externalIPs and load-balancer IPs.
  const externalIPs = [...new Set([...sp.externalIPs, ...sp.loadBalancerIPs])];
  if (sp.nodePort || externalIPs.length) {
    if (sp.allEndpoints.length) {
      const rules: string[] = [];
      if (!sp.externalPolicyLocal) {
        // The client address cannot be kept: replies must come back through this node.
        rules.push('jump mark-for-masquerade');
        rules.push(...dispatch(sp, sp.externalEndpoints));
      } else {
        // Local: the client address is kept. Pods and this host are "internal" and may use any endpoint.
        if (sp.clusterEndpoints.length) {
          if (cfg.clusterCIDR) rules.push(`ip saddr ${cfg.clusterCIDR} goto ${svcChain}`);
          rules.push(`fib saddr type local jump mark-for-masquerade`, `fib saddr type local goto ${svcChain}`);
        }
        if (sp.externalEndpoints.length) rules.push(...dispatch(sp, sp.externalEndpoints));
        else rules.push('drop');
      }
      f.chains.set(extChain, rules);
      for (const ip of externalIPs)
        f.elements.push({ map: 'service-ips', key: `${ip} . ${proto} . ${sp.port}`, verdict: `goto ${extChain}` });
      if (sp.nodePort)
        f.elements.push({ map: 'service-nodeports', key: `${proto} . ${sp.nodePort}`, verdict: `goto ${extChain}` });
    } else {
      for (const ip of externalIPs)
        f.elements.push({
          map: 'no-endpoint-services',
          key: `${ip} . ${proto} . ${sp.port}`,
          verdict: 'goto reject-chain',
        });
      if (sp.nodePort)
        f.elements.push({
          map: 'no-endpoint-nodeports',
          key: `${proto} . ${sp.nodePort}`,
          verdict: 'goto reject-chain',
        });
    }
  }

  f.endpointIPs = [...new Set([...used.values()].map((ep) => ep.ip))];
  if (sp.affinitySeconds !== undefined)
    for (const ep of used.values()) {
      const set = affinitySetName(sp, ep);
      f.sets.set(set, `{ type ipv4_addr; flags dynamic,timeout; timeout ${sp.affinitySeconds}s; }`);
      f.chains.set(endpointChainName(sp, ep), [
        `update @${set} { ip saddr }`,
        `meta l4proto ${proto} dnat ip to ${ep.ip}:${ep.port}`,
      ]);
    }
  return f;
}

/** The table's fixed part: hooks, the masquerade machinery, the maps and the chains that read them. */
export function baseRules(cfg: NftConfig): string[] {
  const t = `ip ${cfg.table}`;
  const chain = (name: string, def?: string) => `add chain ${t} ${name}${def ? ` { ${def} }` : ''}`;
  const rule = (name: string, body: string) => `add rule ${t} ${name} ${body}`;
  return [
    chain('nat-prerouting', 'type nat hook prerouting priority -100; policy accept;'),
    chain('nat-output', 'type nat hook output priority -100; policy accept;'),
    chain('nat-postrouting', 'type nat hook postrouting priority 100; policy accept;'),
    // Before DNAT (priority -110), so they see the Service address of a port without endpoints.
    chain('filter-input', 'type filter hook input priority -110; policy accept;'),
    chain('filter-forward', 'type filter hook forward priority -110; policy accept;'),
    chain('filter-output', 'type filter hook output priority -110; policy accept;'),
    chain('services'),
    chain('masquerading'),
    chain('mark-for-masquerade'),
    chain('service-endpoints-check'),
    chain('nodeport-endpoints-check'),
    chain('reject-chain'),
    `add map ${t} service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }`,
    `add map ${t} service-nodeports { type inet_proto . inet_service : verdict; }`,
    `add map ${t} no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict; }`,
    `add map ${t} no-endpoint-nodeports { type inet_proto . inet_service : verdict; }`,
    `add set ${t} ${HAIRPIN_SET} { type ipv4_addr . ipv4_addr; }`,
    rule('nat-prerouting', 'jump services'),
    rule('nat-output', 'jump services'),
    rule('nat-postrouting', 'jump masquerading'),
    rule('filter-input', 'ct state new jump nodeport-endpoints-check'),
    rule('filter-input', 'ct state new jump service-endpoints-check'),
    rule('filter-forward', 'ct state new jump service-endpoints-check'),
    rule('filter-output', 'ct state new jump service-endpoints-check'),
    rule('mark-for-masquerade', `meta mark set meta mark or ${MASQ_MARK}`),
    rule('masquerading', `ct status dnat ip saddr . ip daddr @${HAIRPIN_SET} jump mark-for-masquerade`),
    rule('masquerading', `meta mark & ${MASQ_MARK} == 0 return`),
    rule('masquerading', `meta mark set meta mark xor ${MASQ_MARK}`),
    rule('masquerading', 'masquerade fully-random'),
    rule('services', 'ip daddr . meta l4proto . th dport vmap @service-ips'),
    // NodePorts on every local address but loopback (upstream does not serve them on 127.0.0.1 either).
    rule('services', 'fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports'),
    rule('service-endpoints-check', 'ip daddr . meta l4proto . th dport vmap @no-endpoint-services'),
    rule(
      'nodeport-endpoints-check',
      'fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports',
    ),
    rule('reject-chain', 'reject'),
  ];
}

function fragmentLines(t: string, f: Fragment): string[] {
  const out: string[] = [];
  for (const [name, def] of f.sets) out.push(`add set ${t} ${name} ${def}`);
  for (const name of f.chains.keys()) out.push(`add chain ${t} ${name}`);
  for (const [name, rules] of f.chains) for (const r of rules) out.push(`add rule ${t} ${name} ${r}`);
  for (const e of f.elements) out.push(`add element ${t} ${e.map} { ${e.key} : ${e.verdict} }`);
  return out;
}

/** The whole table, replacing whatever the table held (one atomic `nft -f`). */
export function fullSync(cfg: NftConfig, fragments: Iterable<Fragment>): string {
  const t = `ip ${cfg.table}`;
  const lines = [`add table ${t}`, `delete table ${t}`, `add table ${t}`, ...baseRules(cfg)];
  const endpointIPs = new Set<string>();
  for (const f of fragments) {
    lines.push(...fragmentLines(t, f));
    for (const ip of f.endpointIPs) endpointIPs.add(ip);
  }
  for (const ip of endpointIPs) lines.push(hairpinElement('add', t, ip));
  return `${lines.join('\n')}\n`;
}

const hairpinElement = (op: 'add' | 'delete', t: string, ip: string) =>
  `${op} element ${t} ${HAIRPIN_SET} { ${ip} . ${ip} }`;

/** How many Service ports use each endpoint address (a hairpin pair stays while any does). */
export function endpointUse(fragments: Iterable<Fragment>): Map<string, number> {
  const use = new Map<string, number>();
  for (const f of fragments) for (const ip of f.endpointIPs) use.set(ip, (use.get(ip) ?? 0) + 1);
  return use;
}

const elementId = (e: MapElement) => `${e.map}|${e.key}`;

/**
 * The transaction from `before` to `after` (keyed by Service port): only the Service ports whose
 * fragment changed are touched. Empty when nothing changed. `use` is endpointUse(before), which
 * this updates to endpointUse(after) (callers keep it between syncs rather than recount).
 */
export function partialSync(
  cfg: NftConfig,
  before: Map<string, Fragment>,
  after: Map<string, Fragment>,
  use: Map<string, number> = endpointUse(before.values()),
): string {
  const t = `ip ${cfg.table}`;
  const removeElements: string[] = [];
  const addSets: string[] = [];
  const addChains: string[] = [];
  const fill: string[] = [];
  const addElements: string[] = [];
  const deleteChains: string[] = [];
  const deleteSets: string[] = [];
  const empty: Fragment = { chains: new Map(), sets: new Map(), elements: [], endpointIPs: [] };
  /** Endpoint address → whether a hairpin pair was installed before this transaction. */
  const hairpinBefore = new Map<string, boolean>();
  const count = (ip: string, delta: number) => {
    const n = use.get(ip) ?? 0;
    if (!hairpinBefore.has(ip)) hairpinBefore.set(ip, n > 0);
    if (n + delta > 0) use.set(ip, n + delta);
    else use.delete(ip);
  };
  const keys = [...before.keys()];
  for (const key of after.keys()) if (!before.has(key)) keys.push(key);
  for (const key of keys) {
    const old = before.get(key) ?? empty;
    const now = after.get(key) ?? empty;
    if (old === now) continue;
    for (const ip of old.endpointIPs) count(ip, -1);
    for (const ip of now.endpointIPs) count(ip, +1);
    const nowElements = new Map(now.elements.map((e) => [elementId(e), e]));
    const oldElements = new Map(old.elements.map((e) => [elementId(e), e]));
    for (const [id, e] of oldElements) {
      const n = nowElements.get(id);
      if (!n || n.verdict !== e.verdict) removeElements.push(`delete element ${t} ${e.map} { ${e.key} }`);
    }
    for (const [id, e] of nowElements) {
      const o = oldElements.get(id);
      if (!o || o.verdict !== e.verdict) addElements.push(`add element ${t} ${e.map} { ${e.key} : ${e.verdict} }`);
    }
    for (const [name, def] of now.sets) if (old.sets.get(name) !== def) addSets.push(`add set ${t} ${name} ${def}`);
    for (const [name, rules] of now.chains) {
      const was = old.chains.get(name);
      if (was && was.join('\n') === rules.join('\n')) continue;
      addChains.push(`add chain ${t} ${name}`);
      if (was) fill.push(`flush chain ${t} ${name}`);
      for (const r of rules) fill.push(`add rule ${t} ${name} ${r}`);
    }
    for (const name of old.chains.keys())
      if (!now.chains.has(name)) deleteChains.push(`flush chain ${t} ${name}`, `delete chain ${t} ${name}`);
    for (const name of old.sets.keys()) if (!now.sets.has(name)) deleteSets.push(`delete set ${t} ${name}`);
  }
  for (const [ip, was] of hairpinBefore) {
    const now = use.has(ip);
    if (was && !now) removeElements.push(hairpinElement('delete', t, ip));
    if (!was && now) addElements.push(hairpinElement('add', t, ip));
  }
  // Every chain exists before a rule names it; chains are flushed before any is deleted, since a
  // deleted endpoint chain may still be named by the old rules of a service chain refilled here.
  const flushFirst = deleteChains.filter((l) => l.startsWith('flush'));
  const deletes = deleteChains.filter((l) => l.startsWith('delete'));
  const lines = [
    ...removeElements,
    ...addSets,
    ...addChains,
    ...flushFirst,
    ...fill,
    ...addElements,
    ...deletes,
    ...deleteSets,
  ];
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** Removes the table (`k8ts killall`, `--disable-kube-proxy` cleanup). */
export function deleteTable(table: string): string {
  return `add table ip ${table}\ndelete table ip ${table}\n`;
}
