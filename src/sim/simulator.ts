// Simulated nodes (in the manner of kwok): N Node objects kept alive through Leases in
// kube-node-lease and periodic status reports, and for every pod bound to one of them, the
// status a kubelet would report (see pod.ts). Everything goes through the API, so the simulator
// runs inside `k8ts server` (in-process client) or alone as `k8ts sim` against any API server.
// A node marked down (annotation sim.k8ts.io/down=true) or a stopped simulator stops renewing
// leases and reporting, which the control plane sees as a failed node.
import { createHash } from 'node:crypto';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { Node, NodeStatus, Pod } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../client/client.js';
import { ControllerRunner } from '../client/controller.js';
import { isAlreadyExists, isConflict, isNotFound } from '../client/errors.js';
import { SharedIndexInformer, keyOf } from '../client/informer.js';
import { ItemExponentialFailureRateLimiter } from '../client/workqueue.js';
import { USAGE_ANNOTATION } from '../api/metrics/v1beta1/usage.js';
import { renewNodeLease } from '../client/nodelease.js';
import { nodeCondition } from '../client/nodecondition.js';
import type { SimOptions } from './config.js';
import type { Stored } from '../client/types.js';
import { ANN, type PodUsageEntry, asPodStatus, nodeUsageSample, simulatePod, terminatedStatus } from './pod.js';
import { Interner, compactPod } from './compact.js';

export const KUBELET_VERSION = 'v1.30.0+k8ts';
export const RUNTIME_VERSION = 'sim://0.1.0';
/** Simulated nodes' InternalIPs come from 198.18.0.0/15 (reserved for benchmarking, RFC 2544). */
const NODE_IP_BASE = (198 << 24) | (18 << 16);
/** How long a node waits for spec.podCIDR from node IPAM before using a range of its own. */
const POD_CIDR_WAIT_MS = 5_000;

const NODE_INDEX = 'nodeName';
const ipToString = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const ipToNumber = (s: string) => s.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0) >>> 0;

interface SimNode {
  name: string;
  index: number;
  ip: string;
  zone: string;
  uid?: string;
  lease?: Lease;
  down: boolean;
  removed: boolean;
  podCIDR?: string;
  cidrWaitSince?: number;
  lastStatusAt: number;
  statusInFlight?: Promise<void>;
  /** The lease renewal on its way, and whether newer usage should follow it. */
  renewing?: Promise<void>;
  renewAgain?: boolean;
  timer?: NodeJS.Timeout;
  /** Pod IPs in use: ip → pod key. */
  used: Map<string, string>;
  byPod: Map<string, string>;
  cursor: number;
}

const ZONES = 'abcdefghijklmnopqrstuvwxyz';

export class NodeSimulator {
  private readonly log: Logger;
  private readonly nodes = new Map<string, SimNode>();
  private readonly pods: SharedIndexInformer<Pod>;
  private readonly nodeInformer: SharedIndexInformer<Node>;
  private readonly runner: ControllerRunner;
  private readonly deletingSince = new Map<string, number>();
  private stopped = false;
  private started = false;
  private readonly usageKick = new Map<string, NodeJS.Timeout>();
  /** Parts pods have alike, kept once (compact.ts). */
  private readonly shared = new Interner();
  /**
   * Each running pod's entry in its node's usage sample (`"ns/name":[[container,cpu,mem],...]`)
   * and its totals, worked out once per version of the pod rather than at every heartbeat.
   */
  private readonly usageOf = new WeakMap<Pod, PodUsageEntry>();

