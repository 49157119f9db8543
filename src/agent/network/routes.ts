// Pod networking between nodes in the manner of flannel's host-gw backend: every node's pods live
// on its own bridge with addresses from its podCIDR, and each agent installs one kernel route per
// other node, `<that node's podCIDR> via <that node's InternalIP>`. That only works when the nodes
// share an L2 network (the next hop must be directly connected); for a node that is not, the agent
// logs one warning and installs nothing, so those pods stay unreachable by pod IP.
//
// Source addresses are kept between nodes: the CNI bridge's ipMasq masquerades everything that
// leaves the node's podCIDR (rules it appends to nat POSTROUTING per pod). Ahead of them, at the
// top of POSTROUTING, a jump for traffic from this node's podCIDR leads to a chain of our own with
// one `-d <other node's podCIDR> -j ACCEPT` per route, which ends NAT for those packets, so the
// other side sees the pod's address. Everything else (the internet, the node network) is still
// masqueraded by the CNI rules. A FORWARD chain accepts traffic between this node's podCIDR and
// the routed ones, in case the host's FORWARD policy is DROP (as with Docker installed).
//
// What was installed is remembered in memory and in <agent dir>/network/routes.json, so a restart
// after a crash removes routes of nodes that went away meanwhile; `ip route replace` never
// duplicates. stop() leaves the routes and chains in place (pods keep talking while the agent
// restarts), stop(true) removes them; cleanUpPodRoutes() does the same from the state file for an
// agent that is gone (meant for `k8ts killall`).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Node, NodeAddress } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../../client/client.js';
import { SharedIndexInformer } from '../../client/informer.js';

export interface NodeRoute {
  node: string;
  podCIDR: string;
  via: string;
}

export interface DesiredRoutes {
  routes: NodeRoute[];
  /** Nodes with a podCIDR and an InternalIP that is not on a directly connected subnet. */
  unreachable: { node: string; ip: string }[];
}

function internalIP(node: Node | undefined): string | undefined {
  const addrs: NodeAddress[] = node?.status?.addresses ?? [];
  return addrs.find((a) => a?.type === 'InternalIP' && /^\d+\.\d+\.\d+\.\d+$/.test(a.address ?? ''))?.address;
}

function podCIDROf(node: Node | undefined): string | undefined {
  const c = node?.spec?.podCIDR ?? node?.spec?.podCIDRs?.[0];
  return typeof c === 'string' && /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(c) ? c : undefined;
}

/** The routes this node should have: one per other node with an IPv4 podCIDR and InternalIP. */
export function desiredRoutes(
  selfName: string,
  selfPodCIDR: string,
  nodes: Node[],
  isDirect: (ip: string) => boolean,
): DesiredRoutes {
  const out: DesiredRoutes = { routes: [], unreachable: [] };
  const seen = new Set<string>([selfPodCIDR]);
  for (const n of [...nodes].sort((a, b) => String(a?.metadata?.name).localeCompare(String(b?.metadata?.name)))) {
    const name = n?.metadata?.name;
    if (!name || name === selfName || n.metadata?.deletionTimestamp) continue;
    const podCIDR = podCIDROf(n);
    const via = internalIP(n);
    if (!podCIDR || !via || seen.has(podCIDR)) continue;
    if (!isDirect(via)) {
      out.unreachable.push({ node: name, ip: via });
      continue;
    }
    seen.add(podCIDR);
    out.routes.push({ node: name, podCIDR, via });
  }
  return out;
}

/**
 * What to change to go from the installed routes to the desired ones: `add` are `ip route replace`d
 * (also when only the next hop changed), `remove` are deleted. A podCIDR that stays routed (to a new
 * next hop) is never deleted, so the replace is not undone.
 */
export function planRoutes(installed: NodeRoute[], desired: NodeRoute[]): { add: NodeRoute[]; remove: NodeRoute[] } {
  const same = (a: NodeRoute, b: NodeRoute) => a.node === b.node && a.podCIDR === b.podCIDR && a.via === b.via;
  const wantedCIDRs = new Set(desired.map((r) => r.podCIDR));
  return {
    add: desired.filter((d) => !installed.some((i) => same(i, d))),
    remove: installed.filter((i) => !desired.some((d) => same(i, d)) && !wantedCIDRs.has(i.podCIDR)),
  };
}

