// Default RBAC objects created at server start and brought up to date at every start, as
// upstream's rbac/rest PostStartHook: missing rules, labels, annotations and subjects are added,
// nothing is taken away, and objects annotated autoupdate "false" are left as they are.
import type { ClusterRole, ClusterRoleBinding, PolicyRule as RbacPolicyRule } from 'kubernetes-types/rbac/v1.js';
import { systemWriteContext } from '../bootstrap.js';
import type { Store } from '../store.js';
import type { ApiServer } from '../server.js';
import {
  AUTOUPDATE_ANNOTATION,
  BOOTSTRAPPING_LABEL,
  BOOTSTRAPPING_VALUE,
  type BootstrapClusterRole,
  type BootstrapClusterRoleBinding,
  bootstrapClusterRoleBindings,
  bootstrapClusterRoles,
} from './bootstrappolicy.js';

const RBAC_API = 'rbac.authorization.k8s.io/v1';
const canonical = (r: RbacPolicyRule) =>
  JSON.stringify([r.verbs, r.apiGroups ?? [], r.resources ?? [], r.resourceNames ?? [], r.nonResourceURLs ?? []]);

function desiredRole(d: BootstrapClusterRole): ClusterRole {
  return {
    apiVersion: RBAC_API,
    kind: 'ClusterRole',
    metadata: {
      name: d.name,
      annotations: { [AUTOUPDATE_ANNOTATION]: 'true' },
      labels: { [BOOTSTRAPPING_LABEL]: BOOTSTRAPPING_VALUE, ...d.labels },
    },
    rules: d.rules,
    ...(d.aggregateFrom
      ? { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [d.aggregateFrom]: 'true' } }] } }
      : {}),
  };
}

function desiredBinding(d: BootstrapClusterRoleBinding): ClusterRoleBinding {
  return {
    apiVersion: RBAC_API,
    kind: 'ClusterRoleBinding',
    metadata: {
      name: d.name,
      annotations: { [AUTOUPDATE_ANNOTATION]: 'true' },
      labels: { [BOOTSTRAPPING_LABEL]: BOOTSTRAPPING_VALUE },
    },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: d.role },
    subjects: d.subjects.map((s) =>
      s.kind === 'ServiceAccount' ? { ...s } : { apiGroup: 'rbac.authorization.k8s.io', ...s },
    ),
  };
}

/** `current` with what `desired` adds (labels, annotations, and `extra`), or undefined when nothing changes. */
function merged<T extends ClusterRole | ClusterRoleBinding>(
  current: T,
  desired: T,
  extra: (next: T) => boolean,
): T | undefined {
  if (current.metadata?.annotations?.[AUTOUPDATE_ANNOTATION] === 'false') return undefined;
  const next = structuredClone(current);
  let changed = false;
  for (const field of ['labels', 'annotations'] as const) {
    const want = desired.metadata![field] ?? {};
    const have = (next.metadata![field] ??= {});
    for (const [k, v] of Object.entries(want))
      if (have[k] !== v) {
        have[k] = v;
        changed = true;
      }
  }
  return extra(next) || changed ? next : undefined;
}

async function reconcile<T extends ClusterRole | ClusterRoleBinding>(
  store: Store,
  desired: T,
  extra: (next: T) => boolean,
): Promise<void> {
  const ctx = systemWriteContext();
  const name = desired.metadata!.name!;
  const current = store.tryGet(undefined, name);
  if (!current) {
    await store.create(desired, ctx);
    return;
  }
  if (!merged(current.obj as T, desired, extra)) return;
  await store.update(undefined, name, (cur) => merged(cur.obj as T, desired, extra) ?? (cur.obj as T), ctx);
}

export async function reconcileBootstrapPolicy(api: ApiServer): Promise<void> {
  const roles = api.store('rbac.authorization.k8s.io', 'clusterroles');
  for (const d of bootstrapClusterRoles()) {
    const want = desiredRole(d);
    await reconcile(roles, want, (next) => {
      let changed = false;
      if (want.aggregationRule) {
        if (JSON.stringify(next.aggregationRule) !== JSON.stringify(want.aggregationRule)) {
          next.aggregationRule = want.aggregationRule;
          changed = true;
        }
        return changed; // an aggregated role's rules are the aggregation controller's
      }
      const have = new Set((next.rules ?? []).map(canonical));
      for (const r of want.rules ?? [])
        if (!have.has(canonical(r))) {
          (next.rules ??= []).push(r);
          changed = true;
        }
      return changed;
    });
  }
  const bindings = api.store('rbac.authorization.k8s.io', 'clusterrolebindings');
  for (const d of bootstrapClusterRoleBindings()) {
    const want = desiredBinding(d);
    await reconcile(bindings, want, (next) => {
      let changed = false;
      const key = (s: { kind: string; name: string; namespace?: string }) => `${s.kind}/${s.namespace ?? ''}/${s.name}`;
      const have = new Set((next.subjects ?? []).map(key));
      for (const s of want.subjects ?? [])
        if (!have.has(key(s))) {
          (next.subjects ??= []).push(s);
          changed = true;
        }
      return changed;
    });
  }
}
