// Authorization of every request (after authentication and RequestInfo): the chain the
// --authorization-mode flag names, fed from the stored RBAC objects, with impersonation, the
// access reviews, escalation checks on RBAC writes and the default roles.
import type { IncomingHttpHeaders } from 'node:http';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { type CacheEvent, type WatchCache, readOnlyViewOf } from '../../storage/cacher.js';
import type { RequestInfo } from '../requestinfo.js';
import type { ApiServer } from '../server.js';
import type { UserInfo } from '../user.js';
import { RbacEscalationCheck } from './escalation.js';
import { impersonate, wantsImpersonation } from './impersonation.js';
import { NodeAuthorizer, type PodSource } from './node.js';
import { type BindingObject, RbacAuthorizer, type RoleObject } from './rbac.js';
import { reconcileBootstrapPolicy } from './reconcile.js';
import { forbiddenError, requestAttributes } from './request.js';
import { reviewResources } from './reviews.js';
import type { Attributes, AuthorizationResult, Authorizer, PolicyRule, RuleResolver } from './types.js';
import {
  type AuthorizationMode,
  UnionAuthorizer,
  alwaysAllow,
  alwaysDeny,
  parseAuthorizationModes,
  privilegedGroupAuthorizer,
} from './union.js';

export * from './types.js';
export { parseAuthorizationModes, DEFAULT_AUTHORIZATION_MODES } from './union.js';
export { forbiddenError, forbiddenMessage, requestAttributes } from './request.js';
export { RbacAuthorizer } from './rbac.js';

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const EVERYTHING: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
  { verbs: ['*'], nonResourceURLs: ['*'] },
];

/** Keep `apply` told of every object of a cache: those there now, then every change. */
function follow<T>(cache: WatchCache, apply: (obj: T, deleted: boolean) => void): () => void {
  const from = cache.revision;
  for (const s of cache.list()) apply(s.obj as T, false);
  return cache.watch(from, { onEvent: (ev: CacheEvent) => apply(ev.cur.obj as T, ev.type === 'DELETED') });
}

export class Authorization implements Authorizer, RuleResolver {
  readonly modes: AuthorizationMode[];
  readonly rbac = new RbacAuthorizer();
  private readonly chain: Authorizer;
  private readonly stops: (() => void)[] = [];
  private api?: ApiServer;

  constructor(modesFlag?: string) {
    this.modes = parseAuthorizationModes(modesFlag);
    const members: Authorizer[] = [privilegedGroupAuthorizer];
    for (const m of this.modes) {
      if (m === 'AlwaysAllow') members.push(alwaysAllow);
      else if (m === 'AlwaysDeny') members.push(alwaysDeny);
      else if (m === 'RBAC') members.push(this.rbac);
      else members.push(new NodeAuthorizer(this.podSource()));
    }
    this.chain = new UnionAuthorizer(members);
  }

  authorize(a: Attributes): AuthorizationResult {
    return this.chain.authorize(a);
  }

  rulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] } {
    if (this.modes.includes('AlwaysAllow')) return { rules: EVERYTHING, errors: [] };
    return this.modes.includes('RBAC') ? this.rbac.rulesFor(user, namespace) : { rules: [], errors: [] };
  }

  /**
   * The request path's one call: act as the impersonated user if asked (and allowed), then
   * authorize the request as that user. Returns the user the request acts as; throws 403.
   * `decided` hears the verdict either way (the audit log's annotations).
   */
  authorizeRequest(
    user: UserInfo,
    info: RequestInfo,
    method: string,
    query: URLSearchParams,
    headers: IncomingHttpHeaders,
    decided?: (actor: UserInfo, result: AuthorizationResult) => void,
  ): UserInfo {
    const actor = wantsImpersonation(headers) ? impersonate(user, headers, this) : user;
    const a = requestAttributes(actor, info, method, query);
    const r = this.authorize(a);
    decided?.(actor, r);
    if (r.decision !== 'Allow') throw forbiddenError(a, r.reason);
    return actor;
  }

  private podSource(): PodSource {
    const pods = () => this.api?.tryStore('', 'pods');
    const claims = () => this.api?.tryStore('', 'persistentvolumeclaims');
    return {
      podsIn: (ns) => {
        const s = pods();
        return s ? s.cache.list(s.keyPrefix(ns)).map((x) => readOnlyViewOf(x) as Pod) : [];
      },
      pod: (ns, name) => {
        const s = pods()?.tryGet(ns, name);
        return s && (readOnlyViewOf(s) as Pod);
      },
      claimsOfVolume: (pv) => {
        const s = claims();
        if (!s) return [];
        return s.cache
          .list(s.keyPrefix())
          .map((x) => x.obj as { metadata: { namespace: string; name: string }; spec?: { volumeName?: string } })
          .filter((c) => c.spec?.volumeName === pv)
          .map((c) => ({ namespace: c.metadata.namespace, name: c.metadata.name }));
      },
    };
  }

  /**
   * Attach to a started server: follow the RBAC objects, answer the access reviews, check RBAC
   * writes for escalation, and create or update the default roles and bindings.
   */
  async install(api: ApiServer): Promise<void> {
    this.api = api;
    const rbac = this.rbac;
    const cacheOf = (plural: string) => api.store(RBAC_GROUP, plural).cache;
    const meta = (o: { metadata: { namespace?: string; name: string } }) =>
      [o.metadata.namespace ?? '', o.metadata.name] as const;
    this.stops.push(
      follow(cacheOf('clusterroles'), (o: RoleObject, gone) =>
        rbac.setClusterRole(o.metadata.name, gone ? undefined : o),
      ),
      follow(cacheOf('roles'), (o: RoleObject, gone) => rbac.setRole(...meta(o), gone ? undefined : o)),
      follow(cacheOf('clusterrolebindings'), (o: BindingObject, gone) =>
        rbac.setClusterRoleBinding(o.metadata.name, gone ? undefined : o),
      ),
      follow(cacheOf('rolebindings'), (o: BindingObject, gone) =>
        rbac.setRoleBinding(...meta(o), gone ? undefined : o),
      ),
    );
    for (const def of reviewResources(this, this)) {
      const old = api.registry.all().find((d) => d.group === def.group && d.plural === def.plural);
      if (old) api.registry.replace(old, def);
      else api.registry.add(def);
    }
    api.admission.register(new RbacEscalationCheck(this, rbac));
    await reconcileBootstrapPolicy(api);
  }

  stop(): void {
    for (const s of this.stops.splice(0)) s();
  }
}
