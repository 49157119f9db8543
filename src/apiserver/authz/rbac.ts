// RBAC as upstream's plugin/pkg/auth/authorizer/rbac: a request is allowed when a rule of a
// Role or ClusterRole bound to the user (by name, by one of its groups, or as a ServiceAccount)
// allows it; RBAC never denies, it has no opinion. Bindings are indexed by subject and namespace,
// so a decision looks only at the grants of the requesting user and its groups.
import type { UserInfo } from '../user.js';
import { ruleAllows } from './rules.js';
import type { Attributes, AuthorizationResult, Authorizer, PolicyRule, RuleResolver } from './types.js';
import { NO_OPINION } from './types.js';

interface RoleRef {
  kind: string;
  name: string;
}

interface Subject {
  kind: string;
  name: string;
  namespace?: string;
}

/** The fields of a Role/ClusterRole and of a binding the index uses. */
export interface RoleObject {
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[] | null;
}

export interface BindingObject {
  metadata: { name: string; namespace?: string };
  subjects?: Subject[] | null;
  roleRef: RoleRef;
}

/** One subject's share of one binding. */
interface Grant {
  binding: BindingObject;
  subject: Subject;
  /** Where the rules come from: `ns/name` of a Role, or a ClusterRole's name. */
  roleKey: string;
  clusterRole: boolean;
}

/** A subject's grants: those of ClusterRoleBindings, and those of RoleBindings by namespace. */
interface SubjectGrants {
  cluster: Grant[];
  byNamespace: Map<string, Grant[]>;
}

export const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:';

const bindingNamespace = (b: BindingObject) => b.metadata.namespace ?? '';

/** upstream describeSubject. */
function describeSubject(s: Subject, inNamespace: string): string {
  if (s.kind === 'ServiceAccount') return `${s.kind} ${JSON.stringify(`${s.name}/${s.namespace || inNamespace}`)}`;
  return `${s.kind} ${JSON.stringify(s.name)}`;
}

function describeGrant(g: Grant): string {
  const b = g.binding;
  const ns = bindingNamespace(b);
  return ns
    ? `RoleBinding ${JSON.stringify(`${b.metadata.name}/${ns}`)} of ${b.roleRef.kind} ${JSON.stringify(b.roleRef.name)} to ${describeSubject(g.subject, ns)}`
    : `ClusterRoleBinding ${JSON.stringify(b.metadata.name)} of ${b.roleRef.kind} ${JSON.stringify(b.roleRef.name)} to ${describeSubject(g.subject, '')}`;
}

/** An Allow whose reason (naming the grant) is written only when asked for. */
class AllowedBy implements AuthorizationResult {
  readonly decision = 'Allow';
  constructor(private readonly grant: Grant) {}
  get reason(): string {
    return `RBAC: allowed by ${describeGrant(this.grant)}`;
  }
}

/** A role's rules, and the same split by kind so a decision tries only the rules of its kind. */
interface RoleRules {
  all: PolicyRule[];
  resource: PolicyRule[];
  nonResource: PolicyRule[];
}

function roleRules(role: RoleObject): RoleRules {
  const all = role.rules ?? [];
  return {
    all,
    resource: all.filter((r) => r.resources?.length),
    nonResource: all.filter((r) => r.nonResourceURLs?.length),
  };
}

export class RbacAuthorizer implements Authorizer, RuleResolver {
  private readonly clusterRoles = new Map<string, RoleRules>();
  private readonly roles = new Map<string, RoleRules>();
  private readonly clusterRoleBindings = new Map<string, BindingObject>();
  private readonly roleBindings = new Map<string, BindingObject>();
  /** Subject indexes, rebuilt from the bindings on the first decision after a binding changed. */
  private users = new Map<string, SubjectGrants>();
  private groups = new Map<string, SubjectGrants>();
  private stale = false;

  // ---- feeding -------------------------------------------------------------------------------

  setClusterRole(name: string, role: RoleObject | undefined): void {
    if (role) this.clusterRoles.set(name, roleRules(role));
    else this.clusterRoles.delete(name);
  }

  setRole(namespace: string, name: string, role: RoleObject | undefined): void {
    if (role) this.roles.set(`${namespace}/${name}`, roleRules(role));
    else this.roles.delete(`${namespace}/${name}`);
  }

  setClusterRoleBinding(name: string, binding: BindingObject | undefined): void {
    if (binding) this.clusterRoleBindings.set(name, binding);
    else this.clusterRoleBindings.delete(name);
    this.stale = true;
  }

  setRoleBinding(namespace: string, name: string, binding: BindingObject | undefined): void {
    if (binding) this.roleBindings.set(`${namespace}/${name}`, binding);
    else this.roleBindings.delete(`${namespace}/${name}`);
    this.stale = true;
  }

  private reindex(): void {
    this.stale = false;
    this.users = new Map();
    this.groups = new Map();
    for (const b of this.clusterRoleBindings.values()) this.indexBinding(b);
    for (const b of this.roleBindings.values()) this.indexBinding(b);
  }

