// The node lifecycle controller (upstream pkg/controller/nodelifecycle) and the NoExecute taint
// eviction it drives (upstream pkg/controller/tainteviction):
//
// - health: a node's probe time moves whenever its Lease in kube-node-lease is renewed or its
//   Ready condition's lastHeartbeatTime changes (seen on this controller's clock). A node not
//   heard from for the grace period (--node-monitor-grace-period, 40 s; 60 s for a node that
//   never reported) gets Ready/MemoryPressure/DiskPressure/PIDPressure = Unknown
//   ("NodeStatusUnknown", "Kubelet stopped posting node status."), and its pods' Ready
//   condition turns False;
// - taints: Ready False → node.kubernetes.io/not-ready, Ready Unknown →
//   node.kubernetes.io/unreachable, each with NoSchedule and NoExecute; the pressure conditions
//   → node.kubernetes.io/{memory,disk,pid}-pressure:NoSchedule; spec.unschedulable →
//   node.kubernetes.io/unschedulable:NoSchedule;
// - eviction: a pod on a node with NoExecute taints it does not tolerate is deleted at once; one
//   that tolerates them for tolerationSeconds is deleted that long after the taint was added.
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type {
  Node,
  NodeCondition,
  NodeStatus,
  Pod,
  PodCondition,
  PodSpec,
  PodStatus,
  Toleration,
} from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { EventRecorder } from '../../client/events.js';
import { isConflict, isNotFound } from '../../client/errors.js';
import { type SharedIndexInformer, keyOf } from '../../client/informer.js';
import type { Stored } from '../../client/types.js';
import type { Controller, ControllerContext } from '../types.js';
import { rfc3339 } from '../../machinery/time.js';
import { toleratesTaint } from '../../api/helpers/taints.js';

export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
export const TAINT_MEMORY_PRESSURE = 'node.kubernetes.io/memory-pressure';
export const TAINT_DISK_PRESSURE = 'node.kubernetes.io/disk-pressure';
export const TAINT_PID_PRESSURE = 'node.kubernetes.io/pid-pressure';
const MANAGED_NOSCHEDULE = [
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  TAINT_UNSCHEDULABLE,
  TAINT_MEMORY_PRESSURE,
  TAINT_DISK_PRESSURE,
  TAINT_PID_PRESSURE,
];
const MANAGED_NOEXECUTE = [TAINT_NOT_READY, TAINT_UNREACHABLE];

const POD_NODE_INDEX = 'nodelifecycle/nodeName';

export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

export { toleratesTaint };

/**
 * When a pod on a node with these NoExecute taints must go: 0 now, a time (ms) later, or
 * undefined (tolerated for ever). `t0` is when to count from for taints without timeAdded.
 */
export function evictionTime(
  pod: { spec?: Pick<PodSpec, 'tolerations'> },
  taints: Taint[],
  t0: number,
): number | undefined {
  const noExecute = taints.filter((t) => t.effect === 'NoExecute');
  if (!noExecute.length) return undefined;
  const tolerations: Toleration[] = pod.spec?.tolerations ?? [];
  let at: number | undefined;
  for (const taint of noExecute) {
    const matching = tolerations.filter((t) => toleratesTaint(t, taint));
    if (!matching.length) return 0;
    // The shortest tolerationSeconds among the tolerations that match (none: for ever).
    let secs: number | undefined;
    for (const t of matching) {
      if (typeof t.tolerationSeconds !== 'number') continue;
      secs = secs === undefined ? t.tolerationSeconds : Math.min(secs, t.tolerationSeconds);
    }
    if (secs === undefined) continue;
    const added = taint.timeAdded ? Date.parse(taint.timeAdded) : t0;
    const when = added + Math.max(0, secs) * 1000;
    at = at === undefined ? when : Math.min(at, when);
  }
  return at;
}

