// The pod garbage collector (upstream pkg/controller/podgc). Every gcCheckPeriod (20 s):
//  - terminated pods (Succeeded/Failed) above terminated-pod-gc-threshold are deleted, oldest
//    first (0 disables this);
//  - pods bound to a node that does not exist are deleted (forcefully) once the node has been
//    missing for the quarantine time (40 s) and the API server confirms it is gone — this covers
//    pods still terminating on a vanished node too;
//  - terminating pods that were never scheduled are deleted forcefully;
//  - terminating pods on nodes that are NotReady with the node.kubernetes.io/out-of-service taint
//    are deleted forcefully.
// Before a non-terminal pod is deleted it is marked Failed with the DisruptionTarget condition
// (reason DeletionByPodGC), as upstream.
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import type { Stored } from '../../client/types.js';
import { namespaceOf } from '../../machinery/meta.js';
import { R, type Client } from '../../client/client.js';
import { isNotFound } from '../../client/errors.js';
import type { SharedIndexInformer } from '../../client/informer.js';
import type { Controller, ControllerContext } from '../types.js';
import { rfc3339 } from '../../machinery/time.js';

export const DEFAULT_TERMINATED_POD_GC_THRESHOLD = 12500;
export const GC_CHECK_PERIOD_MS = 20_000;
export const QUARANTINE_MS = 40_000;

export interface PodGCOptions {
  terminatedPodThreshold?: number;
  gcCheckPeriodMs?: number;
  quarantineMs?: number;
}

type StoredPod = Stored<Pod>;

const isTerminal = (p: Pod) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

export class PodGCController implements Controller {
  readonly name = 'pod-garbage-collector';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly pods: SharedIndexInformer<Pod>;
  private readonly nodes: SharedIndexInformer<Node>;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  /** Node name → when it was first seen missing. */
  private readonly missingSince = new Map<string, number>();
  private readonly threshold: number;
  private readonly period: number;
  private readonly quarantine: number;

  constructor(ctx: ControllerContext, opts: PodGCOptions = {}) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'podgc' });
    this.pods = ctx.informers.forResource(R.pods);
    this.nodes = ctx.informers.forResource(R.nodes);
    this.threshold = opts.terminatedPodThreshold ?? DEFAULT_TERMINATED_POD_GC_THRESHOLD;
    this.period = opts.gcCheckPeriodMs ?? GC_CHECK_PERIOD_MS;
    this.quarantine = opts.quarantineMs ?? QUARANTINE_MS;
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.gc()
        .catch((err) => this.log.warn({ err }, 'pod gc failed'))
        .finally(() => (this.running = undefined));
    }, this.period);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  async gc(): Promise<void> {
    const pods = this.pods.indexer.list();
    await this.gcTerminated(pods);
    await this.gcTerminating(pods);
    await this.gcOrphaned(pods);
    await this.gcUnscheduledTerminating(pods);
  }

  private async gcTerminated(pods: StoredPod[]): Promise<void> {
    if (this.threshold <= 0) return;
    const terminated = pods.filter((p) => isTerminal(p) && !p.metadata.deletionTimestamp);
    const excess = terminated.length - this.threshold;
    if (excess <= 0) return;
    terminated.sort((a, b) =>
      a.metadata.creationTimestamp < b.metadata.creationTimestamp
        ? -1
        : a.metadata.creationTimestamp > b.metadata.creationTimestamp
          ? 1
          : 0,
    );
    this.log.info({ excess, threshold: this.threshold }, 'garbage collecting terminated pods');
    await this.inParallel(terminated.slice(0, excess), (p) => this.deletePod(p, false));
  }

  private async gcTerminating(pods: StoredPod[]): Promise<void> {
    const outOfService = (nodeName: string) => {
      const node = this.nodes.indexer.get(nodeName);
      if (!node) return false;
      const ready = (node.status?.conditions ?? []).find((c) => c.type === 'Ready');
      const notReady = !ready || ready.status !== 'True';
      return notReady && (node.spec?.taints ?? []).some((t) => t.key === 'node.kubernetes.io/out-of-service');
    };
    const victims = pods.filter(
      (p) => p.metadata.deletionTimestamp && p.spec?.nodeName && outOfService(p.spec.nodeName),
    );
    await this.inParallel(victims, (p) => this.deletePod(p, true));
  }

  private async gcOrphaned(pods: StoredPod[]): Promise<void> {
    const now = Date.now();
    const seen = new Set<string>();
    for (const p of pods) {
      const node = p.spec?.nodeName;
      if (!node || this.nodes.indexer.get(node)) continue;
      seen.add(node);
      if (!this.missingSince.has(node)) this.missingSince.set(node, now);
    }
    for (const node of [...this.missingSince.keys()])
      if (!seen.has(node) || this.nodes.indexer.get(node)) this.missingSince.delete(node);
    const gone = new Set<string>();
    for (const [node, since] of this.missingSince) {
      if (now - since < this.quarantine) continue;
      // The cache may be behind: ask the API server.
      try {
        await this.client.resource(R.nodes).get(node);
        this.missingSince.delete(node);
      } catch (err) {
        if (isNotFound(err)) gone.add(node);
        else throw err;
      }
    }
    if (!gone.size) return;
    const victims = pods.filter((p) => gone.has(p.spec?.nodeName ?? ''));
    this.log.info({ nodes: [...gone], pods: victims.length }, 'deleting pods bound to nodes that no longer exist');
    await this.inParallel(victims, (p) => this.deletePod(p, true, 'PodGC: node no longer exists'));
  }

  private async gcUnscheduledTerminating(pods: StoredPod[]): Promise<void> {
    const victims = pods.filter((p) => p.metadata.deletionTimestamp && !p.spec?.nodeName);
    await this.inParallel(victims, (p) => this.deletePod(p, true));
  }

  private async inParallel(pods: StoredPod[], fn: (p: StoredPod) => Promise<void>): Promise<void> {
    const limit = 20;
    for (let i = 0; i < pods.length; i += limit) {
      await Promise.all(
        pods
          .slice(i, i + limit)
          .map((p) =>
            fn(p).catch((err) =>
              this.log.warn({ err, pod: `${p.metadata.namespace}/${p.metadata.name}` }, 'pod gc: delete failed'),
            ),
          ),
      );
    }
  }

  private async deletePod(pod: StoredPod, force: boolean, message = 'PodGC: node no longer exists'): Promise<void> {
    const rc = this.client.resource(R.pods).namespace(namespaceOf(pod));
    if (force && !isTerminal(pod)) {
      const conditions = (pod.status?.conditions ?? []).filter((c) => c.type !== 'DisruptionTarget');
      conditions.push({
        type: 'DisruptionTarget',
        status: 'True',
        reason: 'DeletionByPodGC',
        message,
        lastTransitionTime: rfc3339(),
      });
      try {
        await rc.patch(
          pod.metadata.name,
          'merge',
          { status: { phase: 'Failed', conditions } },
          { subresource: 'status' },
        );
      } catch (err) {
        if (isNotFound(err)) return;
        // Marking is best effort; the deletion below is what matters.
      }
    }
    try {
      await rc.delete(pod.metadata.name, {
        gracePeriodSeconds: force ? 0 : undefined,
        preconditions: { uid: pod.metadata.uid },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
