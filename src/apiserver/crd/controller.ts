// The CustomResourceDefinition controller inside the API server: it watches the CRD watch cache
// and, for each CRD, accepts its names (NamesAccepted, as upstream's naming controller), serves
// the custom resource (Established), re-serves it when the CRD changes, and on deletion removes
// every custom object before releasing the customresourcecleanup finalizer (as upstream's
// finalizer controller). All CRDs established at start are served before start() resolves.
import type { ResourceDef } from '../../api/types.js';
import { CRD_CLEANUP_FINALIZER } from '../../api/apiextensions/v1/customresourcedefinition.js';
import * as errors from '../../machinery/errors.js';
import type { ServingApi } from '../serving.js';
import type { Store, WriteContext } from '../store.js';
import { buildResource } from './builder.js';
import { rfc3339 } from '../../machinery/time.js';

const GROUP = 'apiextensions.k8s.io';
const PLURAL = 'customresourcedefinitions';

interface ServedCRD {
  def: ResourceDef;
  spec: string;
  group: string;
  kind: string;
  versions: string[];
}

interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** Sets a condition, keeping lastTransitionTime when the status did not change. */
export function setCondition(conditions: Condition[], c: Condition): Condition[] {
  const out = conditions.filter((x) => x.type !== c.type);
  const old = conditions.find((x) => x.type === c.type);
  const next: Condition = {
    type: c.type,
    status: c.status,
    lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : rfc3339(),
    reason: c.reason,
    message: c.message,
  };
  const i = conditions.findIndex((x) => x.type === c.type);
  if (i < 0) out.push(next);
  else out.splice(i, 0, next);
  return out;
}

export const findCondition = (crd: any, type: string): Condition | undefined =>
  (crd?.status?.conditions ?? []).find((c: Condition) => c.type === type);

/** Upstream's naming controller: the names a CRD may have, and its NamesAccepted/Established conditions. */
export function calculateNames(
  crd: any,
  others: any[],
): { acceptedNames: any; namesAccepted: Condition; established: Condition } {
  const group = crd.spec.group;
  const resources = new Set<string>();
  const kinds = new Set<string>();
  for (const o of others) {
    if (o.spec?.group !== group || o.metadata?.name === crd.metadata.name) continue;
    const a = o.status?.acceptedNames ?? {};
    for (const n of [a.plural, a.singular, ...(a.shortNames ?? [])]) if (n) resources.add(n);
    for (const n of [a.kind, a.listKind]) if (n) kinds.add(n);
  }
  const requested = crd.spec.names ?? {};
  const accepted = crd.status?.acceptedNames ?? {};
  const next: any = { ...accepted };
  const cond: Condition = { type: 'NamesAccepted', status: 'Unknown' };
  const check = (req: string | undefined, acc: string | undefined, used: Set<string>): string | undefined => {
    if (!req || req === acc || !used.has(req)) return undefined;
    return `${JSON.stringify(req)} is already in use`;
  };
  const fail = (reason: string, message: string) => {
    cond.status = 'False';
    cond.reason = reason;
    cond.message = message;
  };
  let e: string | undefined;
  if ((e = check(requested.plural, accepted.plural, resources))) fail('PluralConflict', e);
  else next.plural = requested.plural;
  if ((e = check(requested.singular, accepted.singular, resources))) fail('SingularConflict', e);
  else next.singular = requested.singular;
  if ((e = check(requested.kind, accepted.kind, kinds))) fail('KindConflict', e);
  else next.kind = requested.kind;
  if ((e = check(requested.listKind, accepted.listKind, kinds))) fail('ListKindConflict', e);
  else next.listKind = requested.listKind;
  const ownShort = new Set<string>(accepted.shortNames ?? []);
  let shortConflict = false;
  for (const s of requested.shortNames ?? []) {
    if (ownShort.has(s)) continue;
    if ((e = check(s, '', resources))) {
      fail('ShortNamesConflict', e);
      shortConflict = true;
    }
  }
  if (!shortConflict) next.shortNames = requested.shortNames;
  next.categories = requested.categories;
  for (const k of Object.keys(next)) if (next[k] === undefined || next[k] === '') delete next[k];
  if (cond.status === 'Unknown') {
    cond.status = 'True';
    cond.reason = 'NoConflicts';
    cond.message = 'no conflicts found';
  }
  let established: Condition = findCondition(crd, 'Established') ?? {
    type: 'Established',
    status: 'False',
    reason: 'NotAccepted',
    message: 'not all names are accepted',
  };
  if (cond.status === 'True')
    established = {
      type: 'Established',
      status: 'True',
      reason: 'InitialNamesAccepted',
      message: 'the initial names have been accepted',
    };
  return { acceptedNames: next, namesAccepted: cond, established };
}

