// ResourceQuota admission (upstream plugin/pkg/admission/resourcequota): a create (or an update
// that costs more) is charged against every quota of its namespace that tracks it. Quotas are
// checked against status.hard and status.used (the resourcequota controller keeps those), and
// charged optimistically: the new status.used is written with the quota's resourceVersion as a
// precondition before the object is stored, so concurrent requests can't both take the last
// unit — the loser re-reads the quota and is checked again.
import * as errors from '../../machinery/errors.js';
import { evaluatorFor, type Evaluator } from '../../quota/evaluators.js';
import {
  type ResourceList,
  add,
  fromObject,
  isZero,
  lessThanOrEqual,
  mask,
  prettyPrint,
  toObject,
} from '../../quota/resources.js';
import type { Store, WriteContext } from '../store.js';
import { type AdmissionAttributes, type ValidatingPlugin, forbiddenFor } from './interfaces.js';

const MAX_ATTEMPTS = 10;

export class ResourceQuotaAdmission implements ValidatingPlugin {
  readonly name = 'ResourceQuota';

  /** `quotas()` gives the resourcequotas store (looked up per request: it exists once the server started). */
  constructor(private readonly quotas: () => Store | undefined) {}

  handles(a: AdmissionAttributes): boolean {
    if (a.subresource || !a.namespace) return false;
    if (a.operation !== 'CREATE' && a.operation !== 'UPDATE') return false;
    return evaluatorFor(a.group, a.resource).handles(a.operation);
  }

  validate(a: AdmissionAttributes): void | Promise<void> {
    const store = this.quotas();
    // Most namespaces have no quota: nothing to charge, so no usage to work out either.
    if (!store || !store.cache.list(store.keyPrefix(a.namespace)).length) return;
    return this.charge(a, store);
  }

  private async charge(a: AdmissionAttributes, store: Store): Promise<void> {
    const evaluator = evaluatorFor(a.group, a.resource);
    let delta = evaluator.usage(a.object);
    if (a.operation === 'UPDATE' && a.oldObject) {
      const prev = evaluator.usage(a.oldObject);
      const d: ResourceList = new Map();
      for (const [k, v] of delta) {
        const p = prev.get(k);
        const diff = p ? v.sub(p) : v;
        if (diff.sign() > 0) d.set(k, diff);
      }
      delta = d;
      if (isZero(delta)) return;
    }
    const charged = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      const quotas = store.cache
        .list(store.keyPrefix(a.namespace))
        .map((s) => s.obj)
        .filter((q) => !charged.has(q.metadata.name));
      const updates = this.check(a, evaluator, delta, quotas);
      if (a.dryRun || !updates.length) return;
      let conflicted = false;
      for (const q of updates) {
        try {
          await store.update(a.namespace, q.metadata.name, () => q, quotaWriteContext());
          charged.add(q.metadata.name);
        } catch (err) {
          if (err instanceof errors.ApiError && (err.code === 409 || err.code === 404)) {
            conflicted = true;
            continue;
          }
          throw err;
        }
      }
      if (!conflicted) return;
      if (attempt + 1 >= MAX_ATTEMPTS) {
        throw errors.internalError(`resource quota evaluation timed out`);
      }
    }
  }

  /** Upstream checkRequest: refuse, or return the quotas with their new status.used. */
  check(a: AdmissionAttributes, evaluator: Evaluator, delta: ResourceList, quotas: any[]): any[] {
    const interesting: any[] = [];
    for (const q of quotas) {
      const hardNames = Object.keys(q.status?.hard ?? {});
      const restricted = evaluator.matchingResources(hardNames);
      if (!restricted.length || !evaluator.matchesScopes(q, a.object)) continue;
      const why = evaluator.constraints(restricted, a.object);
      if (why) throw forbiddenFor(a, `failed quota: ${q.metadata.name}: ${why}`);
      const used = q.status?.used ?? {};
      const unknown = restricted.filter((r) => !Object.hasOwn(used, r));
      if (unknown.length)
        throw forbiddenFor(
          a,
          `status unknown for quota: ${q.metadata.name}, resources: ${[...restricted].sort().join(',')}`,
        );
      interesting.push(q);
    }
    const out: any[] = [];
    for (const q of interesting) {
      const hard = fromObject(q.status.hard);
      const used = fromObject(q.status.used);
      const requested = mask(delta, hard.keys());
      if (!requested.size) continue;
      const next = add(used, requested);
      const { ok, exceeded } = lessThanOrEqual(mask(next, requested.keys()), hard);
      if (!ok) {
        throw forbiddenFor(
          a,
          `exceeded quota: ${q.metadata.name}, requested: ${prettyPrint(mask(requested, exceeded))}, used: ${prettyPrint(mask(used, exceeded))}, limited: ${prettyPrint(mask(hard, exceeded))}`,
        );
      }
      const updated = structuredClone(q);
      updated.status.used = toObject(next);
      out.push(updated);
    }
    return out;
  }
}

function quotaWriteContext(): WriteContext {
  return {
    dryRun: false,
    fieldManager: 'kube-apiserver',
    user: { name: 'system:apiserver', groups: ['system:masters'] },
    warnings: [],
    subresource: 'status',
  };
}
