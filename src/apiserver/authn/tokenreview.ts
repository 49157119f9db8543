// authentication.k8s.io/v1 TokenReview: "whom does this bearer token name?", answered by the
// server's own token authenticators (not the client certificate, not anonymous), as upstream's
// tokenreview REST. Node agents ask it for tokens presented on their API (delegated authentication).
import type { TokenReview } from 'kubernetes-types/authentication/v1.js';
import type { ResourceDef } from '../../api/types.js';
import * as errors from '../../machinery/errors.js';
import type { AuthenticatorChain } from './chain.js';

export function tokenReviewResource(chain: Pick<AuthenticatorChain, 'reviewToken'>): ResourceDef {
  return {
    group: 'authentication.k8s.io',
    versions: [{ name: 'v1' }],
    kind: 'TokenReview',
    plural: 'tokenreviews',
    singular: 'tokenreview',
    namespaced: false,
    verbs: ['create'],
    answerCreate: async (obj: TokenReview) => {
      const spec = obj.spec ?? {};
      if (!spec.token) throw errors.badRequest('token is required for TokenReview in authentication');
      const found = await chain.reviewToken(spec.token, spec.audiences);
      // Upstream's status: `user` is a struct (always written), `authenticated` omitted when false.
      const status: Record<string, unknown> = { user: {} };
      if (found) {
        const { user, audiences } = found;
        status.authenticated = true;
        const info: Record<string, unknown> = { username: user.name };
        if (user.uid) info.uid = user.uid;
        if (user.groups.length) info.groups = user.groups;
        if (user.extra && Object.keys(user.extra).length) info.extra = user.extra;
        status.user = info;
        if (audiences.length) status.audiences = audiences;
      } else {
        status.error = 'invalid bearer token';
      }
      return { metadata: { ...(obj.metadata ?? {}), creationTimestamp: null }, spec, status };
    },
  };
}