/** The iptables rules (without the chain) that keep pod source addresses between nodes. */
export function natRules(routes: NodeRoute[]): string[][] {
  return routes.map((r) => ['-d', r.podCIDR, '-j', 'ACCEPT']);
}

export function forwardRules(selfPodCIDR: string, routes: NodeRoute[]): string[][] {
  return routes.flatMap((r) => [
    ['-s', selfPodCIDR, '-d', r.podCIDR, '-j', 'ACCEPT'],
    ['-s', r.podCIDR, '-d', selfPodCIDR, '-j', 'ACCEPT'],
  ]);
}

export interface Cmd {
  (cmd: string, args: string[]): { status: number; stdout: string; stderr: string };
}

const sh: Cmd = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.error ? String(r.error) : (r.stderr ?? '') };
};

/** Whether `ip` is reachable without a gateway from this host (on a connected subnet, not local). */
export function directlyConnected(ip: string, run: Cmd = sh): boolean {
  const r = run('ip', ['-j', 'route', 'get', ip]);
  if (r.status !== 0) return false;
  try {
    // `ip -j route get` prints an array of routes; only the first one's fields matter.
    const [route] = JSON.parse(r.stdout) as ({ gateway?: string; type?: string; dev?: string } | undefined)[];
    return !!route && !route.gateway && route.type !== 'local' && route.dev !== 'lo';
  } catch {
    return false;
  }
}

export interface PodRoutesOptions {
  client: Client;
  nodeName: string;
  /** This node's podCIDR. */
  podCIDR: string;
  /** The node's CNI bridge name: names the iptables chains (unique per data dir on a host). */
  bridge: string;
  /** Where the installed routes are remembered. */
  stateFile: string;
  logger: Logger;
  /** How often routes are checked again even without Node changes (re-adds routes lost with a link). */
  resyncMs?: number;
  run?: Cmd;
}

/** Chain names of one agent: the bridge name is k8ts0 or k8ts<6 hex>, so these stay under 29 chars. */
export function chainNames(bridge: string): { nat: string; forward: string } {
  const id = bridge.toUpperCase();
  return { nat: `${id}-NOMASQ`, forward: `${id}-FORWARD` };
}

export class PodRoutes {
  private informer?: SharedIndexInformer<Node>;
  private installed: NodeRoute[] = [];
  private warned = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  /** Whether the chains hold the rules of `installed` (false until the first reconcile). */
  private filled = false;
  private stopped = false;
  private readonly run: Cmd;
  private readonly chains: { nat: string; forward: string };
  private readonly log: Logger;

  constructor(private o: PodRoutesOptions) {
    this.run = o.run ?? sh;
    this.chains = chainNames(o.bridge);
    this.log = o.logger.child({ component: 'pod-routes' });
  }

  start(): void {
    this.installed = this.load();
    this.setUpChains();
    this.informer = new SharedIndexInformer<Node>(this.o.client, R.nodes, { logger: this.log });
    const kick = () => this.reconcile();
    // Node status heartbeats update every Node every few seconds: only what routes depend on counts.
    const relevant = (n: Node | undefined) => `${podCIDROf(n)} ${internalIP(n)} ${!!n?.metadata?.deletionTimestamp}`;
    this.informer.addEventHandler({ add: kick, update: (o, n) => relevant(o) !== relevant(n) && kick(), delete: kick });
    this.informer.start();
    void this.informer.waitForSync().then(kick);
    this.timer = setInterval(() => this.reconcile(true), this.o.resyncMs ?? 30_000);
    this.timer.unref?.();
  }

