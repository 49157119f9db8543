// The agent's Node object: registration with labels, capacity and identity, status reports with
// the upstream conditions (Ready and the three pressure conditions, by the default eviction
// thresholds), and the heartbeat Lease in kube-node-lease that carries resource usage for
// metrics.k8s.io (see src/api/metrics/v1beta1/usage.ts).
import type { Node, NodeCondition, NodeStatus, Taint } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../client/client.js';
import { isAlreadyExists, isConflict, isNotFound } from '../client/errors.js';
import { USAGE_ANNOTATION } from '../api/metrics/v1beta1/usage.js';
import { renewNodeLease, type NodeLeaseState } from '../client/nodelease.js';
import { nodeCondition } from '../client/nodecondition.js';
import { cpuCount, diskinfo, goArch, meminfo, nodeInfo } from './hostinfo.js';

export const KUBELET_VERSION = 'v1.30.0+k8ts';
/** Share of the node filesystem held back from allocatable ephemeral storage (nodefs.available default). */
const EVICTION_NODEFS_FRACTION = 0.1;
const MAX_PODS = 110;

export interface NodeReporterOptions {
  client: Client;
  nodeName: string;
  nodeIP: string;
  hostname: string;
  dataDir: string;
  port: number;
  runtimeVersion: string;
  /** False for the process runtime: reported as a label and a condition. */
  isolated: boolean;
  labels: Record<string, string>;
  taints: Taint[];
  /** Why the node cannot run pods yet (undefined: ready). */
  notReady(): string | undefined;
  /** Latest usage sample (encoded) for the lease annotation. */
  usage(): string | undefined;
  /** Whether the eviction manager sees this pressure now (node conditions). */
  underPressure(p: 'memory' | 'disk' | 'pid'): boolean;
  /** Memory held back from allocatable: the memory.available eviction threshold (bytes). */
  memoryReserveBytes: number;
  /** Extended resources (e.g. from device plugins): name → count. */
  extendedResources(): Record<string, number>;
  logger: Logger;
}

export class NodeReporter {
  uid?: string;
  podCIDR?: string;
  /** spec.podCIDRs: with an IPv6 range on a dual-stack cluster. */
  podCIDRs?: string[];
  private leaseState: NodeLeaseState = {};
  private timer?: NodeJS.Timeout;
  private lastStatus = '';
  private lastStatusAt = 0;
  private stopped = false;

  constructor(private o: NodeReporterOptions) {}

  labels(): Record<string, string> {
    const os = 'linux';
    return {
      'beta.kubernetes.io/arch': goArch(),
      'beta.kubernetes.io/os': os,
      'kubernetes.io/arch': goArch(),
      'kubernetes.io/hostname': this.o.hostname,
      'kubernetes.io/os': os,
      'node.kubernetes.io/instance-type': 'k8ts',
      ...(this.o.isolated ? {} : { 'k8ts.io/runtime': 'process' }),
      ...this.o.labels,
    };
  }

  /** Allocatable resources last reported (for resourceFieldRef defaults). */
  allocatable: Record<string, string> = {};

  private capacity(): { capacity: Record<string, string>; allocatable: Record<string, string> } {
    const mem = meminfo();
    const disk = diskinfo(this.o.dataDir);
    const ext = Object.fromEntries(Object.entries(this.o.extendedResources()).map(([k, v]) => [k, String(v)]));
    const capacity = {
      cpu: String(cpuCount()),
      'ephemeral-storage': `${Math.floor(disk.totalBytes / 1024)}Ki`,
      'hugepages-1Gi': '0',
      'hugepages-2Mi': '0',
      memory: `${Math.floor(mem.totalBytes / 1024)}Ki`,
      pods: String(MAX_PODS),
      ...ext,
    };
    const allocatable = {
      ...capacity,
      'ephemeral-storage': String(Math.floor(disk.totalBytes * (1 - EVICTION_NODEFS_FRACTION))),
      memory: `${Math.floor(Math.max(0, mem.totalBytes - this.o.memoryReserveBytes) / 1024)}Ki`,
    };
    this.allocatable = allocatable;
    return { capacity, allocatable };
  }

