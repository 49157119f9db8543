// The scheduler (upstream pkg/scheduler): informers feed the cache (nodes, assigned pods) and the
// scheduling queue (pending pods with our schedulerName); one loop pops the best pod, runs a
// scheduling cycle on the cache (filter, score; preemption when nothing fits), assumes the pod
// onto the chosen node and binds it through pods/binding asynchronously, so the next cycle
// starts at once. Failures set PodScheduled=False and record FailedScheduling, as upstream.
import type { Namespace, Node, Pod, PodStatus } from 'kubernetes-types/core/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import type { Stored } from '../client/types.js';
import type { Logger } from 'pino';
import { R, type Client } from '../client/client.js';
import { isConflict, isNotFound } from '../client/errors.js';
import { EventRecorder } from '../client/events.js';
import { SharedInformerFactory, type SharedIndexInformer } from '../client/informer.js';
import { SchedulerCache } from './cache.js';
import { CycleState, FitError, Framework, type BindPlugin, type Handle, type PluginSet } from './framework.js';
import { DefaultPreemption } from './plugins/defaultpreemption.js';
import { InterPodAffinity } from './plugins/interpodaffinity.js';
import { NodeAffinity, NodeName, NodePorts, NodeUnschedulable, TaintToleration } from './plugins/node.js';
import { NodeResourcesBalancedAllocation, NodeResourcesFit, type ScoringStrategy } from './plugins/noderesources.js';
import { PodTopologySpread } from './plugins/podtopologyspread.js';
import { VolumeBinding } from './plugins/volumebinding.js';
import { EVENTS, SchedulingQueue, type QueuedPodInfo } from './queue.js';
import { defaultQueueingHints } from './queueinghints.js';
import { reportPendingPods, schedulingAttempt } from '../machinery/componentmetrics.js';
import { PodInfo, Status } from './types.js';
import { rfc3339 } from '../machinery/time.js';
import { nameOf, namespaceOf, uidOf } from '../machinery/meta.js';

export const DEFAULT_SCHEDULER_NAME = 'default-scheduler';

export interface SchedulerOptions {
  client: Client;
  logger: Logger;
  /** Pods with this spec.schedulerName are ours (default 'default-scheduler'). */
  schedulerName?: string;
  /** 0: adaptive, as upstream. */
  percentageOfNodesToScore?: number;
  scoringStrategy?: ScoringStrategy;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Bindings in flight at most (default 1,024). Upstream binds each pod in a goroutine of its own,
   * unbounded; with 64, a server whose writes took 400 ms under load bound at most 160 pods/s
   * while the scheduling cycles themselves took 1 ms each.
   */
  maxInFlightBindings?: number;
  /** Informers to use (default: a factory of its own). */
  informers?: SharedInformerFactory;
  /** Called with (pod key, ms from first queueing to bound) after each successful binding. */
  onBound?(key: string, latencyMs: number, node: string): void;
}

export interface SchedulerStats {
  attempts: number;
  scheduled: number;
  unschedulable: number;
  errors: number;
  preemptions: number;
}

const isTerminal = (pod: Pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

/** Did anything the scheduler cares about change (not status, resourceVersion, managedFields)? */
function podSpecChanged(a: Pod, b: Pod): boolean {
  if (a.metadata?.generation !== b.metadata?.generation) return true;
  const la = JSON.stringify(a.metadata?.labels ?? {});
  const lb = JSON.stringify(b.metadata?.labels ?? {});
  if (la !== lb) return true;
  return JSON.stringify(a.metadata?.annotations ?? {}) !== JSON.stringify(b.metadata?.annotations ?? {});
}

function nodeSchedulingChanged(a: Node, b: Node): boolean {
  return (
    JSON.stringify(a.metadata?.labels ?? {}) !== JSON.stringify(b.metadata?.labels ?? {}) ||
    JSON.stringify(a.spec?.taints ?? []) !== JSON.stringify(b.spec?.taints ?? []) ||
    !!a.spec?.unschedulable !== !!b.spec?.unschedulable ||
    JSON.stringify(a.status?.allocatable ?? {}) !== JSON.stringify(b.status?.allocatable ?? {})
  );
}

class DefaultBinder implements BindPlugin {
  readonly name = 'DefaultBinder';
  constructor(private readonly client: Client) {}
  async bind(_s: CycleState, pod: PodInfo, node: string): Promise<Status | null> {
    await this.client
      .resource(R.pods)
      .namespace(pod.namespace)
      .createSubresource(pod.name, 'binding', {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid },
        target: { apiVersion: 'v1', kind: 'Node', name: node },
      });
    return null;
  }
}

