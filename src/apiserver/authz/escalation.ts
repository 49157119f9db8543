// Escalation prevention (upstream rbac/role, clusterrole, rolebinding, clusterrolebinding
// policybased storage): a user may write a Role or ClusterRole only with rules it holds itself,
// unless it may `escalate` roles; and may bind a role only if it holds the role's rules, unless
// it may `bind` that role. Members of system:masters are never checked.
import type { ValidatingPlugin, AdmissionAttributes } from '../admission/interfaces.js';
import { forbiddenFor } from '../admission/interfaces.js';
import type { UserInfo } from '../user.js';
import type { RbacAuthorizer } from './rbac.js';
import { compactRules, compactString, quoteList, uncovered } from './rules.js';
import type { Authorizer, PolicyRule } from './types.js';
import { attributes } from './types.js';
import { isPrivileged } from './union.js';

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const ROLES = new Set(['roles', 'clusterroles']);
const BINDINGS = new Set(['rolebindings', 'clusterrolebindings']);

export class RbacEscalationCheck implements ValidatingPlugin {
  readonly name = 'RBACEscalation';

  constructor(
    private readonly authorizer: Authorizer,
    private readonly rbac: RbacAuthorizer,
  ) {}

  handles(a: AdmissionAttributes): boolean {
    return (
      a.group === RBAC_GROUP &&
      (a.operation === 'CREATE' || a.operation === 'UPDATE') &&
      !a.subresource &&
      (ROLES.has(a.resource) || BINDINGS.has(a.resource))
    );
  }

  private allowed(user: UserInfo, verb: string, resource: string, namespace: string, name: string): boolean {
    const a = attributes({ user, verb, apiGroup: RBAC_GROUP, resource, namespace, name });
    return this.authorizer.authorize(a).decision === 'Allow';
  }

  /** Upstream ConfirmNoEscalation. */
  private confirmNoEscalation(a: AdmissionAttributes, rules: PolicyRule[]): void {
    const held = this.rbac.rulesFor(a.user, a.namespace);
    const missing = uncovered(held.rules, rules);
    if (missing.length === 0) return;
    const resolution = held.errors.length ? `; resolution errors: [${held.errors.join(' ')}]` : '';
    throw forbiddenFor(
      a,
      `user ${JSON.stringify(a.user.name)} (groups=${quoteList(a.user.groups)}) is attempting to grant RBAC permissions not currently held:\n${compactRules(missing).map(compactString).join('\n')}${resolution}`,
    );
  }

  validate(a: AdmissionAttributes): void {
    if (isPrivileged(a.user)) return;
    const obj = a.object as { rules?: PolicyRule[] | null; roleRef?: { kind: string; name: string } };
    if (ROLES.has(a.resource)) {
      if (this.allowed(a.user, 'escalate', a.resource, a.namespace, a.name)) return;
      // An aggregated ClusterRole's rules are the controller's to fill; the user grants nothing.
      this.confirmNoEscalation(a, (a.object as { aggregationRule?: unknown }).aggregationRule ? [] : (obj.rules ?? []));
      return;
    }
    const ref = obj.roleRef;
    if (!ref) return;
    const roleResource = ref.kind === 'ClusterRole' ? 'clusterroles' : 'roles';
    if (this.allowed(a.user, 'bind', roleResource, a.namespace, ref.name)) return;
    const rules = this.rbac.roleRules(ref, a.namespace);
    if (!rules) {
      const kind = ref.kind === 'ClusterRole' ? 'clusterrole' : 'role';
      throw forbiddenFor(a, `${kind}.rbac.authorization.k8s.io ${JSON.stringify(ref.name)} not found`);
    }
    this.confirmNoEscalation(a, rules);
  }
}