  /**
   * `heartbeats` renews leases and reports node status, as the kubelet's own heartbeat client
   * does: over connections of its own, a backlog of pod status writes never delays a lease
   * (and thousands of lease renewals never delay a pod's status).
   */
  constructor(
    private readonly client: Client,
    readonly opts: SimOptions,
    logger: Logger,
    private readonly heartbeats: Client = client,
  ) {
    this.log = logger.child({ component: 'k8ts-sim' });
    for (let i = opts.startIndex; i < opts.startIndex + opts.nodes; i++) {
      const name = `${opts.namePrefix}-${i}`;
      this.nodes.set(name, {
        name,
        index: i,
        ip: ipToString((NODE_IP_BASE + i + 1) >>> 0),
        zone: `zone-${ZONES[i % Math.min(opts.zones, ZONES.length)]}`,
        down: false,
        removed: false,
        lastStatusAt: 0,
        used: new Map(),
        byPod: new Map(),
        cursor: 0,
      });
    }
    // Only pods bound to a node concern a kubelet (the kubelet's own watch selects
    // spec.nodeName=NAME; one watch for thousands of nodes selects every bound pod), kept without
    // managedFields and with what pods have alike shared.
    this.pods = new SharedIndexInformer(client, R.pods, {
      indexers: { [NODE_INDEX]: (p: Pod) => (p.spec?.nodeName ? [p.spec.nodeName] : []) },
      logger: this.log,
      fieldSelector: 'spec.nodeName!=',
      dropManagedFields: true,
      transform: (p) => compactPod(p, this.shared),
    });
    this.nodeInformer = new SharedIndexInformer(client, R.nodes, { logger: this.log, dropManagedFields: true });
    this.runner = new ControllerRunner({
      name: 'sim-pods',
      workers: opts.workers,
      reconcile: (key) => this.syncPod(key),
      rateLimiter: new ItemExponentialFailureRateLimiter<string>(5, 5_000),
      logger: this.log,
    });
    const onPod = (p: Pod) => {
      if (p?.spec?.nodeName && this.nodes.has(p.spec.nodeName)) this.runner.enqueue(keyOf(p));
    };
    this.pods.addEventHandler({
      add: onPod,
      update: (o, n) => {
        onPod(n);
        if (n.spec?.nodeName && this.nodes.has(n.spec.nodeName) && usageAnnotationsChanged(o, n))
          this.kickUsage(n.spec.nodeName);
      },
      delete: (p) => {
        const node = this.nodes.get(p.spec?.nodeName ?? '');
        if (node) this.releaseIP(node, keyOf(p));
        this.deletingSince.delete(p?.metadata?.uid);
      },
    });
    const onNode = (n: Stored<Node>) => {
      const node = this.nodes.get(n?.metadata?.name);
      if (!node) return;
      node.uid = n.metadata.uid;
      node.removed = false;
      if (n.spec?.podCIDR && node.podCIDR !== n.spec.podCIDR) {
        node.podCIDR = n.spec.podCIDR;
        this.enqueueNodePods(node);
      }
      const down = n.metadata?.annotations?.[ANN.down] === 'true';
      if (down !== node.down) {
        node.down = down;
        this.log.info({ node: node.name, down }, down ? 'simulated node marked down' : 'simulated node back up');
        if (!down && this.started) {
          node.lastStatusAt = 0;
          void this.heartbeat(node);
          this.enqueueNodePods(node);
        }
      } else if (!down && this.started && readyStatus(n) !== 'True' && !node.statusInFlight) {
        // Someone (the node lifecycle controller) thinks we are gone: report at once.
        node.lastStatusAt = 0;
        void this.heartbeat(node);
      }
    };
    this.nodeInformer.addEventHandler({
      add: onNode,
      update: (_o, n) => onNode(n),
      delete: (n) => {
        const node = this.nodes.get(n?.metadata?.name);
        if (node) {
          node.removed = true;
          node.lease = undefined;
          node.uid = undefined;
          this.log.info({ node: node.name }, 'simulated node deleted; it stops reporting');
        }
      },
    });
  }

