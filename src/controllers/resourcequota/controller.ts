// The resourcequota controller (upstream pkg/controller/resourcequota): keeps every quota's
// status.hard equal to spec.hard and status.used equal to what the objects in its namespace
// cost. Admission charges creates optimistically; this controller recounts a quota when it is
// created or its spec changes, when tracked objects go away or release resources (a pod
// reaching a terminal phase, a service changing type: upstream's "replenishment"), and on a
// full resync period (upstream --resource-quota-sync-period, 5 minutes).
import type { ResourceQuota } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, spec, type Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { isConflict, isNotFound } from '../../client/errors.js';
import { keyOf, splitKey, type SharedIndexInformer } from '../../client/informer.js';
import type { DiscoveredResource, KubeObject, ResourceSpec, Stored } from '../../client/types.js';
import { evaluatorFor, resourcesForQuota } from '../../quota/evaluators.js';
import { type ResourceList, add, equals, fromObject, mask, toObject } from '../../quota/resources.js';
import { Quantity } from '../../machinery/quantity.js';
import type { Controller, ControllerContext } from '../types.js';

const QUOTAS = R.resourcequotas;

/** Resources watched for replenishment (their informers also serve the counts). */
const WATCHED: ResourceSpec<KubeObject>[] = [
  R.pods,
  R.services,
  R.persistentvolumeclaims,
  R.configmaps,
  R.secrets,
  R.replicationcontrollers,
];

/** Watched resources whose usage is their count alone (objectCountEvaluator, scopes ignored). */
const COUNT_ONLY = new Set(['configmaps', 'secrets']);

export interface ResourceQuotaControllerOptions {
  workers?: number;
  /** Full recount of every quota this often (ms; default 5 minutes as upstream). */
  resyncPeriodMs?: number;
}

export class ResourceQuotaController implements Controller {
  readonly name = 'resourcequota';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly quotas: SharedIndexInformer<ResourceQuota>;
  private readonly watched = new Map<string, SharedIndexInformer<KubeObject>>();
  private readonly runner: ControllerRunner;
  private readonly resyncPeriodMs: number;
  private resyncTimer?: NodeJS.Timeout;
  private discovered?: { at: number; resources: DiscoveredResource[] };

  constructor(ctx: ControllerContext, opts: ResourceQuotaControllerOptions = {}) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'resourcequota' });
    this.resyncPeriodMs = opts.resyncPeriodMs ?? Number(process.env.K8TS_QUOTA_SYNC_PERIOD_MS ?? 5 * 60_000);
    this.runner = new ControllerRunner({
      name: 'resourcequota',
      workers: opts.workers ?? 5,
      reconcile: (key) => this.sync(key),
      logger: this.log,
    });
    this.quotas = ctx.informers.forResource(QUOTAS);
    this.quotas.addEventHandler({
      add: (q) => this.runner.enqueue(keyOf(q)),
      update: (old, q) => {
        const hardChanged = !equals(fromObject(q.spec?.hard), fromObject(q.status?.hard));
        const specChanged = JSON.stringify(old.spec) !== JSON.stringify(q.spec);
        if (hardChanged || specChanged) this.runner.enqueue(keyOf(q));
      },
    });
    for (const spec of WATCHED) {
      // Object-count resources (configmaps, secrets) cost one each: their metadata is enough,
      // and the controller does not keep (or copy on every write) objects nobody reads.
      const inf = ctx.informers.forResource(spec, { metadataOnly: COUNT_ONLY.has(spec.plural) });
      this.watched.set(spec.plural, inf);
      const evaluator = evaluatorFor('', spec.plural);
      inf.addEventHandler({
        delete: (obj) => this.replenish(spec.plural, obj.metadata?.namespace),
        update: (old, obj) => {
          // A release of resources (pod terminal, service type change): recount.
          const before = evaluator.usage(old);
          const after = evaluator.usage(obj);
          if (!equals(before, after)) this.replenish(spec.plural, obj.metadata?.namespace);
        },
      });
    }
  }

  start(): void {
    this.runner.start();
    if (this.resyncPeriodMs > 0) {
      this.resyncTimer = setInterval(() => {
        for (const q of this.quotas.store.list()) this.runner.enqueue(keyOf(q));
      }, this.resyncPeriodMs);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.runner.stop();
  }

  /** Recount the namespace's quotas that track `plural`. */
  private replenish(plural: string, namespace: string | undefined): void {
    if (!namespace) return;
    for (const q of this.quotas.store.listByNamespace(namespace)) {
      const names = Object.keys(q.spec?.hard ?? {});
      if (resourcesForQuota(names).some((r) => r.group === '' && r.resource === plural)) this.runner.enqueue(keyOf(q));
    }
  }

  private async specFor(group: string, plural: string): Promise<ResourceSpec | undefined> {
    if (!this.discovered || Date.now() - this.discovered.at > 30_000) {
      this.discovered = { at: Date.now(), resources: await this.client.discover() };
    }
    return this.discovered.resources.find((r) => r.group === group && r.plural === plural);
  }

  /** The objects of one resource in a namespace. */
  private async objects(group: string, plural: string, namespace: string): Promise<Stored<KubeObject>[]> {
    const inf = group === '' ? this.watched.get(plural) : undefined;
    if (inf) return inf.store.listByNamespace(namespace);
    const found = await this.specFor(group, plural);
    if (!found || !found.namespaced) return [];
    return (await this.client.resource(spec<KubeObject>(found)).namespace(namespace).listAll()).items;
  }

  /** What the objects of the quota's namespace cost, for the resources it limits (upstream CalculateUsage). */
  async calculateUsage(quota: Stored<ResourceQuota>): Promise<ResourceList> {
    const hardNames = Object.keys(quota.spec?.hard ?? {});
    const namespace = quota.metadata.namespace ?? '';
    let used: ResourceList = new Map();
    const now = Date.now();
    for (const { group, resource } of resourcesForQuota(hardNames)) {
      const evaluator = evaluatorFor(group, resource);
      const matched = evaluator.matchingResources(hardNames);
      if (!matched.length) continue;
      let sum: ResourceList = new Map(matched.map((n) => [n, Quantity.zero()]));
      for (const obj of await this.objects(group, resource, namespace)) {
        if (!evaluator.matchesScopes(quota, obj)) continue;
        sum = add(sum, mask(evaluator.usage(obj, now), matched));
      }
      for (const [k, v] of sum) used.set(k, v);
    }
    used = mask(used, hardNames);
    return used;
  }

  async sync(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const cached = this.quotas.store.get(key);
    if (!cached) return;
    const used = await this.calculateUsage(cached);
    const hard = fromObject(cached.spec?.hard);
    const sameHard = equals(hard, fromObject(cached.status?.hard));
    const sameUsed =
      equals(used, fromObject(cached.status?.used)) && Object.keys(cached.status?.used ?? {}).length === used.size;
    if (sameHard && sameUsed && cached.status?.hard) return;
    const next = structuredClone(cached);
    next.status = { hard: toObject(hard), used: toObject(used) };
    try {
      await this.client.resource(QUOTAS).namespace(namespace).updateStatus(next);
    } catch (err) {
      if (isNotFound(err)) return;
      if (isConflict(err)) this.log.debug({ quota: key }, 'quota changed meanwhile; retrying');
      throw err;
    }
    this.log.debug({ quota: `${namespace}/${name}` }, 'quota status updated');
  }
}
