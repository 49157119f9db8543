// The namespace lifecycle controller (upstream pkg/controller/namespace): a namespace marked for
// deletion becomes Terminating, everything in it (every namespaced resource served, custom
// resources included) is deleted, and once nothing is left its `kubernetes` finalizer is removed
// through namespaces/finalize, so the API server deletes it. While it works the namespace
// carries upstream's deletion conditions.
import type { Namespace, NamespaceCondition } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, spec, type Client, type ResourceClient } from '../../client/client.js';
import { ControllerRunner, type ReconcileResult } from '../../client/controller.js';
import { ApiError, isConflict, isMethodNotSupported, isNotFound } from '../../client/errors.js';
import type { SharedIndexInformer } from '../../client/informer.js';
import type { DiscoveredResource, KubeObject, Stored } from '../../client/types.js';
import { BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter } from '../../client/workqueue.js';
import type { Controller, ControllerContext } from '../types.js';
import { rfc3339 } from '../../machinery/time.js';

export const FINALIZER_KUBERNETES = 'kubernetes';

/** Upstream's namespaceDeletionGracePeriod: how long after a deletion the controller first looks. */
export const NAMESPACE_DELETION_GRACE_PERIOD_MS = 5_000;

type ConditionType =
  | 'NamespaceDeletionDiscoveryFailure'
  | 'NamespaceDeletionGroupVersionParsingFailure'
  | 'NamespaceDeletionContentFailure'
  | 'NamespaceContentRemaining'
  | 'NamespaceFinalizersRemaining';

const CONDITION_TYPES: ConditionType[] = [
  'NamespaceDeletionDiscoveryFailure',
  'NamespaceDeletionGroupVersionParsingFailure',
  'NamespaceDeletionContentFailure',
  'NamespaceContentRemaining',
  'NamespaceFinalizersRemaining',
];

const OK: Record<ConditionType, { reason: string; message: string }> = {
  NamespaceDeletionDiscoveryFailure: {
    reason: 'ResourcesDiscovered',
    message: 'All resources successfully discovered',
  },
  NamespaceDeletionGroupVersionParsingFailure: {
    reason: 'ParsedGroupVersions',
    message: 'All legacy kube types successfully parsed',
  },
  NamespaceDeletionContentFailure: {
    reason: 'ContentDeleted',
    message: 'All content successfully deleted, may be waiting on finalization',
  },
  NamespaceContentRemaining: { reason: 'ContentRemoved', message: 'All content successfully removed' },
  NamespaceFinalizersRemaining: {
    reason: 'ContentHasNoFinalizers',
    message: 'All content-preserving finalizers finished',
  },
};

interface Condition {
  type: ConditionType;
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastTransitionTime?: string;
}

/** The outcome of one pass over a namespace's content. */
export interface ContentResult {
  conditions: Condition[];
  /** Objects still there (deleted but finalizing, or not deletable yet). */
  remaining: number;
  /** Seconds until pods are expected to be gone (their grace periods). */
  estimateSeconds: number;
  /** Errors that should be retried with backoff. */
  errors: string[];
}

export class NamespaceController implements Controller {
  readonly name = 'namespace';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly informer: SharedIndexInformer<Namespace>;
  private readonly runner: ControllerRunner;

  private readonly deletionGracePeriodMs: number;