export class CRDController {
  private readonly served = new Map<string, ServedCRD>();
  private readonly pending = new Set<string>();
  private readonly deleting = new Set<string>();
  private draining?: Promise<void>;
  private unwatch?: () => void;
  private stopped = false;

  constructor(private readonly api: ServingApi) {}

  private crdStore(): Store | undefined {
    try {
      return this.api.store(GROUP, PLURAL);
    } catch {
      return undefined;
    }
  }

  private context(subresource?: string): WriteContext {
    return {
      dryRun: false,
      fieldManager: 'kube-apiserver',
      user: { name: 'system:apiserver', groups: ['system:masters'] },
      warnings: [],
      subresource,
    };
  }

  /** Serve every CRD already stored, then follow changes. */
  async start(): Promise<void> {
    const store = this.crdStore();
    if (!store) return;
    const cache = store.cache;
    this.unwatch = cache.watch(cache.revision, {
      onEvent: (ev) => {
        const name = ev.cur?.obj?.metadata?.name;
        if (name) setImmediate(() => this.enqueue(name));
      },
    });
    for (const s of cache.list()) this.enqueue(s.obj.metadata.name);
    while (this.draining) await this.draining;
  }

  stop(): void {
    this.stopped = true;
    this.unwatch?.();
  }

  /** Whether the CRD's resource is served now (for tests). */
  isServed(name: string): boolean {
    return this.served.has(name);
  }

  private enqueue(name: string): void {
    if (this.stopped) return;
    this.pending.add(name);
    if (!this.draining) this.draining = this.drain().finally(() => (this.draining = undefined));
  }

  private async drain(): Promise<void> {
    while (this.pending.size && !this.stopped) {
      const name = this.pending.values().next().value as string;
      this.pending.delete(name);
      try {
        await this.reconcile(name);
      } catch (err) {
        this.api.log.error({ err, crd: name }, 'reconciling CustomResourceDefinition failed; retrying');
        setTimeout(() => this.enqueue(name), 1000).unref();
      }
    }
  }

  private async reconcile(name: string): Promise<void> {
    const store = this.crdStore();
    if (!store) return;
    const cur = store.tryGet(undefined, name);
    if (!cur) {
      await this.unserve(name);
      // Its names are free now: CRDs that wanted them may be accepted.
      for (const o of store.cache.list())
        if (findCondition(o.obj, 'NamesAccepted')?.status === 'False') this.enqueue(o.obj.metadata.name);
      return;
    }
    const crd = cur.obj;
    if (crd.metadata.deletionTimestamp) {
      if (findCondition(crd, 'Established')?.status === 'True') await this.serve(crd);
      this.cleanup(name);
      return;
    }
    const others = store.cache.list().map((s) => s.obj);
    const { acceptedNames, namesAccepted, established } = calculateNames(crd, others);
    if (namesAccepted.status === 'True') await this.serve(crd);
    await this.updateStatus(store, name, (status) => {
      let conds: Condition[] = status.conditions ?? [];
      conds = setCondition(conds, namesAccepted);
      conds = setCondition(conds, established);
      status.conditions = conds;
      status.acceptedNames = acceptedNames;
    });
    // A CRD whose names were freed may now be acceptable: look at the others of the group again.
    if (namesAccepted.status === 'True') {
      for (const o of others) {
        if (
          o.spec?.group === crd.spec.group &&
          o.metadata.name !== name &&
          findCondition(o, 'NamesAccepted')?.status === 'False'
        )
          this.enqueue(o.metadata.name);
      }
    }
  }

  private async updateStatus(store: Store, name: string, mutate: (status: any) => void): Promise<void> {
    try {
      await store.update(
        undefined,
        name,
        (cur) => {
          const next = structuredClone(cur.obj);
          next.status ??= {};
          mutate(next.status);
          return next;
        },
        this.context('status'),
      );
    } catch (err) {
      if (err instanceof errors.ApiError && err.code === 404) return;
      throw err;
    }
  }