/** The taints the node's conditions and spec.unschedulable call for (keys this controller owns). */
export function desiredTaints(node: Node): { noSchedule: string[]; noExecute: string[] } {
  const conds: NodeCondition[] = node.status?.conditions ?? [];
  const cond = (t: string) => conds.find((c) => c.type === t)?.status;
  const ready = cond('Ready');
  const noSchedule: string[] = [];
  const noExecute: string[] = [];
  if (ready === 'False') {
    noSchedule.push(TAINT_NOT_READY);
    noExecute.push(TAINT_NOT_READY);
  } else if (ready === 'Unknown') {
    noSchedule.push(TAINT_UNREACHABLE);
    noExecute.push(TAINT_UNREACHABLE);
  }
  if (cond('MemoryPressure') === 'True') noSchedule.push(TAINT_MEMORY_PRESSURE);
  if (cond('DiskPressure') === 'True') noSchedule.push(TAINT_DISK_PRESSURE);
  if (cond('PIDPressure') === 'True') noSchedule.push(TAINT_PID_PRESSURE);
  if (node.spec?.unschedulable) noSchedule.push(TAINT_UNSCHEDULABLE);
  return { noSchedule, noExecute };
}

/** The node's taints with the managed ones brought in line; undefined when nothing changes. */
export function reconcileTaints(node: Node, at: string): Taint[] | undefined {
  const cur: Taint[] = node.spec?.taints ?? [];
  const want = desiredTaints(node);
  const keep = cur.filter((t) => {
    if (t.effect === 'NoSchedule' && MANAGED_NOSCHEDULE.includes(t.key)) return want.noSchedule.includes(t.key);
    if (t.effect === 'NoExecute' && MANAGED_NOEXECUTE.includes(t.key)) return want.noExecute.includes(t.key);
    return true;
  });
  const add: Taint[] = [];
  for (const k of want.noSchedule)
    if (!keep.some((t) => t.key === k && t.effect === 'NoSchedule')) add.push({ key: k, effect: 'NoSchedule' });
  for (const k of want.noExecute)
    if (!keep.some((t) => t.key === k && t.effect === 'NoExecute'))
      add.push({ key: k, effect: 'NoExecute', timeAdded: at });
  if (!add.length && keep.length === cur.length) return undefined;
  return [...keep, ...add];
}

interface Health {
  /** Local time the node was last heard from. */
  probeAt: number;
  heartbeat?: string;
  renew?: string;
}

