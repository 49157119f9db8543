// Pod networking between nodes: every node's pods live on its own bridge with addresses from its
// podCIDR, and each agent makes the other nodes' podCIDRs reachable through one of two backends
// behind the RouteBackend interface, chosen cluster-wide by the server's --flannel-backend:
// - vxlan (vxlan.ts, the default): an overlay, flannel's vxlan backend; nodes need not share an L2.
// - host-gw (HostGwBackend here): one kernel route per other node, `<its podCIDR> via <its
//   InternalIP>`. That only works when the nodes share an L2 network (the next hop must be directly
//   connected); for a node that is not, the agent logs one warning and installs nothing.
// PodRoutes is the reconciler both share: a Node informer, the backend's Node annotations, the
// iptables chains below and the state file.
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
// duplicates. stop() leaves the routes, what the backend set up and the iptables chains in place
// (pods keep talking while the agent restarts), stop(true) removes them; cleanUpPodRoutes() does
// the same from the state file for an agent that is gone (meant for `k8ts killall`).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Node, NodeAddress } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../../client/client.js';
import { SharedIndexInformer } from '../../client/informer.js';
import { compareStrings } from '../../machinery/order.js';

export interface NodeRoute {
  node: string;
  podCIDR: string;
  /** The next hop of the route: the node's InternalIP (host-gw) or its VTEP address (vxlan). */
  via: string;
  /** vxlan: the node's VTEP MAC (neighbour and FDB entry). */
  mac?: string;
  /** vxlan: the node's public IP, where its encapsulated traffic is sent (FDB entry). */
  dst?: string;
}

/** The cluster-wide pod network backend (k3s's --flannel-backend). */
export type FlannelBackend = 'vxlan' | 'host-gw' | 'none';
export const FLANNEL_BACKENDS: readonly FlannelBackend[] = ['vxlan', 'host-gw', 'none'];

/** The Node annotations flannel publishes (its kube subnet manager), read by the other nodes. */
export const FLANNEL_ANNOTATION = {
  backendData: 'flannel.alpha.coreos.com/backend-data',
  backendType: 'flannel.alpha.coreos.com/backend-type',
  publicIP: 'flannel.alpha.coreos.com/public-ip',
  subnetManager: 'flannel.alpha.coreos.com/kube-subnet-manager',
} as const;

/** What a backend leaves out, with the reason (logged once per node and reason). */
export interface SkippedNode {
  node: string;
  reason: string;
}

/**
 * One way of carrying pod traffic between nodes (host-gw routes, the vxlan overlay): PodRoutes
 * watches the Nodes, keeps the iptables chains and the state file, and asks the backend which
 * routes to have and how to put them in place.
 */
export interface RouteBackend {
  readonly type: FlannelBackend;
  /** Prepares the host (the vxlan device); answers the Node annotations to publish, or why it failed. */
  setUp(): { annotations: Record<string, string> } | { error: string };
  /** Whether what setUp made is still there (a resync calls setUp again when not). */
  ready(): boolean;
  desired(selfName: string, selfPodCIDR: string, nodes: Node[]): { routes: NodeRoute[]; skipped: SkippedNode[] };
  /** What of a Node its routes depend on (Node heartbeats change nothing of it). */
  fingerprint(node: Node | undefined): string;
  /** Installs `r` (replacing `previous`, the installed route for the same podCIDR, if any). */
  install(r: NodeRoute, previous?: NodeRoute): CmdResult;
  remove(r: NodeRoute): CmdResult;
  /** Whether `r` is still in place. */
  intact(r: NodeRoute): boolean;
  /** Removes what setUp made (the routes are gone already). */
  tearDown(): void;
}

export interface DesiredRoutes {
  routes: NodeRoute[];
  /** Nodes with a podCIDR and an InternalIP that is not on a directly connected subnet. */
  unreachable: { node: string; ip: string }[];
}

/**
 * Nodes in name order (code points: names are DNS labels), so every agent resolves a podCIDR claimed
 * twice alike. Not localeCompare: at 5,000 nodes its sort took seconds per reconcile.
 */
export function byNodeName(a: Node, b: Node): number {
  const x = String(a?.metadata?.name);
  const y = String(b?.metadata?.name);
  return compareStrings(x, y);
}

export function internalIP(node: Node | undefined): string | undefined {
  const addrs: NodeAddress[] = node?.status?.addresses ?? [];
  return addrs.find((a) => a?.type === 'InternalIP' && /^\d+\.\d+\.\d+\.\d+$/.test(a.address ?? ''))?.address;
}

