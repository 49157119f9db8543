// Bootstrap tokens (upstream plugin/pkg/auth/authenticator/token/bootstrap): `<id>.<secret>`
// matched against the kube-system Secret `bootstrap-token-<id>` of type
// bootstrap.kubernetes.io/token, for joining nodes and short-lived admin access.
import { timingSafeEqual } from 'node:crypto';
import type { Secret } from 'kubernetes-types/core/v1.js';
import {
  BOOTSTRAP_TOKEN_SECRET_PREFIX,
  BOOTSTRAP_TOKEN_SECRET_TYPE,
  BOOTSTRAP_USER_PREFIX,
  bootstrapGroups,
  bootstrapTokenRemainingMs,
  parseBootstrapToken,
  secretData,
} from '../../machinery/bootstraptoken.js';
import type { TokenAuthenticator, UserInfo } from './types.js';

export * from '../../machinery/bootstraptoken.js';

const sameSecret = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** Looks up a kube-system Secret by name (from the server's cache). */
export type SecretLookup = (name: string) => Secret | undefined;

export class BootstrapTokenAuthenticator implements TokenAuthenticator {
  constructor(private readonly lookup: SecretLookup) {}

  authenticate(token: string): UserInfo | undefined {
    const parsed = parseBootstrapToken(token);
    if (!parsed) return undefined;
    const secret = this.lookup(BOOTSTRAP_TOKEN_SECRET_PREFIX + parsed.id);
    if (!secret || secret.metadata?.deletionTimestamp) return undefined;
    if (secret.type !== BOOTSTRAP_TOKEN_SECRET_TYPE || !secret.data) return undefined;
    if (!sameSecret(secretData(secret, 'token-secret'), parsed.secret)) return undefined;
    if (secretData(secret, 'token-id') !== parsed.id) return undefined;
    if (bootstrapTokenRemainingMs(secret) === 0) return undefined;
    if (secretData(secret, 'usage-bootstrap-authentication') !== 'true') return undefined;
    const groups = bootstrapGroups(secret);
    if (!groups) return undefined;
    return { name: BOOTSTRAP_USER_PREFIX + parsed.id, groups };
  }
}
