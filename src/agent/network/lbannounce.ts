// Layer-2 announcement of LoadBalancer pool addresses (MetalLB's speaker in layer-2 mode): for each
// LoadBalancer Service whose ingress address is not a node's own (so it came from
// --lb-address-pool), exactly one node answers for the address. Every agent computes the same
// choice: among Ready nodes with a ready endpoint of the Service, the one whose
// sha256("<node>#<namespace/name>") is smallest. The winner adds the address (/32) to the interface
// holding its node IP, where the service proxy's rules already take traffic for ingress addresses,
// and sends a gratuitous ARP when `arping` is installed. When it goes NotReady or loses its
// endpoints, the others' choice moves and the next node takes the address over. What was added is
// recorded in <agent dir>/network/lb-addresses.json so `k8ts killall` can remove it.
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { R, spec, type Client } from '../../client/client.js';
import { SharedInformerFactory, keyOf } from '../../client/informer.js';
import { wantsLoadBalancer } from '../../api/helpers/loadbalancer.js';
import { ENDPOINT_SLICES, SERVICES } from '../../proxy/proxier.js';

const NODES = spec<Node>(R.nodes);

/** MetalLB's deterministic choice: the candidate with the smallest hash of node and Service. */
export function electAnnouncer(serviceKey: string, candidates: string[]): string | undefined {
  const rank = (node: string) => createHash('sha256').update(`${node}#${serviceKey}`).digest('hex');
  let best: { node: string; h: string } | undefined;
  for (const node of candidates) {
    const h = rank(node);
    if (!best || h < best.h || (h === best.h && node < best.node)) best = { node, h };
  }
  return best?.node;
}

const isReady = (n: Node) =>
  !n.metadata?.deletionTimestamp && n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

/**
 * Which node announces which address: pool addresses of our LoadBalancer Services (ingress IPs
 * that are no node's address), each given to the elected node among Ready nodes with a ready endpoint.
 */
/** What of a Node the election reads. */
const nodeFacts = (n: Node) =>
  `${isReady(n)} ${(n.status?.addresses ?? []).map((a) => a.address).join(',')} ${!!n.metadata?.deletionTimestamp}`;

export function announcements(services: Service[], slices: EndpointSlice[], nodes: Node[]): Map<string, string> {
  // Most clusters have no LoadBalancer Service with a pool address: nothing to elect, and no need to
  // walk every Node and EndpointSlice (a large cluster's nodes change every few seconds).
  if (!services.some((svc) => wantsLoadBalancer(svc) && svc.status?.loadBalancer?.ingress?.some((i) => i.ip)))
    return new Map();
  const nodeAddresses = new Set(nodes.flatMap((n) => (n.status?.addresses ?? []).map((a) => a.address)));
  const ready = new Set(nodes.filter(isReady).map((n) => n.metadata?.name ?? ''));
  const endpointNodes = new Map<string, Set<string>>();
  for (const s of slices) {
    const svc = s.metadata?.labels?.['kubernetes.io/service-name'];
    if (!svc) continue;
    const key = `${s.metadata?.namespace}/${svc}`;
    for (const e of s.endpoints ?? [])
      if (e.conditions?.ready !== false && e.nodeName && ready.has(e.nodeName)) {
        const set = endpointNodes.get(key) ?? new Set<string>();
        set.add(e.nodeName);
        endpointNodes.set(key, set);
      }
  }
  const out = new Map<string, string>(); // address → node
  for (const svc of services) {
    if (!wantsLoadBalancer(svc)) continue;
    const ips = (svc.status?.loadBalancer?.ingress ?? [])
      .map((i) => i.ip ?? '')
      .filter((ip) => ip && !nodeAddresses.has(ip));
    if (!ips.length) continue;
    const winner = electAnnouncer(keyOf(svc), [...(endpointNodes.get(keyOf(svc)) ?? [])].sort());
    if (winner) for (const ip of ips) if (/^\d+\.\d+\.\d+\.\d+$/.test(ip)) out.set(ip, winner);
  }
  return out;
}

interface AnnouncedState {
  iface: string;
  addresses: string[];
}

function readState(file: string): AnnouncedState | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as AnnouncedState;
  } catch {
    return undefined;
  }
}

const ip = (args: string[]) => spawnSync('ip', args, { encoding: 'utf8' });

/** The interface that holds `address` (the node IP); loopback if none does. */
export function interfaceOf(address: string): string {
  for (const line of ip(['-o', '-4', 'addr', 'show']).stdout?.split('\n') ?? []) {
    const f = line.trim().split(/\s+/);
    if (f[3]?.split('/')[0] === address) return f[1].replace(/@.*$/, '');
  }
  return 'lo';
}