export class Scheduler {
  readonly name: string;
  readonly cache = new SchedulerCache();
  readonly queue: SchedulingQueue;
  readonly framework: Framework;
  readonly recorder: EventRecorder;
  readonly stats: SchedulerStats = { attempts: 0, scheduled: 0, unschedulable: 0, errors: 0, preemptions: 0 };
  private readonly log: Logger;
  private readonly factory: SharedInformerFactory;
  private readonly ownFactory: boolean;
  private podInformer!: SharedIndexInformer<Pod>;
  private nsInformer!: SharedIndexInformer<Namespace>;
  private pdbInformer!: SharedIndexInformer<PodDisruptionBudget>;
  private loop?: Promise<void>;
  private stopped = false;
  private inFlightBindings = 0;
  private bindingSlots: (() => void)[] = [];
  private readonly bindings = new Set<Promise<void>>();
  private readonly volumeBinding: VolumeBinding;
  /** Our pending pods held back by spec.schedulingGates (scheduler_pending_pods{queue="gated"}). */
  private readonly gated = new Set<string>();

  constructor(private readonly opts: SchedulerOptions) {
    this.name = opts.schedulerName ?? DEFAULT_SCHEDULER_NAME;
    this.log = opts.logger.child({ component: 'kube-scheduler' });
    this.queue = new SchedulingQueue({
      initialBackoffMs: opts.initialBackoffMs,
      maxBackoffMs: opts.maxBackoffMs,
      hints: defaultQueueingHints(),
    });
    const queue = this.queue;
    reportPendingPods(() => ({ ...queue.pending(), gated: this.gated.size }));
    // As kube-scheduler's events.k8s.io recorder: 8 workers send.
    this.recorder = new EventRecorder(opts.client, { component: this.name }, this.log, { workers: 8 });
    this.ownFactory = !opts.informers;
    this.factory =
      opts.informers ??
      new SharedInformerFactory(opts.client, { logger: this.log, dropManagedFields: true, frozen: true });
    const handle: Handle = {
      cache: this.cache,
      schedulerName: this.name,
      namespaceLabels: (ns) => this.nsInformer?.store.getByName(undefined, ns)?.metadata?.labels,
      pdbs: () => this.pdbInformer?.store.list() ?? [],
      nominatedPods: (node) => this.queue.nominatedPodsForNode(node),
      hasNominated: () => this.queue.hasNominated,
      runFilters: (s, p, n) => this.framework.runFilters(s, p, n),
      runAddPod: (s, p, a, n) => this.framework.runAddPod(s, p, a, n),
      runRemovePod: (s, p, v, n) => this.framework.runRemovePod(s, p, v, n),
      deletePod: (victim, preemptor, node) => this.deleteVictim(victim, preemptor, node),
      setNominatedNode: (pod, node) => {
        this.queue.addNominated(pod, node);
        return Promise.resolve();
      },
    };
    const fit = new NodeResourcesFit(opts.scoringStrategy ?? 'LeastAllocated');
    const nodeAffinity = new NodeAffinity();
    const taints = new TaintToleration();
    const ipa = new InterPodAffinity(handle);
    const spread = new PodTopologySpread(handle);
    const ports = new NodePorts();
    const volumes = (this.volumeBinding = new VolumeBinding({ client: opts.client }));
    const plugins: PluginSet = {
      preFilter: [fit, ports, nodeAffinity, spread, ipa, volumes],
      filter: [new NodeUnschedulable(), new NodeName(), taints, nodeAffinity, ports, fit, volumes, spread, ipa],
      postFilter: [new DefaultPreemption(handle)],
      preScore: [taints, nodeAffinity, spread, ipa],
      score: [
        { plugin: taints, weight: 3 },
        { plugin: nodeAffinity, weight: 2 },
        { plugin: spread, weight: 2 },
        { plugin: ipa, weight: 2 },
        { plugin: fit, weight: 1 },
        { plugin: new NodeResourcesBalancedAllocation(), weight: 1 },
      ],
      reserve: [],
      preBind: [volumes],
      bind: [new DefaultBinder(opts.client)],
    };
    this.framework = new Framework(plugins, handle, opts.percentageOfNodesToScore ?? 0);
  }

