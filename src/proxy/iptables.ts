// The iptables proxy mode, after kube-proxy's (pkg/proxy/iptables/proxier.go), for hosts whose
// nftables is too old: chains of this cluster's own (named <PREFIX>-SERVICES, <PREFIX>-SVC-…,
// <PREFIX>-SEP-…, the prefix derived from the data dir) programmed with `iptables-restore
// --noflush`, so rules k8ts did not write are never touched. <PREFIX>-SERVICES matches each
// Service address and port in turn (cost grows with the number of Services, as upstream's); a
// Service chain marks hairpin traffic (an endpoint's own address as the source) for masquerade
// and DNATs to an endpoint picked by the Service's scheduler as far as iptables can (pickRules):
// rr/wrr take turns (`statistic --mode nth` cascade), sh pins each client with `recent` (as
// sessionAffinity ClientIP does), the others pick at random as upstream. Unlike upstream there is no
// chain per endpoint (except for sessionAffinity, whose `recent` lists need one): iptables-nft
// spends time per rule × chain named (CHAINS_PER_RESTORE), and 100,000 endpoint chains made a
// 10,000-Service sync take over ten minutes. The price: a connection from an endpoint to its own
// Service is masqueraded whichever endpoint it lands on (upstream: only when it lands on itself).
// A sync after the first rewrites only the chains whose rules changed, in runs of bounded size.
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import type { Endpoint, ServicePort } from './model.js';
import type { ProxyBackend } from './proxier.js';

export interface IptConfig {
  /** Upper-case prefix of every chain (from the cluster's table name). */
  prefix: string;
  clusterCIDR?: string;
}

const MARK = '0x4000';
const hash = (s: string) =>
  createHash('sha256').update(s).digest('base64url').replace(/[-_]/g, 'X').slice(0, 10).toUpperCase();

export interface IptRules {
  /** chain → rules (without `-A chain`), per table. */
  nat: Map<string, string[]>;
  filter: Map<string, string[]>;
}

export function chainPrefix(table: string): string {
  return table.toUpperCase();
}

/** The top-level chains and where they are jumped to from the built-in chains. */
export function hookJumps(p: string): [table: string, builtin: string, chain: string, extra: string[]][] {
  return [
    ['nat', 'PREROUTING', `${p}-SERVICES`, []],
    ['nat', 'OUTPUT', `${p}-SERVICES`, []],
    ['nat', 'POSTROUTING', `${p}-POSTROUTING`, []],
    ['filter', 'INPUT', `${p}-REJECTS`, ['-m', 'conntrack', '--ctstate', 'NEW']],
    ['filter', 'FORWARD', `${p}-REJECTS`, ['-m', 'conntrack', '--ctstate', 'NEW']],
    ['filter', 'OUTPUT', `${p}-REJECTS`, ['-m', 'conntrack', '--ctstate', 'NEW']],
  ];
}

/** What one Service port adds: its own chains, and its lines of the shared top-level chains. */
export interface PortRules {
  nat: Map<string, string[]>;
  services: string[];
  nodeports: string[];
  rejects: string[];
}

/**
 * Every chain and rule of the model. `cache` (kept by the caller between syncs) maps a Service
 * port object to its rendering: ModelTracker keeps unchanged ports' objects, so a sync renders
 * only the ports that changed (hashing every chain name of 10,000 Services takes seconds).
 */
export function renderIptables(
  ports: ServicePort[],
  cfg: IptConfig,
  cache?: WeakMap<ServicePort, PortRules>,
): IptRules {
  const p = cfg.prefix;
  const nat = new Map<string, string[]>();
  const services: string[] = [];
  const nodeports: string[] = [];
  const rejects: string[] = [];
  nat.set(`${p}-POSTROUTING`, [
    `-m mark ! --mark ${MARK}/${MARK} -j RETURN`,
    `-j MARK --xor-mark ${MARK}`,
    '-j MASQUERADE --random-fully',
  ]);
  for (const sp of ports) {
    let r = cache?.get(sp);
    if (!r) {
      r = portRules(sp, cfg);
      cache?.set(sp, r);
    }
    for (const [name, rules] of r.nat) nat.set(name, rules);
    services.push(...r.services);
    nodeports.push(...r.nodeports);
    rejects.push(...r.rejects);
  }
  services.push(`-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j ${p}-NODEPORTS`);
  nat.set(`${p}-SERVICES`, services);
  nat.set(`${p}-NODEPORTS`, nodeports);
  return { nat, filter: new Map([[`${p}-REJECTS`, rejects]]) };
}