  get nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  async start(): Promise<void> {
    // Register (or re-register) every node before watching, as a kubelet does at start.
    await runLimited([...this.nodes.values()], 32, (n) => this.register(n));
    this.nodeInformer.start();
    this.pods.start();
    await Promise.all([this.nodeInformer.waitForSync(), this.pods.waitForSync()]);
    if (this.stopped) return;
    // Remember pod IPs already handed out (a restarted simulator).
    for (const node of this.nodes.values()) {
      for (const p of this.pods.store.byIndex(NODE_INDEX, node.name)) {
        const ip = p.status?.podIP;
        if (ip && !p.spec?.hostNetwork && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
          this.reserveIP(node, keyOf(p), ip);
      }
    }
    this.started = true;
    this.runner.start();
    for (const node of this.nodes.values()) {
      this.enqueueNodePods(node);
      // Spread the heartbeats over one interval.
      this.schedule(node, Math.floor(Math.random() * Math.min(this.opts.heartbeatMs, 1000)));
    }
    this.log.info({ nodes: this.nodes.size }, 'simulated nodes running');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const n of this.nodes.values()) clearTimeout(n.timer);
    for (const t of this.usageKick.values()) clearTimeout(t);
    await this.runner.stop();
    await Promise.all([this.pods.stop(), this.nodeInformer.stop()]);
  }

  // ---- nodes -------------------------------------------------------------------------------

  private labels(node: SimNode): Record<string, string> {
    return {
      'beta.kubernetes.io/arch': this.opts.arch,
      'beta.kubernetes.io/os': 'linux',
      'kubernetes.io/arch': this.opts.arch,
      'kubernetes.io/hostname': node.name,
      'kubernetes.io/os': 'linux',
      'node.kubernetes.io/instance-type': 'k8ts-sim',
      'topology.kubernetes.io/region': 'sim',
      'topology.kubernetes.io/zone': node.zone,
      type: 'k8ts-sim',
      ...this.opts.labels,
    };
  }

  private nodeStatus(node: SimNode, current: Node | undefined, now: number): NodeStatus {
    const capacity = {
      cpu: this.opts.cpu,
      'ephemeral-storage': this.opts.ephemeralStorage,
      'hugepages-1Gi': '0',
      'hugepages-2Mi': '0',
      memory: this.opts.memory,
      pods: this.opts.pods,
    };
    const cond = (type: string, status: string, reason: string, message: string) =>
      nodeCondition(current?.status?.conditions, now, type, status, reason, message);
    const id = createHash('sha256').update(node.name).digest('hex');
    return {
      ...(current?.status ?? {}),
      capacity,
      allocatable: { ...capacity },
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [
        { type: 'InternalIP', address: node.ip },
        { type: 'Hostname', address: node.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: id.slice(0, 32),
        systemUUID: `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20, 32)}`,
        bootID: id.slice(32, 64),
        kernelVersion: '6.1.0-k8ts-sim',
        osImage: 'k8ts simulated node',
        containerRuntimeVersion: RUNTIME_VERSION,
        kubeletVersion: KUBELET_VERSION,
        kubeProxyVersion: KUBELET_VERSION,
        operatingSystem: 'linux',
        architecture: this.opts.arch,
      },
    };
  }

  private async register(node: SimNode): Promise<void> {
    const nodes = this.client.resource(R.nodes);
    const now = Date.now();
    const body: Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: node.name,
        labels: this.labels(node),
        annotations: {
          'node.alpha.kubernetes.io/ttl': '0',
          'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        },
      },
      spec: this.opts.taints.length ? { taints: this.opts.taints.map((t) => ({ ...t })) } : {},
      status: this.nodeStatus(node, undefined, now),
    };
    try {
      const created = await nodes.create(body);
      node.uid = created.metadata?.uid;
      node.podCIDR = created.spec?.podCIDR;
      node.lastStatusAt = now;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      // Re-registration: the kubelet keeps the node and reports its status.
      const cur = await nodes.get(node.name);
      node.uid = cur.metadata?.uid;
      node.podCIDR = cur.spec?.podCIDR;
      node.down = cur.metadata?.annotations?.[ANN.down] === 'true';
      const labels = { ...(cur.metadata?.labels ?? {}), ...this.labels(node) };
      if (JSON.stringify(labels) !== JSON.stringify(cur.metadata?.labels ?? {})) {
        await nodes
          .patch(node.name, 'merge', { metadata: { labels } })
          .catch((e) => this.log.debug({ err: e }, 'label update failed'));
      }
      if (!node.down) await this.reportStatus(node, true);
    }
  }

  private schedule(node: SimNode, delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(node.timer);
    node.timer = setTimeout(() => {
      void this.heartbeat(node).finally(() => this.schedule(node, this.opts.heartbeatMs));
    }, delayMs);
    node.timer.unref?.();
  }

