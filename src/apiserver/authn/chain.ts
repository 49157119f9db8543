// The authentication chain of every request, in upstream's order: a front proxy's request
// headers (requestheader.ts), the client certificate, then
// a bearer token (the Authorization header, else a WebSocket's bearer subprotocol) offered to each
// token authenticator, then (with --anonymous-auth) the anonymous
// user for a request that carries no credentials at all. Credentials that are presented and
// fail never fall back to anonymous: they are a 401 (upstream's FailOnError union).
import type { IncomingMessage } from 'node:http';
import { type CertificateIdentity, type CertificateTrust, certificateIdentity } from './x509.js';
import { fingerprints, type RequestHeaderAuthenticator } from './requestheader.js';
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

const BEARER_PROTOCOL_PREFIX = 'base64url.bearer.authorization.k8s.io.';

/**
 * A WebSocket handshake's bearer token, carried as a `base64url.bearer.authorization.k8s.io.<token>`
 * subprotocol (browsers cannot set Authorization on a WebSocket), as upstream's websocket
 * ProtocolAuthenticator reads it: undefined when there is none; an Error when it is malformed,
 * repeated, or the only protocol offered (one must be left to echo back). `rest` is the offer
 * without it, to put back in the request once the token is accepted.
 */
export function websocketBearerToken(req: IncomingMessage): { token: string; rest: string[] } | Error | undefined {
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return undefined;
  const connection = req.headers.connection?.toLowerCase().split(',') ?? [];
  if (!connection.some((c) => c.trim() === 'upgrade')) return undefined;
  const raw = req.headers['sec-websocket-protocol'];
  if (!raw) return undefined;
  let token = '';
  let seen = false;
  const rest: string[] = [];
  for (const offered of raw.split(',')) {
    const protocol = offered.trim();
    if (!protocol.startsWith(BEARER_PROTOCOL_PREFIX)) {
      rest.push(protocol);
      continue;
    }
    if (seen) return new Error('multiple base64.bearer.authorization tokens specified');
    seen = true;
    const encoded = protocol.slice(BEARER_PROTOCOL_PREFIX.length);
    // base64url without padding (Go's RawURLEncoding): anything else is refused.
    if (!/^[A-Za-z0-9_-]*$/.test(encoded) || encoded.length % 4 === 1)
      return new Error('invalid base64.bearer.authorization token encoding');
    const bytes = Buffer.from(encoded, 'base64url');
    try {
      token = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return new Error('invalid base64.bearer.authorization token');
    }
  }
  if (token && rest.length === 0) return new Error('missing additional subprotocol');
  return token ? { token, rest } : undefined;
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
  /** Front-proxy authentication (--requestheader-*), set with trustRequestHeader. */
  requestHeader?: RequestHeaderAuthenticator;
  private certificateTrust?: CertificateTrust;

  constructor(
    /** --anonymous-auth: requests without credentials act as system:anonymous (default true). */
    public anonymous = true,
  ) {}

  /**
   * Accept front proxies of `requestHeader`'s CAs beside users of the cluster CA `clientCAPem`
   * (the listener must trust both: see ApiServer.start).
   */
  trustRequestHeader(requestHeader: RequestHeaderAuthenticator, clientCAPem: string): void {
    this.requestHeader = requestHeader;
    this.certificateTrust = { client: fingerprints(clientCAPem), requestHeader: requestHeader.trusted };
  }

  /** The request's user, or undefined: answer 401. */
  async authenticate(req: IncomingMessage): Promise<Authenticated | undefined> {
    const cert: CertificateIdentity = certificateIdentity(req, this.certificateTrust);
    if (typeof cert === 'object') {
      if (cert.proxy && this.requestHeader) {
        const user = this.requestHeader.authenticate(req, cert.proxy.commonName);
        if (user) return { user: withAuthenticatedGroup(user), anonymous: false };
      }
      // (A copy: the identity is the connection's, and a request's user may be changed downstream.)
      if (cert.user) return { user: { name: cert.user.name, groups: [...cert.user.groups] }, anonymous: false };
    }
    const token = bearerToken(req.headers.authorization);
    if (token !== undefined) {
      const user = await this.authenticateToken(token);
      return user ? { user, anonymous: false } : undefined;
    }
    const offered = websocketBearerToken(req);
    if (offered instanceof Error) return undefined;
    if (offered) {
      const user = await this.authenticateToken(offered.token);
      if (!user) return undefined;
      // The token never reaches the upgrade's handler (nor a node agent it is proxied to).
      req.headers['sec-websocket-protocol'] = offered.rest.join(',');
      return { user, anonymous: false };
    }
    // A certificate that stood for nobody here (a front proxy without a user header or not
    // allowed) fails the request as upstream's x509 verifier does: never anonymous.
    if (cert !== 'none' || !this.anonymous) return undefined;
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
