// The garbage collector (upstream pkg/controller/garbagecollector): monitors every served resource
// that can be listed, watched and deleted (re-discovered periodically and whenever a
// CustomResourceDefinition changes), keeps the dependency graph of ownerReferences, and
//  - deletes dependents whose owners are all gone (background deletion; an owner counts only if
//    an object with its name *and uid* exists),
//  - finishes foreground deletion: an owner carrying the foregroundDeletion finalizer has its
//    dependents deleted; it keeps the finalizer while dependents with blockOwnerDeletion remain,
//  - orphans: an owner carrying the orphan finalizer has the references to it removed from its
//    dependents, then the finalizer.
import type { Logger } from 'pino';
import { Client, ResourceClient, spec } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { isConflict, isNotFound } from '../../client/errors.js';
import { EventRecorder } from '../../client/events.js';
import type { SharedIndexInformer, SharedInformerFactory } from '../../client/informer.js';
import type { DiscoveredResource, KubeObject, Stored } from '../../client/types.js';
import type { Controller, ControllerContext } from '../types.js';
import { isEstablished } from '../../api/apiextensions/v1/customresourcedefinition.js';
import {
  DependencyGraph,
  FINALIZER_DELETE_DEPENDENTS,
  FINALIZER_ORPHAN,
  identityString,
  type GraphNode,
  type ObjectIdentity,
  type ObjectMetadata,
  type OwnerReference,
} from './graph.js';

/** Resources the collector never watches (upstream DefaultIgnoredResources). */
const IGNORED = new Set(['/events', 'events.k8s.io/events']);

const RESYNC_PERIOD_MS = 30_000;

/** The item will be looked at again (with backoff) without it being an error. */
class Requeue extends Error {}

const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '');

interface Monitor {
  resource: DiscoveredResource;
  informer: SharedIndexInformer<ObjectMetadata>;
  /** Removes the graph's handler from the (shared) informer. */
  unsubscribe: () => void;
}

/** Monitors are the shared metadata-only informers (the quota controller counts with the same ones). */
const MONITOR = { metadataOnly: true } as const;