  private async serve(crd: any): Promise<void> {
    const name = crd.metadata.name;
    const spec = JSON.stringify(crd.spec);
    const existing = this.served.get(name);
    if (existing && existing.spec === spec) return;
    const built = buildResource(crd, {
      stores: (g, p) => this.api.tryStore(g, p),
      terminating: () =>
        this.deleting.has(name) || !!this.crdStore()?.tryGet(undefined, name)?.obj.metadata.deletionTimestamp,
    });
    const { group } = built.def;
    const kind = built.def.kind;
    const versions = built.schemas.map((s) => s.version);
    if (existing) {
      for (const v of existing.versions)
        if (!versions.includes(v) || existing.kind !== kind)
          this.api.unregisterSchema(existing.group, v, existing.kind);
    }
    for (const s of built.schemas)
      this.api.registerSchema(group, s.version, kind, s.schema.definition, s.schema.definitions);
    if (existing) this.api.replaceResource(existing.def, built.def);
    else await this.api.addResource(built.def);
    this.served.set(name, { def: built.def, spec, group, kind, versions });
    this.api.log.info({ crd: name }, existing ? 'custom resource updated' : 'custom resource served');
  }

  private async unserve(name: string): Promise<void> {
    const s = this.served.get(name);
    if (!s) return;
    this.served.delete(name);
    for (const v of s.versions) this.api.unregisterSchema(s.group, v, s.kind);
    await this.api.removeResource(s.def);
    this.api.log.info({ crd: name }, 'custom resource no longer served');
  }

  /** Deletes every custom object of a CRD being deleted, then releases its finalizer. */
  private cleanup(name: string): void {
    if (this.deleting.has(name)) return;
    this.deleting.add(name);
    void this.runCleanup(name)
      .catch((err) => {
        this.api.log.error({ err, crd: name }, 'deleting custom objects failed; retrying');
        setTimeout(() => this.enqueue(name), 1000).unref();
      })
      .finally(() => this.deleting.delete(name));
  }

  private async runCleanup(name: string): Promise<void> {
    const crdStore = this.crdStore();
    if (!crdStore) return;
    const crd = crdStore.tryGet(undefined, name)?.obj;
    if (!crd) return this.unserve(name);
    if (!(crd.metadata.finalizers ?? []).includes(CRD_CLEANUP_FINALIZER)) return;
    await this.updateStatus(crdStore, name, (status) => {
      status.conditions = setCondition(status.conditions ?? [], {
        type: 'Terminating',
        status: 'True',
        reason: 'InstanceDeletionInProgress',
        message: 'CustomResource deletion is in progress',
      });
    });
    const served = this.served.get(name);
    if (served) {
      const store = this.api.storeFor(served.def);
      let lastRound = 0;
      for (;;) {
        if (this.stopped) return;
        const items = store.cache.list();
        if (!items.length) break;
        if (Date.now() - lastRound > 5000) {
          lastRound = Date.now();
          for (const item of items) {
            if (item.obj.metadata.deletionTimestamp) continue;
            try {
              await store.delete(item.obj.metadata.namespace, item.obj.metadata.name, {}, this.context());
            } catch (err) {
              if (!(err instanceof errors.ApiError && err.code === 404)) throw err;
            }
          }
          continue;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await this.updateStatus(crdStore, name, (status) => {
      status.conditions = setCondition(status.conditions ?? [], {
        type: 'Terminating',
        status: 'False',
        reason: 'InstanceDeletionCompleted',
        message: 'removed all instances',
      });
    });
    await this.unserve(name);
    try {
      await crdStore.update(
        undefined,
        name,
        (cur) => {
          const next = structuredClone(cur.obj);
          next.metadata.finalizers = (next.metadata.finalizers ?? []).filter(
            (f: string) => f !== CRD_CLEANUP_FINALIZER,
          );
          if (!next.metadata.finalizers.length) delete next.metadata.finalizers;
          return next;
        },
        this.context(),
      );
    } catch (err) {
      if (!(err instanceof errors.ApiError && err.code === 404)) throw err;
    }
  }
}
