// authentication.k8s.io/v1: reviews answered by the API server (kubectl auth whoami).
import type { ResourceDef } from '../../types.js';

export const selfSubjectReviews: ResourceDef = {
  group: 'authentication.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'SelfSubjectReview',
  plural: 'selfsubjectreviews',
  singular: 'selfsubjectreview',
  namespaced: false,
  verbs: ['create'],
  answerCreate: (obj, user) => {
    const userInfo: Record<string, unknown> = { username: user.name, groups: user.groups };
    if (user.uid) userInfo.uid = user.uid;
    if (user.extra && Object.keys(user.extra).length) userInfo.extra = user.extra;
    return { metadata: { ...(obj.metadata ?? {}), creationTimestamp: null }, status: { userInfo } };
  },
};

export const resources: ResourceDef[] = [selfSubjectReviews];