/**
 * How long a client stays with the endpoint it was sent to, if it does: sessionAffinity ClientIP's
 * timeout, else for the sh scheduler SH_PIN_SECONDS. iptables has no match that hashes the source
 * address onto one of N endpoints, so sh is done as kube-proxy does ClientIP affinity: the first
 * connection picks at random and `recent` keeps the client on that endpoint.
 */
function pinSeconds(sp: ServicePort): number | undefined {
  return sp.affinitySeconds ?? (sp.scheduler === 'sh' ? SH_PIN_SECONDS : undefined);
}

/** How long the sh scheduler keeps a client on its endpoint (sessionAffinity ClientIP's default). */
export const SH_PIN_SECONDS = 10_800;

/**
 * The rules that send a new connection to one of `eps` (the last rule takes what the others left):
 * rr and wrr (every weight is 1) by a cascade of `statistic --mode nth` counters, rule i taking
 * one in every N-i connections that reach it, which sends consecutive connections to the
 * endpoints in turn (the counters restart when the chain is rewritten); every other scheduler at
 * random with upstream's probabilities 1/(N-i) (lc and the like need connection counts the
 * kernel does not keep; sh pins through pinSeconds).
 */
export function pickRules(sp: ServicePort, eps: Endpoint[], verdict: (ep: Endpoint) => string): string[] {
  const turns = sp.scheduler === 'rr' || sp.scheduler === 'wrr';
  return eps.map((ep, i) => {
    const left = eps.length - i;
    if (left === 1) return verdict(ep);
    return turns
      ? `-m statistic --mode nth --every ${left} --packet 0 ${verdict(ep)}`
      : `-m statistic --mode random --probability ${(1 / left).toFixed(10)} ${verdict(ep)}`;
  });
}

/** The chains and top-level lines of one Service port. */
export function portRules(sp: ServicePort, cfg: IptConfig): PortRules {
  const p = cfg.prefix;
  const nat = new Map<string, string[]>();
  const services: string[] = [];
  const nodeports: string[] = [];
  const rejects: string[] = [];
  const id = hash(`${sp.key}/${sp.protocol}`);
  const proto = sp.protocol.toLowerCase();
  const svcChain = `${p}-SVC-${id}`;
  const extChain = `${p}-EXT-${id}`;
  const sepChain = (ep: Endpoint) => `${p}-SEP-${hash(`${sp.key}/${sp.protocol}/${ep.ip}:${ep.port}`)}`;
  const comment = `-m comment --comment "${sp.key}"`;
  const masq = `-j MARK --or-mark ${MARK}`;
  const dnat = (ep: Endpoint) => `-p ${proto} -j DNAT --to-destination ${ep.ip}:${ep.port}`;
  const pin = pinSeconds(sp);
  const dispatch = (eps: Endpoint[]): string[] => {
    if (pin === undefined)
      // No endpoint chains (see the header): hairpin marks, then the scheduler's DNAT itself.
      return [...eps.map((ep) => `-s ${ep.ip}/32 ${masq}`), ...pickRules(sp, eps, dnat)];
    return [
      ...eps.map(
        (ep) =>
          `-m recent --name ${sepChain(ep)} --mask 255.255.255.255 --rsource --rcheck --seconds ${pin} --reap -j ${sepChain(ep)}`,
      ),
      ...pickRules(sp, eps, (ep) => `-j ${sepChain(ep)}`),
    ];
  };
  const reject = (match: string) => rejects.push(`${comment} ${match} -j REJECT`);
  if (sp.clusterEndpoints.length) {
    const rules: string[] = [];
    if (cfg.clusterCIDR)
      for (const ip of sp.clusterIPs)
        rules.push(`! -s ${cfg.clusterCIDR} -d ${ip}/32 -p ${proto} --dport ${sp.port} ${masq}`);
    nat.set(svcChain, [...rules, ...dispatch(sp.clusterEndpoints)]);
    for (const ip of sp.clusterIPs)
      services.push(`${comment} -d ${ip}/32 -p ${proto} --dport ${sp.port} -j ${svcChain}`);
  } else if (!(sp.internalPolicyLocal && sp.allEndpoints.length)) {
    for (const ip of sp.clusterIPs) reject(`-d ${ip}/32 -p ${proto} --dport ${sp.port}`);
  }
  const externalIPs = [...new Set([...sp.externalIPs, ...sp.loadBalancerIPs])];
  if (sp.nodePort || externalIPs.length) {
    if (sp.allEndpoints.length) {
      const rules: string[] = [];
      if (!sp.externalPolicyLocal) rules.push(masq, ...dispatch(sp.externalEndpoints));
      else {
        if (sp.clusterEndpoints.length) {
          if (cfg.clusterCIDR) rules.push(`-s ${cfg.clusterCIDR} -j ${svcChain}`);
          rules.push(`-m addrtype --src-type LOCAL ${masq}`, `-m addrtype --src-type LOCAL -j ${svcChain}`);
        }
        rules.push(...(sp.externalEndpoints.length ? dispatch(sp.externalEndpoints) : ['-j DROP']));
      }
      nat.set(extChain, rules);
      for (const ip of externalIPs)
        services.push(`${comment} -d ${ip}/32 -p ${proto} --dport ${sp.port} -j ${extChain}`);
      if (sp.nodePort) nodeports.push(`${comment} -p ${proto} --dport ${sp.nodePort} -j ${extChain}`);
    } else {
      for (const ip of externalIPs) reject(`-d ${ip}/32 -p ${proto} --dport ${sp.port}`);
      if (sp.nodePort) reject(`-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -p ${proto} --dport ${sp.nodePort}`);
    }
  }
  if (pin !== undefined)
    for (const ep of new Map(
      [...sp.clusterEndpoints, ...sp.externalEndpoints].map((e) => [`${e.ip}:${e.port}`, e]),
    ).values())
      nat.set(sepChain(ep), [
        `-s ${ep.ip}/32 ${masq}`,
        `-p ${proto} -m recent --name ${sepChain(ep)} --mask 255.255.255.255 --rsource --set -j DNAT --to-destination ${ep.ip}:${ep.port}`,
      ]);
  return { nat, services, nodeports, rejects };
}