  private responsible(pod: Pod): boolean {
    return (pod.spec?.schedulerName || DEFAULT_SCHEDULER_NAME) === this.name;
  }

  /** Start informers, wait for them, then schedule until stop(). */
  async start(): Promise<void> {
    const f = this.factory;
    const nodes = f.forResource(R.nodes);
    this.podInformer = f.forResource(R.pods);
    this.nsInformer = f.forResource(R.namespaces);
    this.pdbInformer = f.forResource(R.poddisruptionbudgets);
    this.volumeBinding.attach(f, (ev) => this.queue.moveAllToActiveOrBackoffQueue(ev));
    nodes.addEventHandler({
      add: (n) => {
        this.cache.addNode(n);
        this.queue.moveAllToActiveOrBackoffQueue(EVENTS.NodeAdd, undefined, { newObj: n });
      },
      update: (o, n) => {
        this.cache.updateNode(n);
        if (nodeSchedulingChanged(o, n))
          this.queue.moveAllToActiveOrBackoffQueue(EVENTS.NodeUpdate, undefined, { oldObj: o, newObj: n });
      },
      delete: (n) => this.cache.removeNode(nameOf(n)),
    });
    this.podInformer.addEventHandler({
      add: (p) => this.onPodAdd(p),
      update: (o, p) => this.onPodUpdate(o, p),
      delete: (p) => this.onPodDelete(p),
    });
    this.nsInformer.addEventHandler({
      update: (o, n) => {
        if (JSON.stringify(o.metadata?.labels ?? {}) !== JSON.stringify(n.metadata?.labels ?? {}))
          this.queue.moveAllToActiveOrBackoffQueue(EVENTS.NamespaceChange);
      },
    });
    if (this.ownFactory) f.start();
    await f.waitForCacheSync();
    if (this.stopped) return;
    this.queue.run();
    this.loop = this.run();
    this.log.info({ schedulerName: this.name, nodes: this.cache.nodeCount }, 'scheduler started');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.volumeBinding.close();
    this.queue.close();
    await this.loop;
    await Promise.allSettled([...this.bindings]);
    if (this.ownFactory) await this.factory.shutdown();
  }

  // ---- informer events

