// The authorization model, as upstream's k8s.io/apiserver/pkg/authorization/authorizer: what a
// request asks (Attributes) and what an authorizer answers (a Decision with a reason).
import type { UserInfo } from '../user.js';

/** One request as an authorizer sees it (upstream authorizer.AttributesRecord). */
export interface Attributes {
  user: UserInfo;
  /** get, list, watch, create, update, patch, delete, deletecollection, or a special verb (impersonate, bind, escalate, use); the lower-case HTTP method for non-resource requests. */
  verb: string;
  /** True for /api and /apis paths that address a resource; false for every other path. */
  resourceRequest: boolean;
  namespace: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  name: string;
  /** The request path (non-resource requests). */
  path: string;
}

export type Decision = 'Allow' | 'Deny' | 'NoOpinion';

export interface AuthorizationResult {
  decision: Decision;
  reason: string;
}

export interface Authorizer {
  authorize(a: Attributes): AuthorizationResult;
}

/** PolicyRule as stored in Roles and ClusterRoles (rbac.authorization.k8s.io/v1). */
export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** What a user may do in a namespace (SelfSubjectRulesReview, escalation checks). */
export interface RuleResolver {
  rulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] };
}

export const NO_OPINION: AuthorizationResult = Object.freeze({ decision: 'NoOpinion', reason: '' });
export const ALLOW: AuthorizationResult = Object.freeze({ decision: 'Allow', reason: '' });

/** Attributes with everything not given left empty. */
export function attributes(a: Partial<Attributes> & Pick<Attributes, 'user' | 'verb'>): Attributes {
  return {
    resourceRequest: true,
    namespace: '',
    apiGroup: '',
    apiVersion: '',
    resource: '',
    subresource: '',
    name: '',
    path: '',
    ...a,
  };
}