/**
 * How many chains one iptables-restore run declares or deletes. iptables-nft 1.8.9 compares each
 * rule's chain (and each jump's target) by name with every chain the run names, so a run's cost
 * grows with rules × chains: one run of 10,000 Service chains is minutes, twenty of 500 seconds.
 */
export const CHAINS_PER_RESTORE = 500;

/** Whether a chain's rules are unchanged (the same array when its Service port was not re-rendered). */
function sameRules(old: string[] | undefined, now: string[]): boolean {
  return old === now || (!!old && old.length === now.length && old.every((r, i) => r === now[i]));
}

/** Service-level chains in the order they may be written: a chain is written after those it jumps to. */
function chainRank(name: string): number {
  if (name.includes('-SEP-')) return 0;
  if (name.includes('-SVC-')) return 1;
  if (name.includes('-EXT-')) return 2;
  return 3; // top-level: SERVICES, NODEPORTS, POSTROUTING, REJECTS
}

/**
 * The iptables-restore inputs, run in order, from `before` (undefined: nothing known, write every
 * chain) to `after`. Changed chains are declared (which flushes them) and refilled: first the
 * Service-level ones, in runs of at most CHAINS_PER_RESTORE chains, each run after the chains its
 * rules jump to; then, in one run, the top-level chains, which switch traffic to them; last, the
 * chains no longer used are flushed and deleted, again in runs. Each chain is rewritten whole in
 * one run, so traffic always meets a complete chain. Empty when nothing changed.
 */
export function restoreInputs(before: IptRules | undefined, after: IptRules): string[] {
  const leaves: [table: string, name: string, rules: string[]][] = [];
  const top: [table: string, name: string, rules: string[]][] = [];
  const gone: [table: string, name: string][] = [];
  for (const table of ['nat', 'filter'] as const) {
    const old = before?.[table];
    for (const [name, rules] of after[table])
      if (!sameRules(old?.get(name), rules)) (chainRank(name) < 3 ? leaves : top).push([table, name, rules]);
    for (const name of old?.keys() ?? []) if (!after[table].has(name)) gone.push([table, name]);
  }
  leaves.sort((x, y) => chainRank(x[1]) - chainRank(y[1]));
  const write = (chains: [string, string, string[]][]) => {
    const out: string[] = [];
    for (const table of ['nat', 'filter']) {
      const mine = chains.filter((c) => c[0] === table);
      if (!mine.length) continue;
      out.push(`*${table}`);
      for (const [, name] of mine) out.push(`:${name} - [0:0]`);
      for (const [, name, rules] of mine) for (const r of rules) out.push(`-A ${name} ${r}`);
      out.push('COMMIT');
    }
    return `${out.join('\n')}\n`;
  };
  const remove = (chains: [string, string][]) => {
    const out: string[] = [];
    for (const table of ['nat', 'filter']) {
      const mine = chains.filter((c) => c[0] === table);
      if (!mine.length) continue;
      out.push(`*${table}`, ...mine.map(([, name]) => `:${name} - [0:0]`), ...mine.map(([, name]) => `-X ${name}`));
      out.push('COMMIT');
    }
    return `${out.join('\n')}\n`;
  };
  const runs: string[] = [];
  for (let i = 0; i < leaves.length; i += CHAINS_PER_RESTORE) runs.push(write(leaves.slice(i, i + CHAINS_PER_RESTORE)));
  if (top.length) runs.push(write(top));
  for (let i = 0; i < gone.length; i += CHAINS_PER_RESTORE) runs.push(remove(gone.slice(i, i + CHAINS_PER_RESTORE)));
  return runs;
}

