// authorization.k8s.io/v1 reviews answered by the authorizer: SubjectAccessReview (any user),
// LocalSubjectAccessReview (in a namespace), SelfSubjectAccessReview (the requester) and
// SelfSubjectRulesReview (what the requester may do in a namespace: `kubectl auth can-i --list`).
import type { ResourceDef } from '../../api/types.js';
import * as errors from '../../machinery/errors.js';
import type { UserInfo } from '../user.js';
import type { Attributes, Authorizer, PolicyRule, RuleResolver } from './types.js';
import { attributes } from './types.js';

interface ResourceAttributes {
  namespace?: string;
  verb?: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}

interface AccessReviewSpec {
  resourceAttributes?: ResourceAttributes;
  nonResourceAttributes?: { path?: string; verb?: string };
  user?: string;
  groups?: string[];
  uid?: string;
  extra?: Record<string, string[]>;
  namespace?: string;
}

interface Review {
  metadata?: Record<string, unknown>;
  spec?: AccessReviewSpec;
}

function reviewAttributes(kind: string, user: UserInfo, spec: AccessReviewSpec): Attributes {
  const r = spec.resourceAttributes;
  const n = spec.nonResourceAttributes;
  if (!r === !n)
    throw errors.invalid('authorization.k8s.io', kind, '', [
      {
        type: 'FieldValueInvalid',
        field: 'spec.resourceAttributes',
        detail: `Invalid value: ${JSON.stringify(r ?? null)}: exactly one of nonResourceAttributes or resourceAttributes must be specified`,
      },
    ]);
  if (n) return attributes({ user, verb: n.verb ?? '', resourceRequest: false, path: n.path ?? '' });
  return attributes({
    user,
    verb: r!.verb ?? '',
    namespace: r!.namespace ?? '',
    apiGroup: r!.group ?? '',
    apiVersion: r!.version ?? '',
    resource: r!.resource ?? '',
    subresource: r!.subresource ?? '',
    name: r!.name ?? '',
  });
}

function accessStatus(authz: Authorizer, a: Attributes) {
  const r = authz.authorize(a);
  const status: { allowed: boolean; denied?: boolean; reason?: string } = { allowed: r.decision === 'Allow' };
  if (r.decision === 'Deny') status.denied = true;
  if (r.reason) status.reason = r.reason;
  return status;
}

const answered = (
  kind: string,
  plural: string,
  namespaced: boolean,
  answer: (obj: Review, user: UserInfo) => unknown,
): ResourceDef => ({
  group: 'authorization.k8s.io',
  versions: [{ name: 'v1' }],
  kind,
  plural,
  singular: plural.replace(/s$/, ''),
  namespaced,
  verbs: ['create'],
  answerCreate: (obj: Review, user: UserInfo) => ({
    metadata: { ...(obj.metadata ?? {}), creationTimestamp: null },
    spec: obj.spec ?? {},
    status: answer(obj, user),
  }),
});

function subjectOf(kind: string, spec: AccessReviewSpec): UserInfo {
  if (!spec.user && !spec.groups?.length)
    throw errors.invalid('authorization.k8s.io', kind, '', [
      {
        type: 'FieldValueInvalid',
        field: 'spec.user',
        detail: 'Invalid value: "": at least one of user or group must be specified',
      },
    ]);
  const user: UserInfo = { name: spec.user ?? '', groups: spec.groups ?? [] };
  if (spec.uid) user.uid = spec.uid;
  if (spec.extra) user.extra = spec.extra;
  return user;
}

/** The rules a user holds in a namespace, as SelfSubjectRulesReview lists them. */
function rulesReview(resolver: RuleResolver, user: UserInfo, namespace: string) {
  const { rules, errors: errs } = resolver.rulesFor(user, namespace);
  const resourceRules: PolicyRule[] = [];
  const nonResourceRules: PolicyRule[] = [];
  for (const r of rules) {
    if (r.nonResourceURLs?.length) nonResourceRules.push({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs });
    if (r.resources?.length) {
      const rr: PolicyRule = { verbs: r.verbs, apiGroups: r.apiGroups ?? [], resources: r.resources };
      if (r.resourceNames?.length) rr.resourceNames = r.resourceNames;
      resourceRules.push(rr);
    }
  }
  const status: Record<string, unknown> = { resourceRules, nonResourceRules, incomplete: errs.length > 0 };
  if (errs.length) status.evaluationError = errs.join(', ');
  return status;
}

export function reviewResources(authz: Authorizer, resolver: RuleResolver): ResourceDef[] {
  return [
    answered('SubjectAccessReview', 'subjectaccessreviews', false, (obj) =>
      accessStatus(
        authz,
        reviewAttributes('SubjectAccessReview', subjectOf('SubjectAccessReview', obj.spec ?? {}), obj.spec ?? {}),
      ),
    ),
    answered('LocalSubjectAccessReview', 'localsubjectaccessreviews', true, (obj) => {
      const spec = obj.spec ?? {};
      const ns = (obj.metadata?.namespace as string | undefined) ?? spec.resourceAttributes?.namespace;
      if (spec.resourceAttributes && ns !== undefined && spec.resourceAttributes.namespace !== ns)
        throw errors.badRequest('spec.resourceAttributes.namespace must match namespace: ' + String(ns));
      return accessStatus(
        authz,
        reviewAttributes('LocalSubjectAccessReview', subjectOf('LocalSubjectAccessReview', spec), spec),
      );
    }),
    answered('SelfSubjectAccessReview', 'selfsubjectaccessreviews', false, (obj, user) =>
      accessStatus(authz, reviewAttributes('SelfSubjectAccessReview', user, obj.spec ?? {})),
    ),
    answered('SelfSubjectRulesReview', 'selfsubjectrulesreviews', false, (obj, user) =>
      rulesReview(resolver, user, obj.spec?.namespace ?? ''),
    ),
  ];
}
