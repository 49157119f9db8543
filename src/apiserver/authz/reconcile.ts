// Default RBAC objects created at server start and brought up to date at every start, as
// upstream's rbac/rest PostStartHook: missing rules, labels, annotations and subjects are added,
// nothing is taken away, and objects annotated autoupdate "false" are left as they are.
import type {
  ClusterRole,
  ClusterRoleBinding,
  PolicyRule as RbacPolicyRule,
  Role,
  RoleBinding,
} from 'kubernetes-types/rbac/v1.js';
import { systemWriteContext } from '../bootstrap.js';
import type { Store } from '../store.js';
import type { ApiServer } from '../server.js';
import {
  AUTOUPDATE_ANNOTATION,
  BOOTSTRAPPING_LABEL,
  BOOTSTRAPPING_VALUE,
  type BootstrapClusterRole,
  type BootstrapClusterRoleBinding,
  type BootstrapRole,
  type BootstrapRoleBinding,
  bootstrapClusterRoleBindings,
  bootstrapClusterRoles,
  bootstrapNamespaceRoleBindings,
  bootstrapNamespaceRoles,
} from './bootstrappolicy.js';

type RbacObject = ClusterRole | ClusterRoleBinding | Role | RoleBinding;

const RBAC_API = 'rbac.authorization.k8s.io/v1';
const canonical = (r: RbacPolicyRule) =>
  JSON.stringify([r.verbs, r.apiGroups ?? [], r.resources ?? [], r.resourceNames ?? [], r.nonResourceURLs ?? []]);

function desiredRole(d: BootstrapClusterRole | BootstrapRole): ClusterRole | Role {
  const namespace = 'namespace' in d ? d.namespace : undefined;
  return {
    apiVersion: RBAC_API,
    kind: namespace ? 'Role' : 'ClusterRole',
    metadata: {
      name: d.name,
      ...(namespace ? { namespace } : {}),
      annotations: { [AUTOUPDATE_ANNOTATION]: 'true' },
      labels: { [BOOTSTRAPPING_LABEL]: BOOTSTRAPPING_VALUE, ...('labels' in d ? d.labels : {}) },
    },
    rules: d.rules,
    ...('aggregateFrom' in d && d.aggregateFrom
      ? { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [d.aggregateFrom]: 'true' } }] } }
      : {}),
  };
}

function desiredBinding(d: BootstrapClusterRoleBinding | BootstrapRoleBinding): ClusterRoleBinding | RoleBinding {
  const namespace = 'namespace' in d ? d.namespace : undefined;
  return {
    apiVersion: RBAC_API,
    kind: namespace ? 'RoleBinding' : 'ClusterRoleBinding',
    metadata: {
      name: d.name,
      ...(namespace ? { namespace } : {}),
      annotations: { [AUTOUPDATE_ANNOTATION]: 'true' },
      labels: { [BOOTSTRAPPING_LABEL]: BOOTSTRAPPING_VALUE },
    },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: namespace ? 'Role' : 'ClusterRole', name: d.role },
    subjects: d.subjects.map((s) =>
      s.kind === 'ServiceAccount' ? { ...s } : { apiGroup: 'rbac.authorization.k8s.io', ...s },
    ),
  };
}

/** `current` with what `desired` adds (labels, annotations, and `extra`), or undefined when nothing changes. */
function merged<T extends RbacObject>(current: T, desired: T, extra: (next: T) => boolean): T | undefined {
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

async function reconcile<T extends RbacObject>(store: Store, desired: T, extra: (next: T) => boolean): Promise<void> {
  const ctx = systemWriteContext();
  const name = desired.metadata!.name!;
  const namespace = desired.metadata!.namespace;
  const current = store.tryGet(namespace, name);
  if (!current) {
    await store.create(desired, ctx);
    return;
  }
  if (!merged(current.obj as T, desired, extra)) return;
  await store.update(namespace, name, (cur) => merged(cur.obj as T, desired, extra) ?? (cur.obj as T), ctx);
}

/** Add the desired rules a role lacks (an aggregated ClusterRole's rules are the aggregation controller's). */
function roleExtra(want: ClusterRole | Role) {
  return (next: ClusterRole | Role): boolean => {
    let changed = false;
    if ('aggregationRule' in want && want.aggregationRule) {
      const role = next as ClusterRole;
      if (JSON.stringify(role.aggregationRule) !== JSON.stringify(want.aggregationRule)) {
        role.aggregationRule = want.aggregationRule;
        changed = true;
      }
      return changed;
    }
    const have = new Set((next.rules ?? []).map(canonical));
    for (const r of want.rules ?? [])
      if (!have.has(canonical(r))) {
        (next.rules ??= []).push(r);
        changed = true;
      }
    return changed;
  };
}

/** Add the desired subjects a binding lacks. */
function bindingExtra(want: ClusterRoleBinding | RoleBinding) {
  return (next: ClusterRoleBinding | RoleBinding): boolean => {
    let changed = false;
    const key = (s: { kind: string; name: string; namespace?: string }) => `${s.kind}/${s.namespace ?? ''}/${s.name}`;
    const have = new Set((next.subjects ?? []).map(key));
    for (const s of want.subjects ?? [])
      if (!have.has(key(s))) {
        (next.subjects ??= []).push(s);
        changed = true;
      }
    return changed;
  };
}

/** Reconciles every object of a list at once: the writes of one turn share one commit. */
async function reconcileAll<D, T extends RbacObject>(
  store: Store,
  defaults: readonly D[],
  desired: (d: D) => T,
  extra: (want: T) => (next: T) => boolean,
): Promise<void> {
  await Promise.all(
    defaults.map((d) => {
      const want = desired(d);
      return reconcile(store, want, extra(want));
    }),
  );
}

export async function reconcileBootstrapPolicy(api: ApiServer): Promise<void> {
  const store = (plural: string) => api.store('rbac.authorization.k8s.io', plural);
  // Each default is independent of the others (a binding may name a role not yet written, as in
  // any apply), so they are written together rather than one commit at a time.
  await Promise.all([
    reconcileAll(store('clusterroles'), bootstrapClusterRoles(), desiredRole, roleExtra),
    reconcileAll(store('clusterrolebindings'), bootstrapClusterRoleBindings(), desiredBinding, bindingExtra),
  ]);
  // Namespaced defaults: their namespaces first (the server's bootstrap keeps what exists).
  const namespaces = api.store('', 'namespaces');
  const roles = bootstrapNamespaceRoles();
  for (const ns of new Set(roles.map((r) => r.namespace)))
    if (!namespaces.tryGet(undefined, ns))
      await namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, systemWriteContext());
  await Promise.all([
    reconcileAll(store('roles'), roles, desiredRole, roleExtra),
    reconcileAll(store('rolebindings'), bootstrapNamespaceRoleBindings(), desiredBinding, bindingExtra),
  ]);
}