/** Removes the addresses a previous run recorded (for `k8ts killall`). */
export function cleanUpLBAddresses(stateFile: string): void {
  const state = readState(stateFile);
  for (const a of state?.addresses ?? []) ip(['addr', 'del', `${a}/32`, 'dev', state!.iface]);
  rmSync(stateFile, { force: true });
}

export class LBAnnouncer {
  private readonly factory: SharedInformerFactory;
  private readonly iface: string;
  private readonly current = new Set<string>();
  private readonly arping: boolean;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly o: { client: Client; nodeName: string; nodeIP: string; stateFile: string; logger: Logger },
  ) {
    this.factory = new SharedInformerFactory(o.client, { logger: o.logger, dropManagedFields: true, frozen: true });
    this.iface = interfaceOf(o.nodeIP);
    this.arping = spawnSync('sh', ['-c', 'command -v arping'], { stdio: 'ignore' }).status === 0;
    // What an earlier run left is ours until the first reconcile decides.
    const prev = readState(o.stateFile);
    if (prev && prev.iface !== this.iface) cleanUpLBAddresses(o.stateFile);
    else for (const a of prev?.addresses ?? []) this.current.add(a);
  }

  async start(): Promise<void> {
    const kick = () => this.schedule();
    for (const s of [SERVICES, ENDPOINT_SLICES])
      this.factory.forResource(s as typeof SERVICES).addEventHandler({ add: kick, update: kick, delete: kick });
    // Every Node reports its status every few seconds; only readiness and addresses matter here.
    this.factory
      .forResource(NODES)
      .addEventHandler({ add: kick, update: (old, now) => nodeFacts(old) !== nodeFacts(now) && kick(), delete: kick });
    this.factory.start();
    await this.factory.waitForCacheSync();
    this.reconcile();
  }

  /** Changes come in bursts (a Service, then its slices): one reconcile per burst. */
  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reconcile();
    }, 100);
  }

  private reconcile(): void {
    if (this.stopped || !this.factory.forResource(NODES).hasSynced()) return;
    const owners = announcements(
      this.factory.forResource(SERVICES).store.list(),
      this.factory.forResource(ENDPOINT_SLICES).store.list(),
      this.factory.forResource(NODES).store.list(),
    );
    const wanted = new Set([...owners].filter(([, node]) => node === this.o.nodeName).map(([a]) => a));
    const added = [...wanted].filter((a) => !this.current.has(a));
    // Recorded before the address exists, so a crash in between still leaves killall knowing it.
    for (const a of added) this.current.add(a);
    if (added.length) this.save();
    for (const a of added) {
      const r = ip(['addr', 'replace', `${a}/32`, 'dev', this.iface]);
      if (r.status !== 0)
        this.o.logger.warn({ address: a, err: r.stderr?.trim() }, 'could not add load-balancer address');
      else this.o.logger.info({ address: a, iface: this.iface }, 'announcing load-balancer address');
      // Neighbours update their ARP caches at once (the address may just have moved here).
      if (this.arping)
        spawn('arping', ['-U', '-c', '1', '-I', this.iface, a], { stdio: 'ignore' }).on('error', () => undefined);
    }
    const removed = [...this.current].filter((a) => !wanted.has(a));
    for (const a of removed) this.withdraw(a);
    if (removed.length) this.save();
  }

  private withdraw(address: string): void {
    ip(['addr', 'del', `${address}/32`, 'dev', this.iface]);
    this.current.delete(address);
    this.o.logger.info({ address }, 'stopped announcing load-balancer address');
  }

  private save(): void {
    mkdirSync(dirname(this.o.stateFile), { recursive: true });
    const state: AnnouncedState = { iface: this.iface, addresses: [...this.current].sort() };
    writeFileSync(this.o.stateFile, JSON.stringify(state));
  }

  /** Stops announcing: the addresses go, so the node that takes over is the only one answering. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.factory.shutdown();
    for (const a of [...this.current]) this.withdraw(a);
    this.save();
  }
}

/** The announcer of a node agent, or undefined where addresses cannot be added (not root, no `ip`). */
export async function startLBAnnouncer(o: {
  client: Client;
  nodeName: string;
  nodeIP: string;
  stateFile: string;
  logger: Logger;
}): Promise<LBAnnouncer | undefined> {
  if (process.getuid?.() !== 0 || spawnSync('sh', ['-c', 'command -v ip'], { stdio: 'ignore' }).status !== 0) {
    o.logger.info('not announcing load-balancer pool addresses (needs root and `ip`)');
    return undefined;
  }
  const a = new LBAnnouncer({ ...o, logger: o.logger.child({ component: 'lb-announcer' }) });
  await a.start();
  return a;
}
