// Impersonation headers (upstream filters.WithImpersonation): Impersonate-User, -Group, -Uid
// and -Extra-<key> make the request act as another user, each part authorized by the
// `impersonate` verb on users, serviceaccounts, groups, uids or userextras.
import type { IncomingHttpHeaders } from 'node:http';
import * as errors from '../../machinery/errors.js';
import type { UserInfo } from '../user.js';
import { SERVICE_ACCOUNT_PREFIX } from './rbac.js';
import { forbiddenError } from './request.js';
import type { Attributes, Authorizer } from './types.js';
import { attributes } from './types.js';

const EXTRA_PREFIX = 'impersonate-extra-';

const values = (h: string | string[] | undefined): string[] => (h === undefined ? [] : Array.isArray(h) ? h : [h]);

/** Whether the request asks to impersonate anyone. */
export function wantsImpersonation(headers: IncomingHttpHeaders): boolean {
  for (const k in headers) if (k.startsWith('impersonate-')) return true;
  return false;
}

/** The user the request acts as; throws 403 when the requester may not impersonate it. */
export function impersonate(requester: UserInfo, headers: IncomingHttpHeaders, authz: Authorizer): UserInfo {
  const name = values(headers['impersonate-user'])[0] ?? '';
  const groups = values(headers['impersonate-group']).flatMap((g) => g.split(',').map((x) => x.trim()));
  const uid = values(headers['impersonate-uid'])[0];
  const extra: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(headers))
    if (k.startsWith(EXTRA_PREFIX)) {
      let key = k.slice(EXTRA_PREFIX.length);
      try {
        key = decodeURIComponent(key);
      } catch {
        throw errors.badRequest(`invalid impersonation extra key ${JSON.stringify(key)}`);
      }
      extra[key.toLowerCase()] = values(v).flatMap((x) => x.split(',').map((s) => s.trim()));
    }
  if (!name) throw errors.internalError('requested impersonation without impersonating a user');

  const check = (a: Attributes) => {
    const r = authz.authorize(a);
    if (r.decision !== 'Allow') throw forbiddenError(a, r.reason);
  };
  const as = (fields: Partial<Attributes>) => attributes({ user: requester, verb: 'impersonate', ...fields });
  const outGroups = [...groups];
  if (name.startsWith(SERVICE_ACCOUNT_PREFIX)) {
    const [namespace, sa] = name.slice(SERVICE_ACCOUNT_PREFIX.length).split(':');
    check(as({ resource: 'serviceaccounts', namespace, name: sa }));
    outGroups.push('system:serviceaccounts', `system:serviceaccounts:${namespace}`);
  } else {
    check(as({ resource: 'users', name }));
  }
  for (const g of groups) check(as({ resource: 'groups', name: g }));
  for (const [key, vals] of Object.entries(extra))
    for (const v of vals)
      check(as({ apiGroup: 'authentication.k8s.io', resource: 'userextras', subresource: key, name: v }));
  if (uid !== undefined) check(as({ apiGroup: 'authentication.k8s.io', resource: 'uids', name: uid }));

  if (
    name !== 'system:anonymous' &&
    !outGroups.some((g) => g === 'system:authenticated' || g === 'system:unauthenticated')
  )
    outGroups.push('system:authenticated');
  const user: UserInfo = { name, groups: outGroups };
  if (uid !== undefined) user.uid = uid;
  if (Object.keys(extra).length) user.extra = extra;
  return user;
}