  private async heartbeat(node: SimNode): Promise<void> {
    if (this.stopped || node.down || node.removed) return;
    try {
      await this.renewLease(node);
      if (Date.now() - node.lastStatusAt >= this.opts.nodeStatusMs) await this.reportStatus(node, false);
    } catch (err) {
      this.log.debug({ err, node: node.name }, 'heartbeat failed');
    }
  }

  private reportStatus(node: SimNode, force: boolean): Promise<void> {
    if (node.statusInFlight) return node.statusInFlight;
    const run = async () => {
      const nodes = this.heartbeats.resource(R.nodes);
      for (let attempt = 0; attempt < 5; attempt++) {
        const cur =
          attempt === 0
            ? (this.nodeInformer.store.get(node.name) ?? (await nodes.get(node.name)))
            : await nodes.get(node.name);
        if (!force && node.down) return;
        const now = Date.now();
        try {
          await nodes.updateStatus({ ...cur, status: this.nodeStatus(node, cur, now) });
          node.lastStatusAt = now;
          return;
        } catch (err) {
          if (isNotFound(err)) {
            node.removed = true;
            return;
          }
          if (!isConflict(err)) throw err;
        }
      }
    };
    node.statusInFlight = run().finally(() => (node.statusInFlight = undefined));
    return node.statusInFlight;
  }

  /** The node's usage sample, as its lease carries it. */
  private usage(node: SimNode, now: number): string {
    const w = Math.max(1, Math.round(this.opts.heartbeatMs / 1000));
    return nodeUsageSample(this.pods.store.byIndex(NODE_INDEX, node.name), now, w, this.usageOf);
  }

  /**
   * Renew the node's lease, one write at a time: a usage report asked for while a renewal is on
   * its way follows it (with the newer usage) instead of racing it with the same
   * resourceVersion, which lost with a conflict and cost a GET and a second PUT.
   */
  private renewLease(node: SimNode, fresh = false): Promise<void> {
    if (node.renewing) {
      if (fresh) node.renewAgain = true;
      return node.renewing;
    }
    const run = async () => {
      do {
        node.renewAgain = false;
        const now = Date.now();
        await renewNodeLease(this.heartbeats, node, node, {
          durationSeconds: this.opts.leaseDurationSeconds,
          annotations: { [USAGE_ANNOTATION]: this.usage(node, now) },
          now,
        });
      } while (node.renewAgain && !this.stopped && !node.down && !node.removed);
    };
    node.renewing = run().finally(() => (node.renewing = undefined));
    return node.renewing;
  }

  /** A usage annotation changed on a pod: report soon rather than at the next heartbeat. */
  private kickUsage(nodeName: string): void {
    if (this.usageKick.has(nodeName)) return;
    const t = setTimeout(() => {
      this.usageKick.delete(nodeName);
      const node = this.nodes.get(nodeName);
      if (node && !node.down && !node.removed && !this.stopped) void this.renewLease(node, true).catch(() => undefined);
    }, 1000);
    t.unref?.();
    this.usageKick.set(nodeName, t);
  }

  private enqueueNodePods(node: SimNode): void {
    for (const p of this.pods.store.byIndex(NODE_INDEX, node.name)) this.runner.enqueue(keyOf(p));
  }

  // ---- pod IPs -----------------------------------------------------------------------------

  private cidrOf(node: SimNode, now: number): string | undefined {
    if (node.podCIDR && !node.podCIDR.includes(':')) return node.podCIDR;
    node.cidrWaitSince ??= now;
    if (now - node.cidrWaitSince < POD_CIDR_WAIT_MS) return undefined;
    // No node IPAM in this cluster: a range of our own.
    return `10.${244 + Math.floor(node.index / 256)}.${node.index % 256}.0/24`;
  }

  private reserveIP(node: SimNode, key: string, ip: string): void {
    node.used.set(ip, key);
    node.byPod.set(key, ip);
  }

