// Which controls the user may use, asked of the API server with SelfSubjectAccessReviews (the
// same RBAC that will decide the request itself): a control is shown only once allowed.
import { useEffect, useState } from 'react';
import { request } from './api.js';

export interface Attributes {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

interface Review {
  status?: { allowed?: boolean };
}

/** The server's answers; undefined while a review failed (asked again on the next call). */
const answers = new Map<string, Promise<boolean | undefined>>();

export function resetAccess() {
  answers.clear();
}

export function can(a: Attributes): Promise<boolean | undefined> {
  const key = JSON.stringify([a.verb, a.group, a.resource, a.namespace ?? '', a.name ?? '', a.subresource ?? '']);
  let answer = answers.get(key);
  if (!answer) {
    answer = request<Review>('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      method: 'POST',
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: a },
      },
    }).then(
      (r) => r.status?.allowed === true,
      () => {
        // A failed review (a dropped connection) is no answer: asked again, rather than hiding
        // the control for the rest of the session.
        answers.delete(key);
        return undefined;
      },
    );
    answers.set(key, answer);
  }
  return answer;
}

/** Whether the user may do `a` (false until the server said yes). */
export function useCan(a: Attributes | undefined): boolean {
  const [allowed, setAllowed] = useState(false);
  const key = JSON.stringify(a ?? null);
  useEffect(() => {
    if (!a) return setAllowed(false);
    let live = true;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const ask = () =>
      void can(a).then((ok) => {
        if (!live) return;
        if (ok === undefined) retry = setTimeout(ask, 2000);
        else setAllowed(ok);
      });
    ask();
    return () => {
      live = false;
      clearTimeout(retry);
    };
    // (a is compared by value, through key)
  }, [key]);
  return allowed;
}