function restore(input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('iptables-restore', ['--noflush', '-w', '5'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`iptables-restore failed (${code}): ${err.trim().slice(0, 2000)}`)),
    );
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** How often a sync checks that the built-in chains still jump to ours. */
const JUMP_CHECK_MS = 30_000;

const iptables = (args: string[]) =>
  spawnSync('iptables', ['-w', '5', ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });

export class IptablesBackend implements ProxyBackend {
  readonly mode = 'iptables';
  private installed?: IptRules;
  private jumpsCheckedAt = -Infinity;
  /** Each Service port's rendering, by the port object (see renderIptables). */
  private rendered = new WeakMap<ServicePort, PortRules>();

  constructor(private cfg: IptConfig) {}

  async sync(ports: ServicePort[]): Promise<void> {
    const want = renderIptables(ports, this.cfg, this.rendered);
    // First sync (or someone flushed the built-in chains): every chain from scratch, then the jumps.
    // Each `iptables -C` reads the table into iptables-nft's cache (seconds at 10,000 Services), so
    // the jumps are checked at most every JUMP_CHECK_MS (the proxier's periodic resync comes by).
    const checkJumps = !this.installed || performance.now() - this.jumpsCheckedAt >= JUMP_CHECK_MS;
    const fresh = !this.installed || (checkJumps && !this.jumpsInPlace());
    if (checkJumps) this.jumpsCheckedAt = performance.now();
    try {
      for (const input of restoreInputs(fresh ? undefined : this.installed, want)) await restore(input);
    } catch (err) {
      this.installed = undefined; // the next sync writes everything again
      throw err;
    }
    if (fresh) this.ensureJumps();
    this.installed = want;
  }

  private jumpsInPlace(): boolean {
    return hookJumps(this.cfg.prefix).every(
      ([table, builtin, chain, extra]) => iptables(['-t', table, '-C', builtin, ...extra, '-j', chain]).status === 0,
    );
  }

  private ensureJumps(): void {
    for (const [table, builtin, chain, extra] of hookJumps(this.cfg.prefix)) {
      if (iptables(['-t', table, '-C', builtin, ...extra, '-j', chain]).status !== 0)
        iptables(['-t', table, '-I', builtin, '1', ...extra, '-j', chain]);
    }
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- iptables-restore failures must reject (Backend interface), not throw
  async cleanup(): Promise<void> {
    cleanUpIptables(this.cfg.prefix);
    this.installed = undefined;
  }
}

/** Removes the jumps to this prefix's chains and every chain named with the prefix (killall). */
export function cleanUpIptables(prefix: string): void {
  const restoreSync = (input: string) =>
    spawnSync('iptables-restore', ['--noflush', '-w', '5'], { input, stdio: ['pipe', 'ignore', 'ignore'] });
  for (const table of ['nat', 'filter']) {
    const listed = iptables(['-t', table, '-S']).stdout ?? '';
    const jumps: string[] = [];
    for (const line of listed.split('\n')) {
      const m = /^-A (PREROUTING|OUTPUT|POSTROUTING|INPUT|FORWARD) (.*)-j (\S+)\s*$/.exec(line);
      if (m && m[3].startsWith(`${prefix}-`)) jumps.push(`-D ${m[1]} ${m[2]}-j ${m[3]}`);
    }
    const chains = listed
      .split('\n')
      .filter((l) => l.startsWith(`-N ${prefix}-`))
      .map((l) => l.slice(3).trim());
    if (!jumps.length && !chains.length) continue;
    // First the jumps go and every chain is flushed (declaring a chain under --noflush flushes
    // it), so no chain is still jumped to; then the chains are deleted in runs of bounded size
    // (see CHAINS_PER_RESTORE: one run naming 10,000 chains would take minutes).
    restoreSync([`*${table}`, ...jumps, ...chains.map((c) => `:${c} - [0:0]`), 'COMMIT', ''].join('\n'));
    for (let i = 0; i < chains.length; i += CHAINS_PER_RESTORE)
      restoreSync(
        [`*${table}`, ...chains.slice(i, i + CHAINS_PER_RESTORE).map((c) => `-X ${c}`), 'COMMIT', ''].join('\n'),
      );
  }
}