  /**
   * Stops watching. The routes and chains stay, as flannel leaves them: the node's pods keep
   * reaching the others while the agent restarts (an upgrade), and the next start takes over from
   * the state file. `cleanup` removes them (pod networking turned off; `k8ts killall` uses
   * cleanUpPodRoutes for an agent that is gone).
   */
  async stop(cleanup = false): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.informer?.stop();
    if (!cleanup) return;
    for (const r of this.installed) this.ip(['route', 'del', r.podCIDR, 'via', r.via]);
    this.installed = [];
    rmSync(this.o.stateFile, { force: true });
    this.tearDownChains();
  }

  /** The routes installed now (for tests and logs). */
  get routes(): NodeRoute[] {
    return [...this.installed];
  }

  /** Brings routes and rules in line with the Nodes; `resync` also repairs routes and jumps lost meanwhile. */
  reconcile(resync = false): void {
    if (this.stopped || !this.informer?.hasSynced()) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        this.reconcileOnce(resync);
      } while (this.again && !this.stopped);
    } finally {
      this.running = false;
    }
  }

  private reconcileOnce(resync: boolean): void {
    const before = JSON.stringify(this.installed);
    const want = desiredRoutes(this.o.nodeName, this.o.podCIDR, this.informer!.store.list(), (ip) =>
      directlyConnected(ip, this.run),
    );
    for (const u of want.unreachable) {
      if (this.warned.get(u.node) === u.ip) continue;
      this.warned.set(u.node, u.ip);
      this.log.warn(
        { peer: u.node, peerIP: u.ip },
        `node ${u.node}'s InternalIP ${u.ip} is not on a subnet directly connected to this host: no route to its pods is installed (pod networking between nodes needs them on one L2 network)`,
      );
    }
    for (const name of this.warned.keys()) if (!want.unreachable.some((u) => u.node === name)) this.warned.delete(name);
    const plan = planRoutes(this.installed, want.routes);
    const now = this.installed.filter((i) => !plan.remove.includes(i));
    for (const r of plan.remove) {
      const res = this.ip(['route', 'del', r.podCIDR, 'via', r.via]);
      if (res.status === 0 || /No such process|not found/i.test(res.stderr)) this.log.info(r, 'pod route removed');
      else {
        this.log.warn({ ...r, err: res.stderr.trim() }, 'removing a pod route failed');
        now.push(r);
      }
    }
    for (const r of plan.add) {
      const res = this.ip(['route', 'replace', r.podCIDR, 'via', r.via]);
      const i = now.findIndex((x) => x.podCIDR === r.podCIDR);
      if (res.status === 0) {
        if (i >= 0) now.splice(i, 1);
        now.push(r);
        this.log.info(r, 'pod route installed');
      } else this.log.warn({ ...r, err: res.stderr.trim() }, 'installing a pod route failed');
    }
    // A route lost since (a link went down and up, someone flushed them): put it back.
    for (const r of resync ? now : []) {
      if (plan.add.includes(r)) continue;
      const shown = this.ip(['route', 'show', r.podCIDR]);
      if (shown.status === 0 && !shown.stdout.includes(`via ${r.via}`))
        this.ip(['route', 'replace', r.podCIDR, 'via', r.via]);
    }
    this.installed = now;
    const changed = JSON.stringify(now) !== before;
    if (changed) this.save();
    // Jumps gone (a firewall reload flushed iptables): make them again.
    const rebuild = resync && !this.jumpsInPlace();
    if (rebuild) this.setUpChains();
    if (changed || rebuild || !this.filled) {
      this.fillChains();
      this.filled = true;
    }
  }

  private jumpsInPlace(): boolean {
    return (
      this.ipt(['-t', 'nat', '-C', ...this.jumps()[0].slice(1).flat()]).status === 0 &&
      this.ipt(['-t', 'filter', '-C', ...this.jumps()[1].slice(1).flat()]).status === 0
    );
  }

  private jumps(): [string, string, string[]][] {
    const { nat, forward } = this.chains;
    return [
      [
        'nat',
        'POSTROUTING',
        ['-s', this.o.podCIDR, '-j', nat, '-m', 'comment', '--comment', 'k8ts: no masquerade between pod CIDRs'],
      ],
      ['filter', 'FORWARD', ['-j', forward, '-m', 'comment', '--comment', 'k8ts: forward between pod CIDRs']],
    ];
  }

  private ip(args: string[]) {
    return this.run('ip', args);
  }

  private ipt(args: string[]) {
    return iptables(this.run, args);
  }

  /** Creates the chains and the jumps to them, at the top of POSTROUTING (before the CNI's rules) and FORWARD. */
  private setUpChains(): void {
    const { nat, forward } = this.chains;
    const jumps = this.jumps();
    // A jump of an earlier run whose node had another podCIDR would remain: remove all first.
    this.removeJumps();
    for (const [table, chain] of [
      ['nat', nat],
      ['filter', forward],
    ]) {
      if (this.ipt(['-t', table, '-N', chain]).status !== 0) this.ipt(['-t', table, '-F', chain]);
    }
    for (const [table, parent, rule] of jumps) {
      const r = this.ipt(['-t', table, '-I', parent, '1', ...rule]);
      if (r.status !== 0)
        this.log.warn(
          { table, chain: parent, err: r.stderr.trim() },
          'iptables rule for pod networking between nodes failed',
        );
    }
  }

  private fillChains(): void {
    const { nat, forward } = this.chains;
    this.ipt(['-t', 'nat', '-F', nat]);
    for (const rule of natRules(this.installed)) this.ipt(['-t', 'nat', '-A', nat, ...rule]);
    this.ipt(['-t', 'filter', '-F', forward]);
    for (const rule of forwardRules(this.o.podCIDR, this.installed)) this.ipt(['-t', 'filter', '-A', forward, ...rule]);
  }

  private removeJumps(): void {
    removeJumps(this.run, this.chains);
  }

  private tearDownChains(): void {
    tearDownChains(this.run, this.chains);
  }

  private load(): NodeRoute[] {
    return loadRoutes(this.o.stateFile);
  }

  private save(): void {
    try {
      mkdirSync(dirname(this.o.stateFile), { recursive: true });
      writeFileSync(this.o.stateFile, `${JSON.stringify(this.installed)}\n`);
    } catch (err) {
      this.log.debug({ err }, 'could not save the installed pod routes');
    }
  }
}

