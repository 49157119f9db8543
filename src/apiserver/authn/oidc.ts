// OpenID Connect ID tokens (--oidc-* flags, upstream's OIDC authenticator): the issuer's
// discovery document and JSON Web Key Set are fetched over HTTPS, tokens are checked for
// signature, issuer, audience (the client id) and lifetime by jose, and the user is read from
// the configured claims with the configured prefixes.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import {
  type JSONWebKeySet,
  type JWTPayload,
  createLocalJWKSet,
  decodeJwt,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import type { TokenAuthenticator, UserInfo } from './types.js';

export interface OIDCOptions {
  /** --oidc-issuer-url: https only; tokens must carry exactly this iss. */
  issuerURL: string;
  /** --oidc-client-id: the audience tokens must be issued for. */
  clientID: string;
  /** --oidc-username-claim (default sub). */
  usernameClaim?: string;
  /** --oidc-username-prefix: default `<issuer>#` unless the claim is email; `-` for none. */
  usernamePrefix?: string;
  /** --oidc-groups-claim: a string or an array of strings (default: no groups). */
  groupsClaim?: string;
  /** --oidc-groups-prefix. */
  groupsPrefix?: string;
  /** --oidc-ca-file: PEM CAs that verify the issuer (default: the system's). */
  caFile?: string;
  /** --oidc-signing-algs (default RS256). */
  signingAlgs?: string[];
  /** --oidc-required-claim key=value pairs every token must carry. */
  requiredClaims?: Record<string, string>;
}

/** The checks upstream's flag validation makes; returns the error messages. */
export function validateOIDCOptions(o: Partial<OIDCOptions>): string[] {
  const errs: string[] = [];
  if (!!o.issuerURL !== !!o.clientID) errs.push('oidc-issuer-url and oidc-client-id must be specified together');
  if (o.issuerURL) {
    let url: URL | undefined;
    try {
      url = new URL(o.issuerURL);
    } catch {
      errs.push(`oidc-issuer-url (${o.issuerURL}) is not a valid URL`);
    }
    if (url && url.protocol !== 'https:') errs.push(`oidc-issuer-url (${o.issuerURL}) must use https scheme`);
  }
  return errs;
}

/** The prefix of usernames, as upstream defaults it for the legacy flags. */
export function oidcUsernamePrefix(o: Pick<OIDCOptions, 'issuerURL' | 'usernameClaim' | 'usernamePrefix'>): string {
  if (o.usernamePrefix === '-') return '';
  if (!o.usernamePrefix && (o.usernameClaim ?? 'sub') !== 'email') return `${o.issuerURL}#`;
  return o.usernamePrefix ?? '';
}

/** GETs a JSON document over HTTPS with the given CAs; refuses anything but a 200 under 1 MiB. */
export function fetchJSON(url: string, ca?: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, timeout: 10_000, headers: { Accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 1 << 20) req.destroy(new Error(`${url}: response too large`));
        else chunks.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${url}: ${res.statusCode} ${res.statusMessage ?? ''}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reject(new Error(`${url}: not JSON: ${(err as Error).message}`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
  });
}

/** Fetched keys are refreshed at most this often when a token names a key not in the set. */
const KEY_REFRESH_MIN_INTERVAL_MS = 10_000;

type KeyResolver = ReturnType<typeof createLocalJWKSet>;

export class OIDCAuthenticator implements TokenAuthenticator {
  private readonly ca?: string;
  private readonly usernamePrefix: string;
  private keys?: Promise<KeyResolver>;
  private fetchedAt = 0;

  constructor(private readonly opts: OIDCOptions) {
    this.ca = opts.caFile ? readFileSync(opts.caFile, 'utf8') : undefined;
    this.usernamePrefix = oidcUsernamePrefix(opts);
  }

  /** Start fetching the issuer's keys now rather than at the first token. */
  prefetch(): void {
    this.keySet().catch(() => {});
  }

  async authenticate(token: string): Promise<UserInfo | undefined> {
    if (token.split('.').length !== 3) return undefined;
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      return undefined;
    }
    // Another issuer's token (a service account's, say) is not ours to judge.
    if (unverified.iss !== this.opts.issuerURL) return undefined;
    return this.userOf(await this.verify(token));
  }

  private async verify(token: string): Promise<JWTPayload> {
    const options = {
      issuer: this.opts.issuerURL,
      audience: this.opts.clientID,
      algorithms: this.opts.signingAlgs?.length ? this.opts.signingAlgs : ['RS256'],
    };
    try {
      return (await jwtVerify(token, await this.keySet(), options)).payload;
    } catch (err) {
      // The issuer may have rotated its keys: fetch them again (not more than every 10 s).
      if (!(err instanceof joseErrors.JWKSNoMatchingKey) || Date.now() - this.fetchedAt < KEY_REFRESH_MIN_INTERVAL_MS)
        throw err;
      this.keys = undefined;
      return (await jwtVerify(token, await this.keySet(), options)).payload;
    }
  }

  private userOf(claims: JWTPayload): UserInfo {
    const claim = this.opts.usernameClaim ?? 'sub';
    const name = claims[claim];
    if (typeof name !== 'string' || !name)
      throw new Error(`oidc: parse username claims "${claim}": missing or not a string`);
    // https://openid.net/specs/openid-connect-core-1_0.html#StandardClaims: an unverified email names nobody.
    if (claim === 'email' && 'email_verified' in claims && claims.email_verified !== true)
      throw new Error('oidc: email not verified');
    for (const [k, v] of Object.entries(this.opts.requiredClaims ?? {}))
      if (claims[k] !== v) throw new Error(`oidc: required claim ${k} not present or not ${v}`);
    const groups: string[] = [];
    if (this.opts.groupsClaim && claims[this.opts.groupsClaim] !== undefined) {
      const g = claims[this.opts.groupsClaim];
      const list = typeof g === 'string' ? [g] : g;
      if (!Array.isArray(list) || !list.every((x) => typeof x === 'string'))
        throw new Error(`oidc: parse groups claim "${this.opts.groupsClaim}": not a string or an array of strings`);
      for (const x of list) groups.push((this.opts.groupsPrefix ?? '') + x);
    }
    const user: UserInfo = { name: this.usernamePrefix + name, groups };
    return user;
  }

  private keySet(): Promise<KeyResolver> {
    if (!this.keys) {
      const fetching = this.fetchKeys();
      this.keys = fetching;
      // A failed fetch is tried again by the next token (not cached for ever).
      fetching.catch(() => {
        if (this.keys === fetching) this.keys = undefined;
      });
    }
    return this.keys;
  }

  private async fetchKeys(): Promise<KeyResolver> {
    this.fetchedAt = Date.now();
    const issuer = this.opts.issuerURL;
    const discovery = (await fetchJSON(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, this.ca)) as {
      issuer?: unknown;
      jwks_uri?: unknown;
    };
    if (discovery.issuer !== issuer)
      throw new Error(
        `oidc: issuer did not match the issuer returned by provider, expected "${issuer}" got "${String(discovery.issuer)}"`,
      );
    if (typeof discovery.jwks_uri !== 'string') throw new Error('oidc: discovery document has no jwks_uri');
    const jwks = (await fetchJSON(discovery.jwks_uri, this.ca)) as JSONWebKeySet;
    return createLocalJWKSet(jwks);
  }
}