  private releaseIP(node: SimNode, key: string): void {
    const ip = node.byPod.get(key);
    if (ip === undefined) return;
    node.byPod.delete(key);
    if (node.used.get(ip) === key) node.used.delete(ip);
  }

  private allocateIP(node: SimNode, key: string, cidr: string): string | undefined {
    const have = node.byPod.get(key);
    if (have) return have;
    const [base, bitsStr] = cidr.split('/');
    const bits = Number(bitsStr);
    const size = 2 ** (32 - bits);
    const start = (ipToNumber(base) & ~(size - 1)) >>> 0;
    // .0 is the network, .1 the node's bridge, the last the broadcast address.
    const usable = size - 3;
    for (let i = 0; i < usable; i++) {
      const off = 2 + ((node.cursor + i) % usable);
      const ip = ipToString((start + off) >>> 0);
      if (!node.used.has(ip)) {
        node.cursor = (node.cursor + i + 1) % usable;
        this.reserveIP(node, key, ip);
        return ip;
      }
    }
    return undefined;
  }

  // ---- pods --------------------------------------------------------------------------------

  private async syncPod(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const pod = this.pods.store.get(key);
    if (!pod) return;
    const node = this.nodes.get(pod.spec?.nodeName ?? '');
    if (!node || node.down || node.removed || this.stopped) return;
    const podsClient = this.client.resource(R.pods).namespace(pod.metadata.namespace);
    const now = Date.now();
    const env = { now, hostIP: node.ip, podIP: '', timing: this.opts.timing };

    if (pod.metadata.deletionTimestamp) {
      const uid = pod.metadata.uid;
      const since = this.deletingSince.get(uid) ?? now;
      this.deletingSince.set(uid, since);
      const grace = Math.min((pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000, this.opts.maxGraceMs);
      if (now < since + grace) return { requeueAfterMs: since + grace - now + 5 };
      if (pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed') {
        // The containers were stopped: report them terminated, then let the object go.
        const status = terminatedStatus(pod, env, 0, 'Completed');
        try {
          await podsClient.updateStatus({ ...pod, status: asPodStatus(status) });
        } catch (err) {
          if (isNotFound(err)) return;
          if (!isConflict(err)) throw err;
        }
      }
      try {
        await podsClient.delete(pod.metadata.name, { gracePeriodSeconds: 0, preconditions: { uid } });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
      this.releaseIP(node, key);
      this.deletingSince.delete(uid);
      return;
    }

    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') {
      this.releaseIP(node, key);
      return;
    }
    if (!pod.spec?.hostNetwork) {
      let ip: string | undefined = node.byPod.get(key);
      if (!ip) {
        const cidr = this.cidrOf(node, now);
        if (!cidr) return { requeueAfterMs: 250 };
        ip = this.allocateIP(node, key, cidr);
        if (!ip) {
          this.log.warn({ node: node.name, pod: key }, 'no free pod IP on simulated node');
          return { requeueAfterMs: 5_000 };
        }
      }
      env.podIP = ip;
    } else env.podIP = node.ip;

    const { status, next } = simulatePod(pod, env);
    if (JSON.stringify(status) !== JSON.stringify(pod.status ?? {})) {
      try {
        await podsClient.updateStatus({ ...pod, status: asPodStatus(status) });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      if (status.phase === 'Succeeded' || status.phase === 'Failed') this.releaseIP(node, key);
    }
    if (next !== undefined) return { requeueAfterMs: Math.max(5, next - Date.now() + 5) };
  }
}

function readyStatus(n: Node): string | undefined {
  return (n.status?.conditions ?? []).find((c) => c.type === 'Ready')?.status;
}

function usageAnnotationsChanged(o: Pod, n: Pod): boolean {
  const a = o?.metadata?.annotations ?? {};
  const b = n?.metadata?.annotations ?? {};
  return (
    a[ANN.cpu] !== b[ANN.cpu] ||
    a[ANN.cpuMillicores] !== b[ANN.cpuMillicores] ||
    a[ANN.memory] !== b[ANN.memory] ||
    o?.status?.phase !== n?.status?.phase
  );
}

async function runLimited<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async () => {
    while (i < items.length) await fn(items[i++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