const iptables = (run: Cmd, args: string[]) => run('iptables', ['-w', '5', ...args]);

/** Deletes every jump to our chains (found with -S, whatever podCIDR they were made for). */
function removeJumps(run: Cmd, chains: { nat: string; forward: string }): void {
  for (const [table, parent, chain] of [
    ['nat', 'POSTROUTING', chains.nat],
    ['filter', 'FORWARD', chains.forward],
  ]) {
    const listed = iptables(run, ['-t', table, '-S', parent]);
    for (const line of listed.stdout.split('\n')) {
      if (!line.startsWith(`-A ${parent} `) || !line.includes(`-j ${chain}`)) continue;
      iptables(run, ['-t', table, '-D', ...splitRule(line.slice(3))]);
    }
  }
}

function tearDownChains(run: Cmd, chains: { nat: string; forward: string }): void {
  removeJumps(run, chains);
  for (const [table, chain] of [
    ['nat', chains.nat],
    ['filter', chains.forward],
  ]) {
    iptables(run, ['-t', table, '-F', chain]);
    iptables(run, ['-t', table, '-X', chain]);
  }
}

/** A route as routes.json holds it (a hand-edited or older file may hold anything). */
function isNodeRoute(r: unknown): r is NodeRoute {
  const x = r as Partial<NodeRoute> | null;
  return !!x && typeof x.podCIDR === 'string' && typeof x.via === 'string';
}

function loadRoutes(stateFile: string): NodeRoute[] {
  try {
    const v: unknown = JSON.parse(readFileSync(stateFile, 'utf8'));
    return Array.isArray(v) ? v.filter(isNodeRoute) : [];
  } catch {
    return [];
  }
}

/**
 * What an agent that did not stop cleanly (crashed, SIGKILL) left: its routes (from the state file)
 * and its iptables chains. For `k8ts killall`; run it in the agent's network namespace.
 */
export function cleanUpPodRoutes(stateFile: string, bridge: string, run: Cmd = sh): void {
  for (const r of loadRoutes(stateFile)) run('ip', ['route', 'del', r.podCIDR, 'via', r.via]);
  rmSync(stateFile, { force: true });
  tearDownChains(run, chainNames(bridge));
}

/** Splits an `iptables -S` line into arguments (quoted comments stay one argument). */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]);
  return out;
}