  private trackGated(pod: Stored<Pod>, deleted = false): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const isGated =
      !deleted &&
      !pod.spec?.nodeName &&
      !pod.metadata?.deletionTimestamp &&
      !!pod.spec?.schedulingGates?.length &&
      this.responsible(pod);
    if (isGated) this.gated.add(key);
    else this.gated.delete(key);
  }

  private onPodAdd(pod: Stored<Pod>): void {
    this.trackGated(pod);
    if (pod.spec?.nodeName) {
      if (isTerminal(pod)) return;
      this.cache.addPod(new PodInfo(pod));
      this.queue.delete(`${pod.metadata.namespace}/${pod.metadata.name}`);
      this.queue.moveAllToActiveOrBackoffQueue(EVENTS.AssignedPodAdd, undefined, { newObj: pod });
      return;
    }
    if (!this.responsible(pod) || pod.metadata?.deletionTimestamp || pod.spec?.schedulingGates?.length) return;
    this.queue.add(new PodInfo(pod));
  }

  private onPodUpdate(old: Stored<Pod>, pod: Stored<Pod>): void {
    this.trackGated(pod);
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (pod.spec?.nodeName) {
      if (isTerminal(pod)) {
        if (this.cache.removePod(pod.metadata.uid))
          this.queue.moveAllToActiveOrBackoffQueue(EVENTS.AssignedPodDelete, undefined, { oldObj: pod });
        return;
      }
      const wasAssigned = !!old.spec?.nodeName;
      if (!wasAssigned) this.queue.delete(key);
      this.cache.addPod(new PodInfo(pod));
      if (!wasAssigned) this.queue.moveAllToActiveOrBackoffQueue(EVENTS.AssignedPodAdd, undefined, { newObj: pod });
      else if (podSpecChanged(old, pod) || !!old.metadata?.deletionTimestamp !== !!pod.metadata?.deletionTimestamp) {
        this.queue.moveAllToActiveOrBackoffQueue(EVENTS.AssignedPodUpdate, undefined, { oldObj: old, newObj: pod });
      }
      return;
    }
    if (!this.responsible(pod)) return;
    if (pod.metadata?.deletionTimestamp) {
      this.queue.delete(key);
      return;
    }
    if (pod.spec?.schedulingGates?.length) return;
    if (!this.queue.has(key)) {
      if (!this.cache.hasPod(pod.metadata.uid)) this.queue.add(new PodInfo(pod));
      return;
    }
    if (podSpecChanged(old, pod)) this.queue.update(new PodInfo(pod));
    else this.queue.refresh(new PodInfo(pod));
  }

  private onPodDelete(pod: Stored<Pod>): void {
    this.trackGated(pod, true);
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    this.queue.delete(key);
    const wasAssumed = this.cache.removePod(pod.metadata.uid);
    // An assumed pod the informer never saw bound: no object that shows what it held.
    if (pod.spec?.nodeName)
      this.queue.moveAllToActiveOrBackoffQueue(EVENTS.AssignedPodDelete, undefined, { oldObj: pod });
    else if (wasAssumed) this.queue.moveAllToActiveOrBackoffQueue(EVENTS.AssignedPodDelete);
  }

  // ---- the loop

  private async run(): Promise<void> {
    let sliceStart = Date.now();
    while (!this.stopped) {
      const q = await this.queue.pop();
      if (!q) break;
      try {
        await this.scheduleOne(q);
      } catch (err) {
        this.log.error({ err, pod: q.pi.key }, 'scheduling cycle failed');
        this.queue.addUnschedulableIfNotPresent(q, this.queue.schedulingCycle, true);
      }
      // Let informer events and binding completions in now and then.
      if (Date.now() - sliceStart > 5) {
        await new Promise((r) => setImmediate(r));
        sliceStart = Date.now();
      }
    }
  }

  /** The latest version of a pod the informer knows, or undefined when it is gone or no longer pending. */
  private current(pi: PodInfo): Pod | undefined {
    const pod = this.podInformer?.store.getByName(pi.namespace, pi.name);
    if (!pod || pod.metadata?.uid !== pi.uid || pod.spec?.nodeName || pod.metadata?.deletionTimestamp) return undefined;
    return pod;
  }

  async scheduleOne(q: QueuedPodInfo): Promise<void> {
    const pi = q.pi;
    if (!this.current(pi) || this.cache.hasPod(pi.uid)) {
      this.queue.done(pi.key);
      return;
    }
    this.stats.attempts++;
    const started = performance.now();
    const cycle = this.queue.schedulingCycle;
    const state = new CycleState();
    let node: string;
    try {
      node = this.framework.schedulePod(state, pi).node;
    } catch (err) {
      if (!(err instanceof FitError)) {
        this.stats.errors++;
        schedulingAttempt('error', (performance.now() - started) / 1000);
        await this.handleFailure(q, err as Error, cycle);
        return;
      }
      let nominated: string | undefined;
      if (this.cache.nodeCount > 0) {
        const pf = await this.framework.runPostFilter(state, pi, err.statuses);
        if (!pf.status || pf.status.isSuccess()) {
          nominated = pf.result?.nominatedNodeName;
          if (nominated) this.stats.preemptions++;
        } else if (pf.status.message) err.postFilterMsg = pf.status.message;
      }
      this.stats.unschedulable++;
      schedulingAttempt('unschedulable', (performance.now() - started) / 1000);
      await this.handleFailure(q, err, cycle, nominated);
      return;
    }
    // Assume: the cache counts the pod on its node from now on.
    const assumed = new PodInfo({ ...pi.pod, spec: { containers: [], ...pi.pod.spec, nodeName: node } });
    this.cache.assumePod(assumed);
    schedulingAttempt('scheduled', (performance.now() - started) / 1000);
    this.queue.done(pi.key);
    this.queue.deleteNominated(pi.key);
    await this.acquireBindingSlot();
    const p = this.bindingCycle(q, assumed, state, node).finally(() => {
      this.bindings.delete(p);
      this.releaseBindingSlot();
    });
    this.bindings.add(p);
  }

  private acquireBindingSlot(): Promise<void> | void {
    const max = this.opts.maxInFlightBindings ?? 1024;
    if (this.inFlightBindings < max) {
      this.inFlightBindings++;
      return;
    }
    return new Promise((r) => this.bindingSlots.push(() => (this.inFlightBindings++, r())));
  }

  private releaseBindingSlot(): void {
    this.inFlightBindings--;
    this.bindingSlots.shift()?.();
  }

  private async bindingCycle(q: QueuedPodInfo, assumed: PodInfo, state: CycleState, node: string): Promise<void> {
    try {
      const pre = await this.framework.runPreBind(state, assumed, node);
      if (pre && !pre.isSuccess()) throw new Error(`running PreBind plugin "${pre.plugin}": ${pre.message}`);
      const st = await this.framework.runBind(state, assumed, node);
      if (st && !st.isSuccess()) throw new Error(st.message);
    } catch (err) {
      this.cache.forgetPod(assumed);
      this.stats.errors++;
      if (isNotFound(err)) return; // deleted meanwhile
      const cur = this.podInformer.store.getByName(assumed.namespace, assumed.name);
      if (isConflict(err) && cur?.spec?.nodeName) return; // bound by someone else
      this.log.warn({ err, pod: assumed.key, node }, 'binding failed');
      this.queue.requeueAfterError(q);
      this.recorder.event(q.pi.pod, 'Warning', 'FailedScheduling', `Binding rejected: ${(err as Error).message}`);
      return;
    }
    this.cache.finishBinding(assumed);
    this.stats.scheduled++;
    this.recorder.event(
      q.pi.pod,
      'Normal',
      'Scheduled',
      `Successfully assigned ${assumed.namespace}/${assumed.name} to ${node}`,
    );
    this.opts.onBound?.(assumed.key, Date.now() - q.initialAttemptTimestamp, node);
  }

  private async handleFailure(q: QueuedPodInfo, err: Error, cycle: number, nominatedNode?: string): Promise<void> {
    const pi = q.pi;
    const fit = err instanceof FitError;
    if (fit) q.unschedulablePlugins = err.unschedulablePlugins;
    else q.unschedulablePlugins = new Set();
    if (nominatedNode) q.unschedulablePlugins.add('DefaultPreemption');
    const pod = this.current(pi);
    if (!pod) {
      this.queue.done(pi.key);
      return;
    }
    this.queue.addUnschedulableIfNotPresent(q, cycle, !fit);
    if (nominatedNode) this.queue.addNominated(pi, nominatedNode);
    const msg = err.message;
    if (fit) this.log.debug({ pod: pi.key, msg }, 'unable to schedule pod; waiting');
    else this.log.warn({ err, pod: pi.key }, 'error scheduling pod; retrying');
    this.recorder.event(pod, 'Warning', 'FailedScheduling', msg);
    const reason = fit ? 'Unschedulable' : 'SchedulerError';
    const cond = (pod.status?.conditions ?? []).find((c) => c.type === 'PodScheduled');
    const sameCond = cond && cond.status === 'False' && cond.reason === reason && cond.message === msg;
    const nominatedChanged = nominatedNode !== undefined && pod.status?.nominatedNodeName !== nominatedNode;
    if (sameCond && !nominatedChanged) return;
    const status: PodStatus = {
      conditions: [
        {
          type: 'PodScheduled',
          status: 'False',
          reason,
          message: msg,
          // Written as null (as upstream's status patch does); kubernetes-types has no null here.
          lastProbeTime: null as unknown as string,
          lastTransitionTime: cond?.status === 'False' ? cond.lastTransitionTime : rfc3339(),
        },
      ],
    };
    if (nominatedChanged) status.nominatedNodeName = nominatedNode;
    try {
      await this.opts.client
        .resource(R.pods)
        .namespace(pi.namespace)
        .patch(pi.name, 'strategic', { status }, { subresource: 'status' });
    } catch (e) {
      if (!isNotFound(e)) this.log.debug({ err: e, pod: pi.key }, 'failed to update pod status');
    }
  }

  private async deleteVictim(victim: Pod, preemptor: PodInfo, node: string): Promise<void> {
    const pods = this.opts.client.resource(R.pods).namespace(namespaceOf(victim));
    try {
      await pods.patch(
        nameOf(victim),
        'strategic',
        {
          status: {
            conditions: [
              {
                type: 'DisruptionTarget',
                status: 'True',
                reason: 'PreemptionByScheduler',
                message: `${this.name}: preempting to accommodate a higher priority pod`,
                lastTransitionTime: rfc3339(),
              },
            ],
          },
        },
        { subresource: 'status' },
      );
    } catch {
      /* best effort, as upstream */
    }
    try {
      await pods.delete(nameOf(victim), { preconditions: { uid: uidOf(victim) } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.recorder.event(victim, 'Normal', 'Preempted', `Preempted by pod ${preemptor.uid} on node ${node}`);
  }
}