export class GarbageCollector implements Controller {
  readonly name = 'garbage-collector';
  readonly graph: DependencyGraph;
  private readonly client: Client;
  private readonly informers: SharedInformerFactory;
  private readonly log: Logger;
  private readonly recorder: EventRecorder;
  private readonly deleteRunner: ControllerRunner;
  private readonly orphanRunner: ControllerRunner;
  private readonly monitors = new Map<string, Monitor>();
  /** group|kind → resource (preferred version). */
  private kinds = new Map<string, DiscoveredResource>();
  private crdInformer?: SharedIndexInformer<KubeObject>;
  private resyncTimer?: NodeJS.Timeout;
  private pendingResync?: NodeJS.Timeout;
  private syncing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    ctx: ControllerContext,
    private readonly opts: { workers?: number; resyncPeriodMs?: number } = {},
  ) {
    this.client = ctx.client;
    this.informers = ctx.informers;
    this.log = ctx.logger.child({ controller: 'garbagecollector' });
    this.recorder = new EventRecorder(ctx.client, { component: 'garbage-collector-controller' }, this.log);
    this.graph = new DependencyGraph({
      attemptToDelete: (uid, rateLimited) =>
        rateLimited ? this.deleteRunner.queue.addRateLimited(uid) : this.deleteRunner.enqueue(uid),
      attemptToOrphan: (uid) => this.orphanRunner.enqueue(uid),
      invalidNamespaceOwnerRef: (dep, ref) => this.reportInvalidNamespaceOwnerRef(dep, ref),
    });
    this.deleteRunner = new ControllerRunner({
      name: 'garbagecollector-attempt-to-delete',
      workers: opts.workers ?? 10,
      reconcile: (uid) => this.attemptToDeleteWorker(uid),
      logger: this.log,
    });
    this.orphanRunner = new ControllerRunner({
      name: 'garbagecollector-attempt-to-orphan',
      workers: opts.workers ?? 10,
      reconcile: (uid) => this.attemptToOrphanWorker(uid),
      logger: this.log,
    });
    // CRDs come and go: look at discovery again when one changes. Its resource is served from
    // the moment it is Established, so look then at once: its objects may be created (and get
    // dependents) right away, and their deletion must not go unseen until a later resync.
    this.crdInformer = ctx.informers.forResource<KubeObject>({
      group: 'apiextensions.k8s.io',
      version: 'v1',
      plural: 'customresourcedefinitions',
      namespaced: false,
      kind: 'CustomResourceDefinition',
    });
    const kick = (crd?: KubeObject) => this.scheduleResync(crd && isEstablished(crd) ? 0 : undefined);
    this.crdInformer.addEventHandler({
      add: (crd, initial) => !initial && kick(crd),
      update: (_old, crd) => kick(crd),
      delete: () => kick(),
    });
  }

  start(): void {
    this.syncing = this.resyncMonitors().then(async () => {
      if (this.stopped) return;
      // Let the graph fill before acting on it (upstream waits for the monitors to sync).
      await Promise.all([...this.monitors.values()].map((m) => m.informer.waitForSync(30_000)));
      if (this.stopped) return;
      this.deleteRunner.start();
      this.orphanRunner.start();
      this.log.debug({ resources: this.monitors.size, nodes: this.graph.size }, 'garbage collector synced');
    });
    this.resyncTimer = setInterval(() => this.scheduleResync(0), this.opts.resyncPeriodMs ?? RESYNC_PERIOD_MS);
    this.resyncTimer.unref?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    if (this.pendingResync) clearTimeout(this.pendingResync);
    await this.syncing.catch(() => undefined);
    await Promise.all([this.deleteRunner.stop(), this.orphanRunner.stop()]);
    await Promise.all([...this.monitors.values()].map((m) => this.stopMonitor(m)));
    this.monitors.clear();
  }

  /** Resync soon, and again a little later (a new CRD is served once it is established). */
  private scheduleResync(delayMs = 300): void {
    if (this.stopped) return;
    const run = () => {
      this.syncing = this.syncing
        .then(() => this.resyncMonitors())
        .catch((err) => this.log.warn({ err }, 'garbage collector resync failed'));
    };
    if (delayMs === 0) return run();
    if (this.pendingResync) clearTimeout(this.pendingResync);
    this.pendingResync = setTimeout(() => {
      this.pendingResync = undefined;
      run();
      setTimeout(run, 2000).unref?.();
    }, delayMs);
    this.pendingResync.unref?.();
  }

  /** Start monitors for resources newly served, stop those for resources gone. */
  private async resyncMonitors(): Promise<void> {
    if (this.stopped) return;
    const resources = await this.client.discover();
    const kinds = new Map<string, DiscoveredResource>();
    const wanted = new Map<string, DiscoveredResource>();
    for (const r of resources) {
      kinds.set(`${r.group}|${r.kind}`, r);
      if (IGNORED.has(`${r.group}/${r.plural}`)) continue;
      if (!['list', 'watch', 'delete'].every((v) => r.verbs.includes(v))) continue;
      wanted.set(`${r.group}/${r.version}/${r.plural}`, r);
    }
    this.kinds = kinds;
    for (const [key, m] of this.monitors) {
      if (wanted.has(key)) continue;
      this.monitors.delete(key);
      void this.stopMonitor(m);
    }
    for (const [key, r] of wanted) {
      if (this.monitors.has(key) || this.stopped) continue;
      // Informers fill in apiVersion and kind on every object they deliver.
      const informer = this.informers.forResource(spec<ObjectMetadata>(r), MONITOR);
      const unsubscribe = informer.addEventHandler({
        add: (obj) => this.graph.process({ type: 'add', obj }),
        update: (oldObj, obj) => this.graph.process({ type: 'update', obj, oldObj }),
        delete: (obj) => this.graph.process({ type: 'delete', obj }),
      });
      this.monitors.set(key, { resource: r, informer, unsubscribe });
    }
  }

  private stopMonitor(m: Monitor): Promise<void> {
    m.unsubscribe();
    return this.informers.releaseIfUnused(m.resource, MONITOR);
  }

  /** The resource serving an apiVersion/kind (its group's preferred version). */
  private resourceFor(apiVersion: string, kind: string): DiscoveredResource {
    const r = this.kinds.get(`${groupOf(apiVersion)}|${kind}`);
    if (!r) throw new Error(`unable to get REST mapping for ${apiVersion}/${kind}`);
    return r;
  }

  private rc(id: ObjectIdentity): { rc: ResourceClient<KubeObject>; resource: DiscoveredResource } {
    const resource = this.resourceFor(id.apiVersion, id.kind);
    const rc = this.client.resource(spec<KubeObject>(resource));
    return { rc: resource.namespaced ? rc.namespace(id.namespace) : rc, resource };
  }

  private async getObject(id: ObjectIdentity): Promise<Stored<KubeObject> | undefined> {
    const { rc, resource } = this.rc(id);
    if (resource.namespaced && !id.namespace) return undefined;
    try {
      return await rc.get(id.name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  // ---- attemptToDelete ---------------------------------------------------------------------------

  private async attemptToDeleteWorker(uid: string): Promise<void> {
    const n = this.graph.node(uid);
    if (!n) return;
    await this.attemptToDeleteItem(n);
    // A virtual node not confirmed by an informer yet: look again (upstream issue 56121).
    const now = this.graph.node(uid);
    if (now && !now.observed && !this.stopped) throw new Requeue(`${identityString(now.identity)} not observed yet`);
  }

  async attemptToDeleteItem(item: GraphNode): Promise<void> {
    // Being deleted is a one-way trip: wait for the deletion, then look at the dependents.
    if (item.beingDeleted && !item.deletingDependents) return;
    const latest = await this.getObject(item.identity);
    if (!latest || latest.metadata.uid !== item.identity.uid) {
      // Nothing with this identity: remove it (a virtual owner that never existed, or gone).
      this.graph.process({ type: 'virtualDelete', identity: item.identity });
      return;
    }
    if (item.deletingDependents) return this.processDeletingDependentsItem(item);
    const refs: OwnerReference[] = latest.metadata.ownerReferences ?? [];
    if (!refs.length) return;

    const solid: OwnerReference[] = [];
    const dangling: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    for (const ref of refs) {
      const result = await this.isDangling(ref, item);
      if (result === 'invalid') return; // a cluster-scoped object naming a namespaced owner: not retried
      if (result === true) {
        dangling.push(ref);
        continue;
      }
      const owner = result;
      if (owner.metadata.deletionTimestamp && (owner.metadata.finalizers ?? []).includes(FINALIZER_DELETE_DEPENDENTS))
        waiting.push(ref);
      else solid.push(ref);
    }
    this.log.debug(
      { item: identityString(item.identity), solid: solid.length, dangling: dangling.length, waiting: waiting.length },
      'classified owner references',
    );

    if (solid.length) {
      if (!dangling.length && !waiting.length) return;
      // Keep the object, but drop references to owners gone or waiting on their dependents
      // (those would otherwise wait forever).
      const drop = new Set([...dangling, ...waiting].map((r) => r.uid));
      await this.patchOwnerReferences(item, (current) => current.filter((r) => !drop.has(r.uid)));
      return;
    }
    if (waiting.length && item.dependents.size) {
      for (const dep of item.dependents) {
        if (dep.deletingDependents) {
          // Break a possible cycle: make this object's references non-blocking first.
          await this.patchOwnerReferences(item, (current) =>
            current.map((r) => (r.blockOwnerDeletion ? { ...r, blockOwnerDeletion: false } : r)),
          );
          break;
        }
      }
      // Deleted in foreground: processDeletingDependentsItem finishes it when its dependents go.
      await this.deleteObject(item.identity, 'Foreground');
      return;
    }
    // No solid owner: collect it, keeping the propagation its own finalizers ask for.
    const finalizers: string[] = latest.metadata.finalizers ?? [];
    const policy = finalizers.includes(FINALIZER_ORPHAN)
      ? 'Orphan'
      : finalizers.includes(FINALIZER_DELETE_DEPENDENTS)
        ? 'Foreground'
        : 'Background';
    this.log.debug({ item: identityString(item.identity), policy }, 'deleting object without owners');
    await this.deleteObject(item.identity, policy);
  }

  /** true: the owner is absent (or another object with that name); else the owner's metadata. */
  private async isDangling(ref: OwnerReference, item: GraphNode): Promise<true | 'invalid' | Stored<KubeObject>> {
    const clusterKey: ObjectIdentity = {
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      name: ref.name,
      uid: ref.uid,
      namespace: '',
    };
    if (this.graph.absentOwnerCache.has(clusterKey)) return true;
    const nsKey = { ...clusterKey, namespace: item.identity.namespace };
    if (this.graph.absentOwnerCache.has(nsKey)) return true;
    const resource = this.resourceFor(ref.apiVersion, ref.kind);
    if (resource.namespaced && !item.identity.namespace) {
      this.log.debug(
        { item: identityString(item.identity), owner: ref.name },
        'cluster-scoped object refers to a namespaced owner',
      );
      return 'invalid';
    }
    const key = resource.namespaced ? nsKey : clusterKey;
    const owner = await this.getObject(key);
    if (!owner || owner.metadata.uid !== ref.uid) {
      this.graph.absentOwnerCache.add(key);
      return true;
    }
    return owner;
  }

  private async processDeletingDependentsItem(item: GraphNode): Promise<void> {
    const blocking = item.blockingDependents();
    if (!blocking.length) {
      this.log.debug({ item: identityString(item.identity) }, 'removing foregroundDeletion finalizer');
      await this.removeFinalizer(item, FINALIZER_DELETE_DEPENDENTS);
      return;
    }
    for (const dep of blocking) if (!dep.deletingDependents) this.deleteRunner.enqueue(dep.uid);
  }

  private async deleteObject(id: ObjectIdentity, policy: 'Background' | 'Foreground' | 'Orphan'): Promise<void> {
    const { rc } = this.rc(id);
    try {
      await rc.delete(id.name, { propagationPolicy: policy, preconditions: { uid: id.uid } });
    } catch (err) {
      // Gone already, or another object of that name now (the uid precondition failed).
      if (isNotFound(err) || isConflict(err)) return;
      throw err;
    }
  }

  /** Rewrite ownerReferences with optimistic concurrency (JSON merge patch with resourceVersion). */
  private async patchOwnerReferences(
    item: GraphNode,
    edit: (refs: OwnerReference[]) => OwnerReference[],
  ): Promise<void> {
    const { rc } = this.rc(item.identity);
    for (let attempt = 0; ; attempt++) {
      const latest = await this.getObject(item.identity);
      if (!latest || latest.metadata.uid !== item.identity.uid) return;
      const current: OwnerReference[] = latest.metadata.ownerReferences ?? [];
      const next = edit(current);
      if (JSON.stringify(next) === JSON.stringify(current)) return;
      try {
        await rc.patch(item.identity.name, 'merge', {
          metadata: { ownerReferences: next.length ? next : null, resourceVersion: latest.metadata.resourceVersion },
        });
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (isConflict(err) && attempt < 5) continue;
        throw err;
      }
    }
  }

  private async removeFinalizer(item: GraphNode, finalizer: string): Promise<void> {
    const { rc } = this.rc(item.identity);
    for (let attempt = 0; ; attempt++) {
      const latest = await this.getObject(item.identity);
      if (!latest || latest.metadata.uid !== item.identity.uid) return;
      const finalizers: string[] = latest.metadata.finalizers ?? [];
      if (!finalizers.includes(finalizer)) return;
      const next = finalizers.filter((f) => f !== finalizer);
      try {
        await rc.patch(item.identity.name, 'merge', {
          metadata: { finalizers: next.length ? next : null, resourceVersion: latest.metadata.resourceVersion },
        });
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (isConflict(err) && attempt < 5) continue;
        throw err;
      }
    }
  }

  // ---- attemptToOrphan ---------------------------------------------------------------------------

  private async attemptToOrphanWorker(uid: string): Promise<void> {
    const owner = this.graph.node(uid);
    if (!owner) return;
    const dependents = [...owner.dependents];
    const errors: unknown[] = [];
    await Promise.all(
      dependents.map((dep) =>
        this.patchOwnerReferences(dep, (refs) => refs.filter((r) => r.uid !== uid)).catch((err) => {
          if (!isNotFound(err)) errors.push(err);
        }),
      ),
    );
    if (errors.length)
      throw new Error(`orphaning dependents of ${identityString(owner.identity)}: ${errors.map(String).join('; ')}`);
    this.log.debug({ owner: identityString(owner.identity), dependents: dependents.length }, 'dependents orphaned');
    await this.removeFinalizer(owner, FINALIZER_ORPHAN);
  }

  private reportInvalidNamespaceOwnerRef(dep: GraphNode, ref: OwnerReference): void {
    const id = dep.identity;
    const obj = {
      apiVersion: id.apiVersion,
      kind: id.kind,
      metadata: { name: id.name, namespace: id.namespace || undefined, uid: id.uid },
    };
    const invalid = `[${ref.apiVersion}/${ref.kind}, namespace: ${id.namespace}, name: ${ref.name}, uid: ${ref.uid}]`;
    this.recorder.event(
      obj,
      'Warning',
      'OwnerRefInvalidNamespace',
      `ownerRef ${invalid} does not exist in namespace "${id.namespace}"`,
    );
  }
}

export { Requeue };
