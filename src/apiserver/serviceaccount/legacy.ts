// Legacy service-account tokens (upstream pkg/serviceaccount/legacy.go): the never-expiring
// JWTs the token controller writes into Secrets of type kubernetes.io/service-account-token.
// They carry their own claims under `kubernetes.io/serviceaccount/...` with the issuer
// `kubernetes/serviceaccount`, and authenticate only while their Secret still exists and holds
// exactly that token, and the service account still exists with the same uid.
import { timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { SignJWT, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { Secret, ServiceAccount } from 'kubernetes-types/core/v1.js';
import type { TokenAuthenticator } from '../authn/types.js';
import type { UserInfo } from '../user.js';
import type { ServiceAccountKeys } from './keys.js';
import { type ObjectLookup, serviceAccountGroups, serviceAccountUsername } from './tokens.js';

export const LEGACY_ISSUER = 'kubernetes/serviceaccount';
/** Set by upstream's legacy-token cleaner on tokens it is about to remove: they no longer authenticate. */
export const LEGACY_TOKEN_INVALID_SINCE_LABEL = 'kubernetes.io/legacy-token-invalid-since';

const CLAIM = {
  namespace: 'kubernetes.io/serviceaccount/namespace',
  secretName: 'kubernetes.io/serviceaccount/secret.name',
  serviceAccountName: 'kubernetes.io/serviceaccount/service-account.name',
  serviceAccountUID: 'kubernetes.io/serviceaccount/service-account.uid',
} as const;

export interface LegacyClaims extends JWTPayload {
  [CLAIM.namespace]: string;
  [CLAIM.secretName]: string;
  [CLAIM.serviceAccountName]: string;
  [CLAIM.serviceAccountUID]: string;
}

/** upstream LegacyClaims: the subject and the private claims (no exp, no aud: these never expire). */
export function legacyClaims(sa: ServiceAccount, secret: Secret): LegacyClaims {
  const ns = sa.metadata?.namespace ?? '';
  const name = sa.metadata?.name ?? '';
  return {
    iss: LEGACY_ISSUER,
    sub: serviceAccountUsername(ns, name),
    [CLAIM.namespace]: ns,
    [CLAIM.secretName]: secret.metadata?.name ?? '',
    [CLAIM.serviceAccountName]: name,
    [CLAIM.serviceAccountUID]: sa.metadata?.uid ?? '',
  };
}

/** A legacy token for a service account's token Secret, signed with the service-account key. */
export function signLegacyToken(keys: ServiceAccountKeys, sa: ServiceAccount, secret: Secret): Promise<string> {
  return new SignJWT(legacyClaims(sa, secret))
    .setProtectedHeader({ alg: keys.alg, kid: keys.kid })
    .sign(keys.privateKey);
}

const decoded = (s: Secret, key: string) => {
  const v = s.data && Object.hasOwn(s.data, key) ? s.data[key] : undefined;
  return v === undefined ? undefined : Buffer.from(v, 'base64');
};

export class LegacyTokenAuthenticator implements TokenAuthenticator {
  /** Verified tokens (a signature check costs ~0.1 ms; Secret and account are re-checked each time). */
  private readonly verified = new LRUCache<string, LegacyClaims>({ max: 4096, ttl: 10_000 });

  constructor(
    private readonly keys: ServiceAccountKeys,
    private readonly lookup: ObjectLookup,
  ) {}

  async authenticate(token: string): Promise<UserInfo | undefined> {
    const claims = await this.verify(token);
    if (!claims) return undefined;
    const ns = claims[CLAIM.namespace];
    const saName = claims[CLAIM.serviceAccountName];
    const secret = this.lookup('secrets', ns, claims[CLAIM.secretName]) as Secret | undefined;
    // Deleting the Secret revokes the token; so does replacing its token.
    if (!secret || secret.metadata?.deletionTimestamp) return undefined;
    if (secret.metadata?.labels?.[LEGACY_TOKEN_INVALID_SINCE_LABEL]) return undefined;
    const stored = decoded(secret, 'token');
    const presented = Buffer.from(token, 'utf8');
    if (!stored || stored.length !== presented.length || !timingSafeEqual(stored, presented)) return undefined;
    const sa = this.lookup('serviceaccounts', ns, saName) as ServiceAccount | undefined;
    if (!sa || sa.metadata?.deletionTimestamp || sa.metadata?.uid !== claims[CLAIM.serviceAccountUID]) return undefined;
    return { name: serviceAccountUsername(ns, saName), uid: sa.metadata.uid, groups: serviceAccountGroups(ns) };
  }

  /** The claims of a legacy token signed with this key, or undefined. */
  private async verify(token: string): Promise<LegacyClaims | undefined> {
    const cached = this.verified.get(token);
    if (cached) return cached;
    if (token.split('.').length !== 3) return undefined;
    try {
      // Other issuers' JWTs (bound tokens, OIDC) are told apart before any signature check.
      if (decodeJwt(token).iss !== LEGACY_ISSUER || decodeProtectedHeader(token).alg !== this.keys.alg)
        return undefined;
      const { payload } = await jwtVerify(token, this.keys.publicKey, {
        issuer: LEGACY_ISSUER,
        algorithms: [this.keys.alg],
      });
      const complete = Object.values(CLAIM).every((c) => typeof payload[c] === 'string' && payload[c] !== '');
      const subject = serviceAccountUsername(
        payload[CLAIM.namespace] as string,
        payload[CLAIM.serviceAccountName] as string,
      );
      if (!complete || payload.sub !== subject) return undefined;
      this.verified.set(token, payload as LegacyClaims);
      return payload as LegacyClaims;
    } catch {
      return undefined;
    }
  }
}