  private indexBinding(b: BindingObject): void {
    const ns = bindingNamespace(b);
    // A RoleBinding may refer to a Role of its namespace or to a ClusterRole; a
    // ClusterRoleBinding only to a ClusterRole.
    const clusterRole = b.roleRef.kind === 'ClusterRole';
    if (!clusterRole && !ns) return;
    const roleKey = clusterRole ? b.roleRef.name : `${ns}/${b.roleRef.name}`;
    for (const subject of b.subjects ?? []) {
      let index: Map<string, SubjectGrants>;
      let key: string;
      if (subject.kind === 'User') [index, key] = [this.users, subject.name];
      else if (subject.kind === 'Group') [index, key] = [this.groups, subject.name];
      else if (subject.kind === 'ServiceAccount')
        [index, key] = [this.users, `${SERVICE_ACCOUNT_PREFIX}${subject.namespace || ns}:${subject.name}`];
      else continue;
      let grants = index.get(key);
      if (!grants) index.set(key, (grants = { cluster: [], byNamespace: new Map() }));
      const grant: Grant = { binding: b, subject, roleKey, clusterRole };
      if (!ns) grants.cluster.push(grant);
      else {
        const list = grants.byNamespace.get(ns);
        if (list) list.push(grant);
        else grants.byNamespace.set(ns, [grant]);
      }
    }
  }

  // ---- deciding ------------------------------------------------------------------------------

  private rulesOf(g: Grant): RoleRules | undefined {
    return g.clusterRole ? this.clusterRoles.get(g.roleKey) : this.roles.get(g.roleKey);
  }

  private static missingRole(g: Grant): string {
    const kind = g.clusterRole ? 'clusterrole' : 'role';
    return `${kind}.rbac.authorization.k8s.io ${JSON.stringify(g.binding.roleRef.name)} not found`;
  }

  /** Visit the grants that apply to `user` in `namespace` ('' : cluster-wide ones only); stop when `visit` says so. */
  private visitGrants(user: UserInfo, namespace: string, visit: (g: Grant) => boolean): void {
    if (this.stale) this.reindex();
    const lists: SubjectGrants[] = [];
    const own = this.users.get(user.name);
    if (own) lists.push(own);
    for (const group of user.groups) {
      const g = this.groups.get(group);
      if (g) lists.push(g);
    }
    for (const l of lists) for (const g of l.cluster) if (visit(g)) return;
    if (!namespace) return;
    for (const l of lists) {
      const inNs = l.byNamespace.get(namespace);
      if (inNs) for (const g of inNs) if (visit(g)) return;
    }
  }

  /** Set when a grant's role is missing (then the decision's reason names it). */
  private sawMissingRole = false;

  private firstAllowing(a: Attributes, grants: Grant[] | undefined): Grant | undefined {
    if (!grants) return undefined;
    for (const g of grants) {
      const rules = this.rulesOf(g);
      if (!rules) {
        this.sawMissingRole = true;
        continue;
      }
      for (const rule of a.resourceRequest ? rules.resource : rules.nonResource) if (ruleAllows(a, rule)) return g;
    }
    return undefined;
  }

  authorize(a: Attributes): AuthorizationResult {
    if (this.stale) this.reindex();
    // The grants of the user, then of its groups: cluster-wide first, then in the namespace.
    // (visitGrants' loops, inlined without closures: this runs for every request.)
    this.sawMissingRole = false;
    const own = this.users.get(a.user.name);
    const groups = a.user.groups;
    let found = this.firstAllowing(a, own?.cluster);
    for (let i = 0; !found && i < groups.length; i++)
      found = this.firstAllowing(a, this.groups.get(groups[i])?.cluster);
    if (!found && a.namespace) {
      found = this.firstAllowing(a, own?.byNamespace.get(a.namespace));
      for (let i = 0; !found && i < groups.length; i++)
        found = this.firstAllowing(a, this.groups.get(groups[i])?.byNamespace.get(a.namespace));
    }
    if (found) return new AllowedBy(found);
    if (!this.sawMissingRole) return NO_OPINION;
    const errors: string[] = [];
    this.visitGrants(a.user, a.namespace, (g) => {
      if (!this.rulesOf(g)) errors.push(RbacAuthorizer.missingRole(g));
      return false;
    });
    return { decision: 'NoOpinion', reason: `RBAC: ${errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`}` };
  }

  rulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] } {
    const rules: PolicyRule[] = [];
    const errors: string[] = [];
    this.visitGrants(user, namespace, (g) => {
      const r = this.rulesOf(g);
      if (r) rules.push(...r.all);
      else errors.push(RbacAuthorizer.missingRole(g));
      return false;
    });
    return { rules, errors };
  }

  /** A ClusterRole's or a namespace's Role's rules (binding escalation checks). */
  roleRules(ref: RoleRef, namespace: string): PolicyRule[] | undefined {
    return (ref.kind === 'ClusterRole' ? this.clusterRoles.get(ref.name) : this.roles.get(`${namespace}/${ref.name}`))
      ?.all;
  }
}
