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

export const ANONYMOUS_USER = 'system:anonymous';
export const UNAUTHENTICATED_GROUP = 'system:unauthenticated';
export const AUTHENTICATED_GROUP = 'system:authenticated';
