// Kubernetes' CEL authorizer library (k8s.io/apiserver/pkg/cel/library/authz.go): admission
// expressions ask the server's authorizer whether the requesting user (or a service account)
// may do something, e.g. `authorizer.group('apps').resource('deployments').namespace('ns')
// .check('get').allowed()` or `authorizer.path('/healthz').check('get').allowed()`. The
// builders are values; only `check` calls the authorizer, and it costs 350,000 units as upstream
// prices it (at most two checks fit one expression's per-call limit of 1,000,000).
import type { Environment } from '@marcbachmann/cel-js';
import { charge } from '../cost.js';
import { isDNS1123Label, isDNS1123Subdomain } from '../../machinery/validation.js';

/** The user an authorization check is for (the API server's UserInfo). */
export interface AuthzUser {
  name: string;
  groups: string[];
  uid?: string;
  extra?: Record<string, string[]>;
}

/** One authorization question, shaped as the API server's authorizer Attributes. */
export interface AuthzAttributes {
  user: AuthzUser;
  verb: string;
  resourceRequest: boolean;
  namespace: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  name: string;
  path: string;
}

/** The server's authorizer: Allow, Deny or NoOpinion with a reason. */
export type AuthorizeFn = (a: AuthzAttributes) => { decision: string; reason: string };

/** Upstream's fixed price of one authorization check. */
export const AUTHZ_CHECK_COST = 350_000;

const T = 'kubernetes.authorization';

export class DecisionVal {
  constructor(
    readonly decision: string,
    readonly reason: string,
    readonly error: string | undefined,
  ) {}
}

export class ResourceCheckVal {
  constructor(
    readonly authorizer: AuthorizerVal,
    readonly group: string,
    readonly resource: string,
    readonly subresource = '',
    readonly namespace = '',
    readonly name = '',
  ) {}
  with(fields: Partial<Pick<ResourceCheckVal, 'subresource' | 'namespace' | 'name'>>): ResourceCheckVal {
    const next = { subresource: this.subresource, namespace: this.namespace, name: this.name, ...fields };
    return new ResourceCheckVal(
      this.authorizer,
      this.group,
      this.resource,
      next.subresource,
      next.namespace,
      next.name,
    );
  }
}

export class GroupCheckVal {
  constructor(
    readonly authorizer: AuthorizerVal,
    readonly group: string,
  ) {}
}

export class PathCheckVal {
  constructor(
    readonly authorizer: AuthorizerVal,
    readonly path: string,
  ) {}
}

export class AuthorizerVal {
  /** `authorizer.requestResource`: a check of the request's own resource (set for the request's user). */
  readonly requestResource?: ResourceCheckVal;
  constructor(
    readonly user: AuthzUser,
    readonly authorize: AuthorizeFn,
    request?: { group: string; resource: string; subresource?: string; namespace?: string; name?: string },
  ) {
    if (request) {
      this.requestResource = new ResourceCheckVal(
        this,
        request.group,
        request.resource,
        request.subresource ?? '',
        request.namespace ?? '',
        request.name ?? '',
      );
    }
  }
}

function decide(authorizer: AuthorizerVal, attrs: Omit<AuthzAttributes, 'user'>): DecisionVal {
  charge(AUTHZ_CHECK_COST);
  try {
    const r = authorizer.authorize({ ...attrs, user: authorizer.user });
    return new DecisionVal(r.decision, r.reason, undefined);
  } catch (err) {
    return new DecisionVal('NoOpinion', '', (err as Error).message);
  }
}

const NO_RESOURCE = { apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };

export function registerAuthz(env: Environment): void {
  env
    .registerType(`${T}.Decision`, { ctor: DecisionVal, fields: {} })
    .registerType(`${T}.ResourceCheck`, { ctor: ResourceCheckVal, fields: {} })
    .registerType(`${T}.GroupCheck`, { ctor: GroupCheckVal, fields: {} })
    .registerType(`${T}.PathCheck`, { ctor: PathCheckVal, fields: {} })
    .registerType(`${T}.Authorizer`, { ctor: AuthorizerVal, fields: { requestResource: `${T}.ResourceCheck` } })
    .registerFunction(`${T}.Authorizer.path(string): ${T}.PathCheck`, (a: AuthorizerVal, path: string) => {
      if (!path.trim()) throw new Error('path must not be empty');
      return new PathCheckVal(a, path);
    })
    .registerFunction(
      `${T}.Authorizer.group(string): ${T}.GroupCheck`,
      (a: AuthorizerVal, group: string) => new GroupCheckVal(a, group),
    )
    .registerFunction(
      `${T}.Authorizer.serviceAccount(string, string): ${T}.Authorizer`,
      (a: AuthorizerVal, namespace: string, name: string) => {
        if (isDNS1123Subdomain(name).length) throw new Error('Invalid service account name');
        if (isDNS1123Label(namespace).length) throw new Error('Invalid service account namespace');
        // upstream serviceaccount.ServiceAccountInfo.UserInfo(): the account's user and groups only.
        const user: AuthzUser = {
          name: `system:serviceaccount:${namespace}:${name}`,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`],
        };
        return new AuthorizerVal(user, a.authorize);
      },
    )
    .registerFunction(`${T}.GroupCheck.resource(string): ${T}.ResourceCheck`, (g: GroupCheckVal, resource: string) => {
      if (!resource.trim()) throw new Error('resource must not be empty');
      return new ResourceCheckVal(g.authorizer, g.group, resource);
    })
    .registerFunction(`${T}.ResourceCheck.subresource(string): ${T}.ResourceCheck`, (r: ResourceCheckVal, s: string) =>
      r.with({ subresource: s }),
    )
    .registerFunction(`${T}.ResourceCheck.namespace(string): ${T}.ResourceCheck`, (r: ResourceCheckVal, ns: string) =>
      r.with({ namespace: ns }),
    )
    .registerFunction(`${T}.ResourceCheck.name(string): ${T}.ResourceCheck`, (r: ResourceCheckVal, n: string) =>
      r.with({ name: n }),
    )
    .registerFunction(`${T}.ResourceCheck.check(string): ${T}.Decision`, (r: ResourceCheckVal, verb: string) =>
      decide(r.authorizer, {
        verb,
        resourceRequest: true,
        apiGroup: r.group,
        apiVersion: '*',
        resource: r.resource,
        subresource: r.subresource,
        namespace: r.namespace,
        name: r.name,
        path: '',
      }),
    )
    .registerFunction(`${T}.PathCheck.check(string): ${T}.Decision`, (p: PathCheckVal, verb: string) =>
      decide(p.authorizer, { ...NO_RESOURCE, verb, resourceRequest: false, path: p.path }),
    )
    .registerFunction(`${T}.Decision.allowed(): bool`, (d: DecisionVal) => d.decision === 'Allow')
    .registerFunction(`${T}.Decision.reason(): string`, (d: DecisionVal) => d.reason)
    .registerFunction(`${T}.Decision.errored(): bool`, (d: DecisionVal) => d.error !== undefined)
    .registerFunction(`${T}.Decision.error(): string`, (d: DecisionVal) => d.error ?? '');
}

/** The CEL type of the `authorizer` variable. */
export const AUTHORIZER_TYPE = `${T}.Authorizer`;
