// Service-account JWTs: issuing them with upstream's claims (pkg/serviceaccount/claims.go) and
// authenticating requests that carry one (the bound-token validation of the same package).
//
// A token names its service account (and the pod, secret and node it is bound to) by name and
// uid in the private "kubernetes.io" claim; it authenticates only while those objects still
// exist with the same uid, so deleting a pod revokes the tokens it was given.
import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { SignJWT, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { UserInfo } from '../user.js';
import type { ServiceAccountKeys } from './keys.js';

export const SERVICE_ACCOUNT_USERNAME_PREFIX = 'system:serviceaccount:';
export const ALL_SERVICE_ACCOUNTS_GROUP = 'system:serviceaccounts';

/** upstream MakeUsername. */
export const serviceAccountUsername = (namespace: string, name: string) =>
  `${SERVICE_ACCOUNT_USERNAME_PREFIX}${namespace}:${name}`;

/** Groups of a service account: all service accounts, and those of its namespace. */
export const serviceAccountGroups = (namespace: string) => [
  ALL_SERVICE_ACCOUNTS_GROUP,
  `${ALL_SERVICE_ACCOUNTS_GROUP}:${namespace}`,
];

/** The issuer (iss) of tokens of a cluster: the in-cluster API server URL, as kubeadm sets it. */
export const defaultIssuer = (clusterDomain: string) => `https://kubernetes.default.svc.${clusterDomain}`;

/**
 * Pod-bound tokens asked for with exactly this lifetime (the admission plugin's kube-api-access
 * volume) are issued for a year and carry a `warnafter` claim instead, as upstream does while
 * clients learn to reload tokens (--service-account-extend-token-expiration).
 */
export const WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS = 3607;
export const EXPIRATION_EXTENSION_SECONDS = 365 * 24 * 60 * 60;

interface Ref {
  name: string;
  uid: string;
}

/** The private claim. */
export interface KubernetesClaim {
  namespace: string;
  serviceaccount: Ref;
  pod?: Ref;
  secret?: Ref;
  node?: Ref;
  warnafter?: number;
}

export interface TokenClaims extends JWTPayload {
  'kubernetes.io': KubernetesClaim;
}

const refOf = (o: any): Ref => ({ name: o.metadata.name, uid: o.metadata.uid });

export interface IssueRequest {
  serviceAccount: any;
  pod?: any;
  secret?: any;
  node?: any;
  audiences: string[];
  expirationSeconds: number;
  /** Seconds after which a token used still authenticates but is reported as stale (0: none). */
  warnAfterSeconds?: number;
  /** Issue time (seconds since the epoch); default now. */
  now?: number;
}

/** Signs tokens with the cluster's service-account key. */
export class TokenIssuer {
  constructor(
    readonly keys: ServiceAccountKeys,
    readonly issuer: string,
  ) {}

  /** The claims upstream's Claims() builds, without iss (added when signing). */
  claims(r: IssueRequest): TokenClaims {
    if (r.pod && r.secret) throw new Error('internal error, token can only be bound to one object type');
    const now = r.now ?? Math.floor(Date.now() / 1000);
    const k8s: KubernetesClaim = {
      namespace: r.serviceAccount.metadata.namespace,
      serviceaccount: refOf(r.serviceAccount),
    };
    if (r.pod) {
      k8s.pod = refOf(r.pod);
      if (r.node) k8s.node = refOf(r.node);
    } else if (r.secret) {
      k8s.secret = refOf(r.secret);
    } else if (r.node) {
      k8s.node = refOf(r.node);
    }
    if (r.warnAfterSeconds) k8s.warnafter = now + r.warnAfterSeconds;
    return {
      aud: r.audiences,
      exp: now + r.expirationSeconds,
      iat: now,
      nbf: now,
      jti: randomUUID(),
      sub: serviceAccountUsername(r.serviceAccount.metadata.namespace, r.serviceAccount.metadata.name),
      'kubernetes.io': k8s,
    };
  }

  async sign(claims: TokenClaims): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: this.keys.alg, kid: this.keys.kid })
      .setIssuer(this.issuer)
      .sign(this.keys.privateKey);
  }

  async issue(r: IssueRequest): Promise<{ token: string; claims: TokenClaims }> {
    const claims = this.claims(r);
    return { token: await this.sign(claims), claims };
  }
}

