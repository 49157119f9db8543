// The authentication chain of every request, in upstream's order: the client certificate, then
// a bearer token offered to each token authenticator, then (with --anonymous-auth) the anonymous
// user for a request that carries no credentials at all. Credentials that are presented and
// fail never fall back to anonymous: they are a 401 (upstream's FailOnError union).
import type { IncomingMessage } from 'node:http';
import { type CertificateIdentity, certificateIdentity } from './x509.js';
import {
  ANONYMOUS_USER,
  AUTHENTICATED_GROUP,
  isAudienceAware,
  type TokenAuthenticator,
  UNAUTHENTICATED_GROUP,
  type UserInfo,
} from './types.js';

export interface Authenticated {
  user: UserInfo;
  /** No credentials were presented (the request is system:anonymous). */
  anonymous: boolean;
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const parts = header.split(' ');
  if (parts.length < 2 || parts[0].toLowerCase() !== 'bearer') return undefined;
  return parts[1] || undefined;
}

/** upstream's AuthenticatedGroupAdder: every authenticated user is in system:authenticated. */
function withAuthenticatedGroup(user: UserInfo): UserInfo {
  const groups = user.groups ?? [];
  if (groups.includes(AUTHENTICATED_GROUP) || groups.includes(UNAUTHENTICATED_GROUP)) return user;
  return { ...user, groups: [...groups, AUTHENTICATED_GROUP] };
}

export function anonymousUser(): UserInfo {
  return { name: ANONYMOUS_USER, groups: [UNAUTHENTICATED_GROUP] };
}

export class AuthenticatorChain {
  /** Bearer-token authenticators, asked in order (service accounts, token file, bootstrap, OIDC). */
  readonly tokens: TokenAuthenticator[] = [];
  /** The API server's own audiences (--api-audiences; the service-account issuer by default). */
  apiAudiences: string[] = [];

  constructor(
    /** --anonymous-auth: requests without credentials act as system:anonymous (default true). */
    public anonymous = true,
  ) {}

  /** The request's user, or undefined: answer 401. */
  async authenticate(req: IncomingMessage): Promise<Authenticated | undefined> {
    const cert: CertificateIdentity = certificateIdentity(req);
    // (A copy: the identity is the connection's, and a request's user may be changed downstream.)
    if (typeof cert === 'object') return { user: { name: cert.name, groups: [...cert.groups] }, anonymous: false };
    const token = bearerToken(req.headers.authorization);
    if (token !== undefined) {
      const user = await this.authenticateToken(token);
      return user ? { user, anonymous: false } : undefined;
    }
    if (cert === 'invalid' || !this.anonymous) return undefined;
    return { user: anonymousUser(), anonymous: true };
  }

  /** A bearer token's user (with system:authenticated), or undefined when no authenticator accepts it. */
  async authenticateToken(token: string): Promise<UserInfo | undefined> {
    for (const a of this.tokens) {
      let user: UserInfo | undefined;
      try {
        user = await a.authenticate(token);
      } catch {
        // One authenticator's failure (an OIDC issuer unreachable) is not the others': as
        // upstream's union, go on; a token nobody accepts is a 401.
        continue;
      }
      if (user) return withAuthenticatedGroup(user);
    }
    return undefined;
  }

  /**
   * A TokenReview's question: whom does this token name, for which of `audiences` (none: the
   * API server's own)? The audiences answered are those of the request the token is good for.
   */
  async reviewToken(token: string, audiences?: string[]): Promise<{ user: UserInfo; audiences: string[] } | undefined> {
    const wanted = audiences?.length ? audiences : this.apiAudiences;
    // What an audience-agnostic token is good for: the API server's audiences that were asked for.
    const agnostic = wanted.filter((a) => this.apiAudiences.includes(a));
    for (const a of this.tokens) {
      try {
        if (isAudienceAware(a)) {
          const r = await a.authenticateFor(token, wanted);
          if (r) return { user: withAuthenticatedGroup(r.user), audiences: r.audiences };
        } else if (agnostic.length || !wanted.length) {
          const user = await a.authenticate(token);
          if (user) return { user: withAuthenticatedGroup(user), audiences: agnostic };
        }
      } catch {
        continue;
      }
    }
    return undefined;
  }
}
