// What an authenticator gives the chain (chain.ts): one method per kind of credential.
import type { UserInfo } from '../user.js';

export type { UserInfo } from '../user.js';

/**
 * Authenticates a bearer token: the user it names, or undefined when this authenticator does
 * not accept it (not its kind of token, or one it knows to be invalid). The chain asks each in
 * turn; a token none accepts is answered 401, as upstream's bearer-token filter does.
 */
export interface TokenAuthenticator {
  authenticate(token: string): UserInfo | undefined | Promise<UserInfo | undefined>;
}

/**
 * A token authenticator that checks audiences itself (service-account JWTs carry `aud`): the
 * user and the audiences of `wanted` the token is good for, or undefined. Authenticators without
 * this are audience-agnostic: their tokens are good for the API server's own audiences only
 * (upstream's WrapAudienceAgnosticToken).
 */
export interface AudienceAwareTokenAuthenticator extends TokenAuthenticator {
  authenticateFor(
    token: string,
    wanted: string[],
  ): { user: UserInfo; audiences: string[] } | undefined | Promise<{ user: UserInfo; audiences: string[] } | undefined>;
}

export function isAudienceAware(a: TokenAuthenticator): a is AudienceAwareTokenAuthenticator {
  return typeof (a as Partial<AudienceAwareTokenAuthenticator>).authenticateFor === 'function';
}

export const ANONYMOUS_USER = 'system:anonymous';
export const UNAUTHENTICATED_GROUP = 'system:unauthenticated';
export const AUTHENTICATED_GROUP = 'system:authenticated';