/** Reads an object by core plural, namespace and name (undefined: not found). */
export type ObjectLookup = (plural: string, namespace: string | undefined, name: string) => any;

/** Bound objects deleted longer ago than this no longer back a token (upstream: 60 s). */
const DELETION_GRACE_MS = 60_000;

/**
 * Authenticates bearer tokens signed by the service-account key: signature, issuer, audience
 * (the API server's audiences) and lifetime are checked by jose; then the service account and
 * the bound pod or secret must still exist with the uids the token names. Anything else is "not
 * a token of mine" (undefined), so other authenticators get their turn and the request ends in
 * 401 when none accepts it.
 */
export class ServiceAccountTokenAuthenticator {
  /** Verified tokens (signature checks cost ~0.1 ms; lifetime and objects are re-checked each time). */
  private readonly verified = new LRUCache<string, TokenClaims>({ max: 4096, ttl: 10_000 });

  constructor(
    private readonly keys: ServiceAccountKeys,
    private readonly issuer: string,
    private readonly apiAudiences: string[],
    private readonly lookup: ObjectLookup,
  ) {}

  async authenticate(token: string): Promise<UserInfo | undefined> {
    return (await this.authenticateFor(token, this.apiAudiences))?.user;
  }

  /** The token's user and those of `wanted` it was issued for (TokenReview's audiences); undefined if none. */
  async authenticateFor(token: string, wanted: string[]): Promise<{ user: UserInfo; audiences: string[] } | undefined> {
    const claims = await this.verify(token);
    if (!claims) return undefined;
    const aud = claims.aud === undefined ? [] : Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const audiences = wanted.filter((a) => aud.includes(a));
    if (!audiences.length) return undefined;
    const now = Date.now();
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= now) return undefined;
    if (typeof claims.nbf === 'number' && claims.nbf * 1000 > now + 1000) return undefined;
    const k8s = claims['kubernetes.io'];
    const ns = k8s.namespace;
    if (claims.sub !== serviceAccountUsername(ns, k8s.serviceaccount.name)) return undefined;
    const alive = (plural: string, namespace: string | undefined, ref: Ref | undefined): boolean => {
      if (!ref) return true;
      const o = this.lookup(plural, namespace, ref.name);
      if (!o || o.metadata.uid !== ref.uid) return false;
      const deleting = o.metadata.deletionTimestamp;
      return !deleting || Date.parse(deleting) > now - DELETION_GRACE_MS;
    };
    if (
      !alive('serviceaccounts', ns, k8s.serviceaccount) ||
      !alive('pods', ns, k8s.pod) ||
      !alive('secrets', ns, k8s.secret)
    )
      return undefined;
    const user: UserInfo = {
      name: serviceAccountUsername(ns, k8s.serviceaccount.name),
      uid: k8s.serviceaccount.uid,
      groups: serviceAccountGroups(ns),
    };
    return { user, audiences };
  }

  /** The claims of a token this server signed (for any audience: callers check `aud`), or undefined. */
  async verify(token: string): Promise<TokenClaims | undefined> {
    const cached = this.verified.get(token);
    if (cached) return cached;
    // Cheap rejection of what is not a JWT of this key (join tokens, other issuers' JWTs).
    if (token.split('.').length !== 3) return undefined;
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg !== this.keys.alg || (header.kid !== undefined && header.kid !== this.keys.kid)) return undefined;
      // Another issuer's token (a legacy one, signed with the same key) needs no signature check here.
      if (decodeJwt(token).iss !== this.issuer) return undefined;
      const { payload } = await jwtVerify(token, this.keys.publicKey, {
        issuer: this.issuer,
        algorithms: [this.keys.alg],
      });
      const k8s = (payload as any)['kubernetes.io'];
      if (
        !k8s ||
        typeof k8s.namespace !== 'string' ||
        typeof k8s.serviceaccount?.name !== 'string' ||
        typeof k8s.serviceaccount?.uid !== 'string'
      )
        return undefined;
      this.verified.set(token, payload as TokenClaims);
      return payload as TokenClaims;
    } catch {
      return undefined;
    }
  }
}