export function podCIDROf(node: Node | undefined): string | undefined {
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
  for (const n of [...nodes].sort(byNodeName)) {
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
  const key = (r: NodeRoute) => `${r.node} ${r.podCIDR} ${r.via} ${r.mac ?? ''} ${r.dst ?? ''}`;
  const have = new Set(installed.map(key));
  const want = new Set(desired.map(key));
  const wantedCIDRs = new Set(desired.map((r) => r.podCIDR));
  return {
    add: desired.filter((d) => !have.has(key(d))),
    remove: installed.filter((i) => !want.has(key(i)) && !wantedCIDRs.has(i.podCIDR)),
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

export interface CmdResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface Cmd {
  (cmd: string, args: string[]): CmdResult;
}

export const sh: Cmd = (cmd, args) => {
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

/** flannel's host-gw: `<podCIDR> via <InternalIP>`, for nodes on a directly connected subnet only. */
const DIRECT_TTL_MS = 30_000;

export class HostGwBackend implements RouteBackend {
  readonly type = 'host-gw';
  private readonly direct = new Map<string, { direct: boolean; at: number }>();

  constructor(
    private readonly nodeIP: string,
    private readonly run: Cmd = sh,
  ) {}

  setUp() {
    return {
      annotations: {
        [FLANNEL_ANNOTATION.backendType]: 'host-gw',
        [FLANNEL_ANNOTATION.backendData]: 'null',
        [FLANNEL_ANNOTATION.publicIP]: this.nodeIP,
        [FLANNEL_ANNOTATION.subnetManager]: 'true',
      },
    };
  }

  ready(): boolean {
    return true;
  }

  desired(selfName: string, selfPodCIDR: string, nodes: Node[]) {
    const d = desiredRoutes(selfName, selfPodCIDR, nodes, (ip) => this.isDirect(ip));
    return {
      routes: d.routes,
      skipped: d.unreachable.map((u) => ({
        node: u.node,
        reason: `node ${u.node}'s InternalIP ${u.ip} is not on a subnet directly connected to this host: no route to its pods is installed (the host-gw backend needs the nodes on one L2 network; --flannel-backend vxlan does not)`,
      })),
    };
  }

  fingerprint(n: Node | undefined): string {
    return `${podCIDROf(n)} ${internalIP(n)} ${!!n?.metadata?.deletionTimestamp}`;
  }

  /**
   * directlyConnected, remembered for a while: each answer costs an `ip route get`, and asking for
   * every node at every reconcile blocked the agent for seconds in a large cluster. The host's
   * subnets rarely change; a changed answer is seen within DIRECT_TTL_MS.
   */
  private isDirect(ip: string): boolean {
    const now = Date.now();
    const known = this.direct.get(ip);
    if (known && now - known.at < DIRECT_TTL_MS) return known.direct;
    const direct = directlyConnected(ip, this.run);
    this.direct.set(ip, { direct, at: now });
    return direct;
  }

  install(r: NodeRoute): CmdResult {
    return this.run('ip', ['route', 'replace', r.podCIDR, 'via', r.via]);
  }

  remove(r: NodeRoute): CmdResult {
    return this.run('ip', ['route', 'del', r.podCIDR, 'via', r.via]);
  }

  intact(r: NodeRoute): boolean {
    const shown = this.run('ip', ['route', 'show', r.podCIDR]);
    return shown.status !== 0 || shown.stdout.includes(`via ${r.via}`);
  }

  tearDown(): void {}
}

/** How long Node changes gather before a reconcile. */
const KICK_DELAY_MS = 50;

export interface PodRoutesOptions {
  client: Client;
  nodeName: string;
  /** This node's podCIDR. */
  podCIDR: string;
  /** The node's CNI bridge name: names the iptables chains (unique per data dir on a host). */
  bridge: string;
  /** Where the installed routes are remembered. */
  stateFile: string;
  /** How the routes are made (default: host-gw for `nodeIP`). */
  backend?: RouteBackend;
  /** This node's InternalIP (the host-gw backend's public IP). */
  nodeIP?: string;
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
  /** The annotations setUp answered, until they are on the Node. */
  private unpublished?: Record<string, string>;
  private publishing = false;
  /** The last setUp error (logged once, retried at every resync). */
  private setUpError?: string;
  private readonly run: Cmd;
  private kickTimer?: NodeJS.Timeout;
  private readonly chains: { nat: string; forward: string };
  private readonly log: Logger;
  readonly backend: RouteBackend;

  constructor(private o: PodRoutesOptions) {
    this.run = o.run ?? sh;
    this.chains = chainNames(o.bridge);
    this.log = o.logger.child({ component: 'pod-routes' });
    this.backend = o.backend ?? new HostGwBackend(o.nodeIP ?? '', this.run);
  }

  start(): void {
    this.installed = this.load();
    this.setUpBackend();
    this.setUpChains();
    this.informer = new SharedIndexInformer<Node>(this.o.client, R.nodes, {
      logger: this.log,
      dropManagedFields: true,
      frozen: true,
    });
    // A burst of Node changes (a cluster registering) makes one reconcile, not one per Node.
    const kick = () => {
      if (this.kickTimer || this.stopped) return;
      this.kickTimer = setTimeout(() => {
        this.kickTimer = undefined;
        this.reconcile();
      }, KICK_DELAY_MS);
    };
    // Node status heartbeats update every Node every few seconds: only what routes depend on counts.
    const relevant = (n: Node | undefined) => this.backend.fingerprint(n);
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
    clearTimeout(this.kickTimer);
    await this.informer?.stop();
    if (!cleanup) return;
    for (const r of this.installed) this.backend.remove(r);
    this.installed = [];
    rmSync(this.o.stateFile, { force: true });
    this.backend.tearDown();
    this.tearDownChains();
  }

  /** The routes installed now (for tests and logs). */
  get routes(): NodeRoute[] {
    return [...this.installed];
  }

  /** Prepares the backend and publishes its annotations on this node's Node (retried on resync). */
  private setUpBackend(): void {
    const res = this.backend.setUp();
    if ('error' in res) {
      if (this.setUpError !== res.error)
        this.log.warn({ backend: this.backend.type, error: res.error }, 'pod network backend could not be set up');
      this.setUpError = res.error;
      return;
    }
    this.setUpError = undefined;
    this.unpublished = res.annotations;
    void this.publish();
  }

  private async publish(): Promise<void> {
    const annotations = this.unpublished;
    if (!annotations || this.publishing || this.stopped) return;
    this.publishing = true;
    try {
      await this.o.client
        .resource(R.nodes)
        .patch(this.o.nodeName, 'merge', { metadata: { annotations } }, { fieldManager: 'flannel' });
      if (this.unpublished === annotations) this.unpublished = undefined;
    } catch (err) {
      this.log.warn({ err }, 'could not annotate the Node with its pod network backend (retried)');
    } finally {
      this.publishing = false;
    }
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

  private warnSkipped(skipped: SkippedNode[]): void {
    for (const u of skipped) {
      if (this.warned.get(u.node) === u.reason) continue;
      this.warned.set(u.node, u.reason);
      this.log.warn({ peer: u.node, backend: this.backend.type }, u.reason);
    }
    const names = new Set(skipped.map((u) => u.node));
    for (const name of this.warned.keys()) if (!names.has(name)) this.warned.delete(name);
  }

  private reconcileOnce(resync: boolean): void {
    const before = JSON.stringify(this.installed);
    // The device went away (deleted by hand, an earlier run's cleanup): make it again, and every route with it.
    const lost = resync && !this.backend.ready();
    if (lost) this.setUpBackend();
    else if (resync) void this.publish();
    const want = this.backend.desired(this.o.nodeName, this.o.podCIDR, this.informer!.store.list());
    this.warnSkipped(want.skipped);
    const plan = planRoutes(this.installed, want.routes);
    const removing = new Set(plan.remove);
    const adding = new Set(plan.add);
    const now = this.installed.filter((i) => !removing.has(i));
    for (const r of plan.remove) {
      const res = this.backend.remove(r);
      if (res.status === 0 || /No such process|not found|Cannot find device/i.test(res.stderr))
        this.log.info(r, 'pod route removed');
      else {
        this.log.warn({ ...r, err: res.stderr.trim() }, 'removing a pod route failed');
        now.push(r);
      }
    }
    for (const r of plan.add) {
      const i = now.findIndex((x) => x.podCIDR === r.podCIDR);
      const res = this.backend.install(r, i >= 0 ? now[i] : undefined);
      if (res.status === 0) {
        if (i >= 0) now.splice(i, 1);
        now.push(r);
        this.log.info(r, 'pod route installed');
      } else this.log.warn({ ...r, err: res.stderr.trim() }, 'installing a pod route failed');
    }
    // A route lost since (a link went down and up, someone flushed them): put it back.
    for (const r of resync ? now : []) {
      if (adding.has(r)) continue;
      if (lost || !this.backend.intact(r)) this.backend.install(r);
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