  constructor(ctx: ControllerContext, opts: { workers?: number; deletionGracePeriodMs?: number } = {}) {
    this.client = ctx.client;
    this.deletionGracePeriodMs = opts.deletionGracePeriodMs ?? NAMESPACE_DELETION_GRACE_PERIOD_MS;
    this.log = ctx.logger.child({ controller: 'namespace' });
    this.informer = ctx.informers.forResource(R.namespaces);
    // Upstream's namespace rate limiter: 5 ms → 60 s per item, 10 qps / 100 burst overall.
    this.runner = new ControllerRunner({
      name: 'namespace',
      workers: opts.workers ?? 5,
      reconcile: (key) => this.sync(key),
      rateLimiter: new MaxOfRateLimiter(
        new ItemExponentialFailureRateLimiter<string>(5, 60_000),
        new BucketRateLimiter<string>(10, 100),
      ),
      logger: this.log,
    });
    // Upstream delays each look by namespaceDeletionGracePeriod (5 s) so every API server sees
    // the deletion and creations racing it land first. Clients rely on it too: `kubectl delete
    // -f` of a namespace and its objects still finds the objects after deleting the namespace.
    const enqueue = (ns: Stored<Namespace>) => {
      if (ns.metadata.deletionTimestamp) this.runner.queue.addAfter(ns.metadata.name, this.deletionGracePeriodMs);
    };
    this.informer.addEventHandler({ add: enqueue, update: (_old, ns) => enqueue(ns) });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  /** Reconcile one namespace by name. */
  async sync(name: string): Promise<ReconcileResult | void> {
    const namespaces = this.client.resource(R.namespaces);
    let ns: Stored<Namespace>;
    try {
      ns = await namespaces.get(name);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (!ns.metadata.deletionTimestamp) return;
    if (ns.status?.phase !== 'Terminating') {
      ns = await namespaces.patch(name, 'merge', { status: { phase: 'Terminating' } }, { subresource: 'status' });
    }
    if (!(ns.spec?.finalizers ?? []).includes(FINALIZER_KUBERNETES)) return;

    const result = await this.deleteAllContent(name);
    await this.updateConditions(ns, result.conditions);
    if (result.errors.length) throw new Error(`namespace ${name}: ${result.errors.join('; ')}`);
    if (result.remaining > 0) {
      this.log.debug({ namespace: name, remaining: result.remaining }, 'content remaining; waiting');
      return { requeueAfterMs: (Math.floor(result.estimateSeconds / 2) + 1) * 1000 };
    }
    await this.finalize(name);
    this.log.info({ namespace: name }, 'namespace content removed; finalized');
  }

  /** Delete everything in the namespace, then count what is left. */
  async deleteAllContent(namespace: string): Promise<ContentResult> {
    const conditions = new Map<ConditionType, Condition>();
    for (const t of CONDITION_TYPES) conditions.set(t, { type: t, status: 'False', ...OK[t] });
    const errors: string[] = [];
    let resources: DiscoveredResource[] = [];
    try {
      resources = await this.client.discover();
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      conditions.set('NamespaceDeletionDiscoveryFailure', {
        type: 'NamespaceDeletionDiscoveryFailure',
        status: 'True',
        reason: 'DiscoveryFailed',
        message: `Discovery failed for some groups, 1 failing: ${msg}`,
      });
      errors.push(msg);
    }
    const deletable = resources.filter((r) => r.namespaced && r.verbs.includes('delete') && r.verbs.includes('list'));
    let estimate = 0;
    const deleteFailures: string[] = [];
    const remainingByResource = new Map<string, number>();
    const finalizerCounts = new Map<string, number>();
    await Promise.all(
      deletable.map(async (r) => {
        const rc = this.client.resource(spec<KubeObject>(r)).namespace(namespace);
        try {
          if (r.group === '' && r.plural === 'pods') estimate = Math.max(estimate, await this.estimatePods(namespace));
          await this.deleteCollection(rc, r);
          const left = await rc.list();
          const live = left.items;
          if (live.length) remainingByResource.set(`${r.plural}.${r.group}`, live.length);
          for (const obj of live) {
            for (const f of obj.metadata?.finalizers ?? []) finalizerCounts.set(f, (finalizerCounts.get(f) ?? 0) + 1);
          }
        } catch (err) {
          if (isNotFound(err) || isMethodNotSupported(err)) return;
          deleteFailures.push(`${r.plural}.${r.group}: ${(err as Error).message}`);
        }
      }),
    );
    if (deleteFailures.length) {
      deleteFailures.sort();
      conditions.set('NamespaceDeletionContentFailure', {
        type: 'NamespaceDeletionContentFailure',
        status: 'True',
        reason: 'ContentDeletionFailed',
        message: `Failed to delete all resource types, ${deleteFailures.length} remaining: ${deleteFailures.join(', ')}`,
      });
      errors.push(...deleteFailures);
    }
    let remaining = 0;
    if (remainingByResource.size) {
      const parts = [...remainingByResource]
        .map(([gr, n]) => ((remaining += n), `${gr} has ${n} resource instances`))
        .sort();
      conditions.set('NamespaceContentRemaining', {
        type: 'NamespaceContentRemaining',
        status: 'True',
        reason: 'SomeResourcesRemain',
        message: `Some resources are remaining: ${parts.join(', ')}`,
      });
    }
    if (finalizerCounts.size) {
      const parts = [...finalizerCounts].map(([f, n]) => `${f} in ${n} resource instances`).sort();
      conditions.set('NamespaceFinalizersRemaining', {
        type: 'NamespaceFinalizersRemaining',
        status: 'True',
        reason: 'SomeFinalizersRemain',
        message: `Some content in the namespace has finalizers remaining: ${parts.join(', ')}`,
      });
    }
    return { conditions: CONDITION_TYPES.map((t) => conditions.get(t)!), remaining, estimateSeconds: estimate, errors };
  }

  private async deleteCollection(rc: ResourceClient<KubeObject>, r: DiscoveredResource): Promise<void> {
    if (r.verbs.includes('deletecollection')) {
      try {
        await rc.deleteCollection({ propagationPolicy: 'Background' });
        return;
      } catch (err) {
        if (!isMethodNotSupported(err)) throw err;
      }
    }
    const list = await rc.list();
    for (const obj of list.items) {
      if (obj.metadata?.deletionTimestamp) continue;
      try {
        await rc.delete(obj.metadata.name, { propagationPolicy: 'Background' });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  /** Upstream's estimateGracefulTermination: the longest grace period of pods still running. */
  private async estimatePods(namespace: string): Promise<number> {
    const pods = await this.client.resource(R.pods).namespace(namespace).list();
    let estimate = 0;
    for (const p of pods.items) {
      const phase = p.status?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') continue;
      const grace = p.metadata?.deletionGracePeriodSeconds ?? p.spec?.terminationGracePeriodSeconds ?? 30;
      estimate = Math.max(estimate, grace);
    }
    return estimate;
  }

  /** Write the deletion conditions (lastTransitionTime moves only when a condition changes). */
  private async updateConditions(ns: Stored<Namespace>, next: Condition[]): Promise<Stored<Namespace>> {
    const current: NamespaceCondition[] = ns.status?.conditions ?? [];
    let changed = current.length !== next.length;
    const merged = next.map((c) => {
      const old = current.find((x) => x.type === c.type);
      if (old && old.status === c.status && old.reason === c.reason && old.message === c.message) return old;
      changed = true;
      return { type: c.type, status: c.status, lastTransitionTime: rfc3339(), reason: c.reason, message: c.message };
    });
    if (!changed) return ns;
    try {
      return await this.client
        .resource(R.namespaces)
        .patch(ns.metadata.name, 'merge', { status: { conditions: merged } }, { subresource: 'status' });
    } catch (err) {
      if (isNotFound(err)) return ns;
      throw err;
    }
  }

  /** Remove the `kubernetes` finalizer through namespaces/finalize. */
  private async finalize(name: string): Promise<void> {
    const namespaces = this.client.resource(R.namespaces);
    for (let attempt = 0; ; attempt++) {
      let ns: Stored<Namespace>;
      try {
        ns = await namespaces.get(name);
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      const finalizers: string[] = (ns.spec?.finalizers ?? []).filter((f) => f !== FINALIZER_KUBERNETES);
      if (finalizers.length === (ns.spec?.finalizers ?? []).length) return;
      try {
        await namespaces.updateSubresource('finalize', {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name, resourceVersion: ns.metadata.resourceVersion },
          spec: { finalizers },
        });
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (isConflict(err) && attempt < 5) continue;
        throw err instanceof ApiError ? err : new Error(String(err));
      }
    }
  }
}
