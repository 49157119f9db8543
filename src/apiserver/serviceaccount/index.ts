// Service-account tokens in the API server: the TokenRequest subresource, the bearer-token
// authenticator, and the ServiceAccount admission plugin's strict mode (pods naming a service
// account that does not exist are refused, as upstream), wired in by one call before start().
import type { ServingApi } from '../serving.js';
import type { UserInfo } from '../user.js';
import type { AdmissionChain } from '../admission/interfaces.js';
import { ServiceAccountAdmission } from '../admission/serviceaccount.js';
import type { ServiceAccountKeys } from './keys.js';
import { registerTokenRequest } from './tokenrequest.js';
import { ServiceAccountTokenAuthenticator, TokenIssuer, defaultIssuer } from './tokens.js';
import { LegacyTokenAuthenticator } from './legacy.js';

export * from './keys.js';
export * from './tokens.js';
export * from './legacy.js';
export { createToken, registerTokenRequest, type TokenRequestOptions } from './tokenrequest.js';

/** What of the API server this needs (ApiServer has all of it). */
export interface ServiceAccountHost extends ServingApi {
  readonly tokenAuthenticators: { authenticate(token: string): UserInfo | undefined | Promise<UserInfo | undefined> }[];
  /** The chain whose audiences TokenReview defaults to. */
  readonly authentication?: { apiAudiences: string[] };
  readonly admission: AdmissionChain;
  readonly config: { cluster: { clusterDomain: string } };
}

export interface ServiceAccountTokenOptions {
  keys: ServiceAccountKeys;
  /** iss of issued tokens; default https://kubernetes.default.svc.<cluster domain>. */
  issuer?: string;
  /** Audiences the API server accepts (--api-audiences); default [issuer]. */
  apiAudiences?: string[];
  /** Refuse pods whose service account does not exist (upstream; default true). */
  requireServiceAccount?: boolean;
}

export interface ServiceAccountTokens {
  issuer: TokenIssuer;
  authenticator: ServiceAccountTokenAuthenticator;
  apiAudiences: string[];
}

export function installServiceAccountTokens(
  api: ServiceAccountHost,
  opts: ServiceAccountTokenOptions,
): ServiceAccountTokens {
  const iss = opts.issuer ?? defaultIssuer(api.config.cluster.clusterDomain);
  const apiAudiences = opts.apiAudiences?.length ? opts.apiAudiences : [iss];
  const issuer = new TokenIssuer(opts.keys, iss);
  registerTokenRequest(api, { issuer, apiAudiences, admission: api.admission });
  const lookup = (plural: string, ns: string | undefined, name: string) => {
    try {
      return api.store('', plural).tryGet(ns, name)?.obj;
    } catch {
      return undefined;
    }
  };
  const authenticator = new ServiceAccountTokenAuthenticator(opts.keys, iss, apiAudiences, lookup);
  if (api.authentication) api.authentication.apiAudiences = apiAudiences;
  api.tokenAuthenticators.push(authenticator, new LegacyTokenAuthenticator(opts.keys, lookup));
  for (const p of api.admission.mutating)
    if (p instanceof ServiceAccountAdmission) p.requireServiceAccount = opts.requireServiceAccount ?? true;
  return { issuer, authenticator, apiAudiences };
}