export class NodeLifecycleController implements Controller {
  readonly name = 'nodelifecycle';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly nodes: SharedIndexInformer<Node>;
  private readonly leases: SharedIndexInformer<Lease>;
  private readonly pods: SharedIndexInformer<Pod>;
  private readonly nodeRunner: ControllerRunner;
  private readonly podRunner: ControllerRunner;
  private readonly health = new Map<string, Health>();
  private readonly recorder: EventRecorder;
  private readonly graceMs: number;
  private readonly startupGraceMs: number;
  private readonly periodMs: number;
  private timer?: NodeJS.Timeout;

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'nodelifecycle' });
    this.graceMs = ctx.options?.nodeMonitorGracePeriodMs ?? 40_000;
    this.startupGraceMs = ctx.options?.nodeStartupGracePeriodMs ?? Math.max(60_000, this.graceMs);
    this.periodMs = ctx.options?.nodeMonitorPeriodMs ?? Math.min(5_000, Math.max(100, Math.floor(this.graceMs / 4)));
    this.recorder = new EventRecorder(ctx.client, { component: 'node-controller' }, this.log);
    this.nodes = ctx.informers.forResource(R.nodes);
    this.leases = ctx.informers.forResource(R.leases, { namespace: 'kube-node-lease' });
    this.pods = ctx.informers.forResource(R.pods);
    try {
      this.pods.addIndexers({ [POD_NODE_INDEX]: (p: Pod | undefined) => (p?.spec?.nodeName ? [p.spec.nodeName] : []) });
    } catch {
      // Already there (a second instance over the same factory).
    }
    this.nodeRunner = new ControllerRunner({
      name: 'node-lifecycle-taints',
      workers: 2,
      reconcile: (key) => this.syncNodeTaints(key),
      logger: this.log,
    });
    this.podRunner = new ControllerRunner({
      name: 'taint-eviction',
      workers: 4,
      reconcile: (key) => this.syncPod(key),
      logger: this.log,
    });

    this.nodes.addEventHandler({
      add: (n) => {
        this.observeNode(n);
        this.nodeRunner.enqueue(n.metadata.name);
      },
      update: (o, n) => {
        this.observeNode(n);
        if (JSON.stringify(o.spec?.taints ?? []) !== JSON.stringify(n.spec?.taints ?? []))
          this.enqueuePodsOn(n.metadata.name);
        this.nodeRunner.enqueue(n.metadata.name);
      },
      delete: (n) => this.health.delete(n.metadata.name),
    });
    const onLease = (l: Lease) => {
      const name = l?.metadata?.name;
      const renew = l?.spec?.renewTime;
      if (!name || !renew) return;
      const h = this.health.get(name);
      if (!h) this.health.set(name, { probeAt: Date.now(), renew });
      else if (h.renew !== renew) {
        h.renew = renew;
        h.probeAt = Date.now();
      }
    };
    this.leases.addEventHandler({ add: onLease, update: (_o, l) => onLease(l) });
    const onPod = (p: Stored<Pod>) => {
      if (p?.spec?.nodeName && !p.metadata?.deletionTimestamp) this.podRunner.enqueue(keyOf(p));
    };
    this.pods.addEventHandler({ add: onPod, update: (_o, p) => onPod(p) });
  }

  start(): void {
    // Nodes seen at start get a full grace period from now, as upstream.
    for (const n of this.nodes.store.list()) {
      const h = this.health.get(n.metadata.name);
      if (h) h.probeAt = Date.now();
    }
    this.nodeRunner.start();
    this.podRunner.start();
    const tick = () => {
      void this.monitor()
        .catch((err) => this.log.warn({ err }, 'node health check failed'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.periodMs);
        });
    };
    this.timer = setTimeout(tick, this.periodMs);
  }

  async stop(): Promise<void> {
    const t = this.timer;
    this.timer = undefined;
    clearTimeout(t);
    await Promise.all([this.nodeRunner.stop(), this.podRunner.stop()]);
  }

  private observeNode(n: Stored<Node>): void {
    const name = n.metadata.name;
    const hb = (n.status?.conditions ?? []).find((c) => c.type === 'Ready')?.lastHeartbeatTime;
    const h = this.health.get(name);
    if (!h) this.health.set(name, { probeAt: Date.now(), heartbeat: hb });
    else if (hb && h.heartbeat !== hb) {
      h.heartbeat = hb;
      h.probeAt = Date.now();
    }
  }

  private enqueuePodsOn(node: string): void {
    for (const p of this.pods.store.byIndex(POD_NODE_INDEX, node))
      if (!p.metadata?.deletionTimestamp) this.podRunner.enqueue(keyOf(p));
  }

  /** monitorNodeHealth: nodes not heard from within the grace period become Unknown. */
  private async monitor(): Promise<void> {
    const t = Date.now();
    for (const node of this.nodes.store.list()) {
      const name = node.metadata.name;
      let h = this.health.get(name);
      if (!h) this.health.set(name, (h = { probeAt: t }));
      const ready = (node.status?.conditions ?? []).find((c) => c.type === 'Ready');
      const grace = ready ? this.graceMs : this.startupGraceMs;
      if (t - h.probeAt <= grace) continue;
      if (ready?.status === 'Unknown') {
        // Still gone: pods created on it since must not look Ready.
        await this.markPodsNotReady(name, false);
        continue;
      }
      await this.markUnknown(name).catch((err) => this.log.warn({ err, node: name }, 'could not mark node Unknown'));
    }
  }

  private async markUnknown(name: string): Promise<void> {
    const nodes = this.client.resource(R.nodes);
    for (let attempt = 0; attempt < 3; attempt++) {
      const cur = attempt === 0 ? this.nodes.store.get(name) : await nodes.get(name).catch(() => undefined);
      if (!cur) return;
      const node = structuredClone(cur);
      const ts = rfc3339();
      const status: NodeStatus = node.status ?? {};
      const conds: NodeCondition[] = (status.conditions ??= []);
      const ready = conds.find((c) => c.type === 'Ready');
      if (ready?.status === 'Unknown') return;
      if (!ready) {
        conds.push({
          type: 'Ready',
          status: 'Unknown',
          reason: 'NodeStatusNeverUpdated',
          message: 'Kubelet never posted node status.',
          lastHeartbeatTime: node.metadata.creationTimestamp,
          lastTransitionTime: ts,
        });
      }
      for (const type of ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure']) {
        const c = conds.find((x) => x.type === type);
        if (!c) {
          if (type !== 'Ready')
            conds.push({
              type,
              status: 'Unknown',
              reason: 'NodeStatusNeverUpdated',
              message: 'Kubelet never posted node status.',
              lastHeartbeatTime: node.metadata.creationTimestamp,
              lastTransitionTime: ts,
            });
          continue;
        }
        if (c.status === 'Unknown') continue;
        c.status = 'Unknown';
        c.reason = 'NodeStatusUnknown';
        c.message = 'Kubelet stopped posting node status.';
        c.lastTransitionTime = ts;
      }
      try {
        await nodes.updateStatus({ ...node, status });
      } catch (err) {
        if (isNotFound(err)) return;
        if (isConflict(err)) continue;
        throw err;
      }
      this.log.info({ node: name }, 'node stopped posting status; marked Unknown');
      this.recorder.event(
        { apiVersion: 'v1', kind: 'Node', metadata: { name, uid: name } },
        'Normal',
        'NodeNotReady',
        `Node ${name} status is now: NodeNotReady`,
      );
      await this.markPodsNotReady(name, true);
      return;
    }
  }

  /** MarkPodsNotReady: pods on a node that is gone are not Ready. */
  private async markPodsNotReady(nodeName: string, withEvents: boolean): Promise<void> {
    for (const pod of this.pods.store.byIndex(POD_NODE_INDEX, nodeName)) {
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
      const conds: PodCondition[] = pod.status?.conditions ?? [];
      const ready = conds.find((c) => c.type === 'Ready');
      if (!ready || ready.status === 'False') continue;
      const next = structuredClone(pod);
      for (const c of next.status?.conditions ?? []) {
        if (c.type === 'Ready') {
          c.status = 'False';
          c.lastTransitionTime = rfc3339();
        }
      }
      try {
        await this.client.resource(R.pods).namespace(pod.metadata.namespace).updateStatus(next);
        if (withEvents) this.recorder.event(pod, 'Warning', 'NodeNotReady', 'Node is not ready');
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err))
          this.log.debug({ err, pod: keyOf(pod) }, 'could not mark pod not ready');
      }
    }
  }

  private async syncNodeTaints(name: string): Promise<void> {
    const nodes = this.client.resource(R.nodes);
    let cur = this.nodes.store.get(name);
    for (let attempt = 0; attempt < 3 && cur; attempt++) {
      const taints = reconcileTaints(cur, rfc3339());
      if (!taints) return;
      const next = structuredClone(cur);
      next.spec ??= {};
      if (taints.length) next.spec.taints = taints;
      else delete next.spec.taints;
      try {
        await nodes.update(next);
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err)) throw err;
        cur = await nodes.get(name).catch(() => undefined);
      }
    }
  }

  /** Taint eviction for one pod. */
  private async syncPod(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const pod = this.pods.store.get(key);
    if (!pod || pod.metadata?.deletionTimestamp || !pod.spec?.nodeName) return;
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    const node = this.nodes.store.get(pod.spec.nodeName);
    if (!node) return;
    const at = evictionTime(pod, node.spec?.taints ?? [], Date.now());
    if (at === undefined) return;
    const wait = at - Date.now();
    if (wait > 0) return { requeueAfterMs: wait + 10 };
    const pods = this.client.resource(R.pods).namespace(pod.metadata.namespace);
    // Upstream marks the pod with DisruptionTarget before deleting it.
    try {
      const next = structuredClone(pod);
      const status: PodStatus = next.status ?? {};
      // Upstream writes the unset lastProbeTime as null.
      const conds: (Omit<PodCondition, 'lastProbeTime'> & { lastProbeTime?: string | null })[] = (status.conditions ??=
        []).filter((c) => c.type !== 'DisruptionTarget');
      conds.push({
        type: 'DisruptionTarget',
        status: 'True',
        reason: 'DeletionByTaintManager',
        message: 'Taint manager: deleting due to NoExecute taint',
        lastProbeTime: null,
        lastTransitionTime: rfc3339(),
      });
      status.conditions = conds as PodCondition[];
      await pods.updateStatus({ ...next, status });
    } catch (err) {
      if (isNotFound(err)) return;
      if (isConflict(err)) throw err;
      this.log.debug({ err, pod: key }, 'could not add DisruptionTarget');
    }
    this.recorder.event(pod, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${key}`);
    try {
      await pods.delete(pod.metadata.name, { preconditions: { uid: pod.metadata.uid } });
      this.log.info({ pod: key, node: pod.spec.nodeName }, 'evicted pod for a NoExecute taint');
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }
}
