// Bootstrap token Secrets (upstream k8s.io/cluster-bootstrap): their names, keys, expiration and
// groups, shared by the API server's authenticator and the controllers (token cleaner).
import type { Secret } from 'kubernetes-types/core/v1.js';

export const BOOTSTRAP_TOKEN_SECRET_TYPE = 'bootstrap.kubernetes.io/token';
export const BOOTSTRAP_TOKEN_SECRET_PREFIX = 'bootstrap-token-';
export const BOOTSTRAP_USER_PREFIX = 'system:bootstrap:';
export const BOOTSTRAP_DEFAULT_GROUP = 'system:bootstrappers';
export const BOOTSTRAP_NAMESPACE = 'kube-system';

const TOKEN_RE = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const SECRET_NAME_RE = /^bootstrap-token-([a-z0-9]{6})$/;
const EXTRA_GROUP_RE = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;

/** The id and secret of a bootstrap token, or undefined if it is not one. */
export function parseBootstrapToken(token: string): { id: string; secret: string } | undefined {
  const m = TOKEN_RE.exec(token);
  return m ? { id: m[1], secret: m[2] } : undefined;
}

/** The token id a Secret's name carries (`bootstrap-token-<id>`), or undefined. */
export function bootstrapTokenIdOf(secretName: string): string | undefined {
  return SECRET_NAME_RE.exec(secretName)?.[1];
}

/** A data key of a Secret, decoded (empty when absent). */
export function secretData(secret: Secret, key: string): string {
  const v = secret.data && Object.hasOwn(secret.data, key) ? secret.data[key] : undefined;
  return v === undefined ? '' : Buffer.from(v, 'base64').toString('utf8');
}

/**
 * Milliseconds until a bootstrap token Secret expires (undefined: it never does; 0: it has).
 * An expiration that is not RFC 3339 counts as expired, as upstream's GetExpiration has it.
 */
export function bootstrapTokenRemainingMs(secret: Secret, now = Date.now()): number | undefined {
  const expiration = secretData(secret, 'expiration');
  if (!expiration) return undefined;
  const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
  const at = RFC3339.test(expiration) ? Date.parse(expiration) : NaN;
  if (Number.isNaN(at)) return 0;
  return Math.max(0, at - now);
}

/** system:bootstrappers plus the Secret's auth-extra-groups, sorted; undefined if one is invalid. */
export function bootstrapGroups(secret: Secret): string[] | undefined {
  const groups = new Set([BOOTSTRAP_DEFAULT_GROUP]);
  const extra = secretData(secret, 'auth-extra-groups');
  if (extra) {
    for (const g of extra.split(',')) {
      if (!EXTRA_GROUP_RE.test(g)) return undefined;
      groups.add(g);
    }
  }
  return [...groups].sort();
}