  private conditions(current: Node | undefined, now: number): NodeCondition[] {
    const cond = (type: string, status: string, reason: string, message: string) =>
      nodeCondition(current?.status?.conditions, now, type, status, reason, message);
    // The pressure conditions are "False" when all is well.
    const pressure = (type: string, on: boolean, reasons: [string, string], messages: [string, string]) =>
      cond(type, on ? 'True' : 'False', on ? reasons[1] : reasons[0], on ? messages[1] : messages[0]);
    const press = (...args: Parameters<typeof this.o.underPressure>) => this.o.underPressure(...args);
    const notReady = this.o.notReady();
    const out = [
      pressure(
        'MemoryPressure',
        press('memory'),
        ['KubeletHasSufficientMemory', 'KubeletHasInsufficientMemory'],
        ['kubelet has sufficient memory available', 'kubelet has insufficient memory available'],
      ),
      pressure(
        'DiskPressure',
        press('disk'),
        ['KubeletHasNoDiskPressure', 'KubeletHasDiskPressure'],
        ['kubelet has no disk pressure', 'kubelet has disk pressure'],
      ),
      pressure(
        'PIDPressure',
        press('pid'),
        ['KubeletHasSufficientPID', 'KubeletHasInsufficientPID'],
        ['kubelet has sufficient PID available', 'kubelet has insufficient PID available'],
      ),
      notReady
        ? cond('Ready', 'False', 'KubeletNotReady', notReady)
        : cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
    ];
    if (!this.o.isolated)
      out.push(
        cond(
          'ContainersIsolated',
          'False',
          'ProcessRuntime',
          'containers run as host processes (process runtime): no namespaces, no cgroup limits',
        ),
      );
    return out;
  }

  private status(current: Node | undefined, now: number): NodeStatus & { conditions: NodeCondition[] } {
    return {
      ...(current?.status ?? {}),
      ...this.capacity(),
      conditions: this.conditions(current, now),
      addresses: [
        { type: 'InternalIP', address: this.o.nodeIP },
        { type: 'Hostname', address: this.o.hostname },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: this.o.port } },
      nodeInfo: nodeInfo(this.o.runtimeVersion, KUBELET_VERSION),
    };
  }

  /** Creates the Node, or takes over an existing one with this name (a restarted agent). */
  async register(): Promise<void> {
    const nodes = this.o.client.resource(R.nodes);
    const now = Date.now();
    const body: Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: this.o.nodeName,
        labels: this.labels(),
        annotations: {
          'node.alpha.kubernetes.io/ttl': '0',
          'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        },
      },
      spec: this.o.taints.length ? { taints: this.o.taints } : {},
      status: this.status(undefined, now),
    };
    try {
      const created = await nodes.create(body);
      this.uid = created.metadata?.uid;
      this.podCIDR = created.spec?.podCIDR;
      this.podCIDRs = created.spec?.podCIDRs;
      this.o.logger.info('node registered');
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const cur = await nodes.get(this.o.nodeName);
      this.uid = cur.metadata?.uid;
      this.podCIDR = cur.spec?.podCIDR;
      this.podCIDRs = cur.spec?.podCIDRs;
      const labels = { ...(cur.metadata?.labels ?? {}), ...this.labels() };
      if (JSON.stringify(labels) !== JSON.stringify(cur.metadata?.labels ?? {}))
        await nodes.patch(this.o.nodeName, 'merge', { metadata: { labels } });
      await this.reportStatus(true);
    }
  }

  /** Heartbeats: the lease every 10 s, the status when it changed or every minute (upstream defaults). */
  start(leaseMs = 10_000): void {
    const tick = async () => {
      if (this.stopped) return;
      try {
        await this.renewLease();
        await this.reportStatus(false);
      } catch (err) {
        this.o.logger.warn({ err }, 'node heartbeat failed');
      }
      if (!this.stopped) {
        this.timer = setTimeout(() => void tick(), leaseMs);
        this.timer.unref?.();
      }
    };
    void tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  async reportStatus(force: boolean): Promise<void> {
    const nodes = this.o.client.resource(R.nodes);
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await nodes.get(this.o.nodeName);
      this.podCIDR = cur.spec?.podCIDR;
      this.podCIDRs = cur.spec?.podCIDRs;
      const now = Date.now();
      const status = this.status(cur, now);
      const fingerprint = JSON.stringify({
        ...status,
        conditions: status.conditions.map((c) => [c.type, c.status, c.reason]),
      });
      if (!force && fingerprint === this.lastStatus && now - this.lastStatusAt < 60_000) return;
      try {
        await nodes.updateStatus({ ...cur, status });
        this.lastStatus = fingerprint;
        this.lastStatusAt = now;
        return;
      } catch (err) {
        if (isNotFound(err)) {
          // Deleted from the API: register again, as the kubelet does.
          await this.register();
          return;
        }
        if (!isConflict(err)) throw err;
      }
    }
  }

  private async renewLease(): Promise<void> {
    const usage = this.o.usage();
    await renewNodeLease(
      this.o.client,
      this.leaseState,
      { name: this.o.nodeName, uid: this.uid },
      { durationSeconds: 40, annotations: usage ? { [USAGE_ANNOTATION]: usage } : undefined },
    );
  }
}
