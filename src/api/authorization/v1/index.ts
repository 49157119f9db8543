// authorization.k8s.io/v1: access reviews answered by the API server (kubectl auth can-i).
// Until RBAC is enforced every authenticated user may do everything, and the answers say so.
import type { ResourceDef } from '../../types.js';

const answered = (
  kind: string,
  plural: string,
  namespaced: boolean,
  answer: (obj: any, user: { name: string; groups: string[] }) => any,
): ResourceDef => ({
  group: 'authorization.k8s.io',
  versions: [{ name: 'v1' }],
  kind,
  plural,
  singular: plural.replace(/s$/, ''),
  namespaced,
  verbs: ['create'],
  answerCreate: (obj, user) => ({
    metadata: { ...(obj.metadata ?? {}), creationTimestamp: null },
    spec: obj.spec ?? {},
    status: answer(obj, user),
  }),
});

const allowed = () => ({ allowed: true, reason: 'every authenticated user is allowed until RBAC is enforced' });

export const resources: ResourceDef[] = [
  answered('LocalSubjectAccessReview', 'localsubjectaccessreviews', true, allowed),
  answered('SelfSubjectAccessReview', 'selfsubjectaccessreviews', false, allowed),
  answered('SelfSubjectRulesReview', 'selfsubjectrulesreviews', false, () => ({
    resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
    nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
    incomplete: false,
  })),
  answered('SubjectAccessReview', 'subjectaccessreviews', false, allowed),
];
