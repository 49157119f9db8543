// The authentication flags' values (authnflags.ts) turned into the API server's options; bad
// values fail here, naming the flag. Apart from the flag definitions so that `k8ts --help` loads
// no authenticator code.
import { type AuthenticationOptions, type OIDCOptions, validateOIDCOptions } from '../apiserver/authn/index.js';
import type { AuthenticationFlags } from './authnflags.js';

/** A [bool] flag: absent (the default), bare (true), or true/false. */
export function bool(v: string | boolean | undefined, flag: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new Error(`${flag}: want true or false, got ${String(v)}`);
}

export function anonymousAuthFromFlags(flags: AuthenticationFlags): boolean {
  return bool(flags.anonymousAuth, '--anonymous-auth', true);
}

export function authenticationFromFlags(flags: AuthenticationFlags): AuthenticationOptions {
  const opts: AuthenticationOptions = {
    tokenAuthFile: flags.tokenAuthFile,
    bootstrapTokens: bool(flags.enableBootstrapTokenAuth, '--enable-bootstrap-token-auth', true),
  };
  if (flags.oidcIssuerUrl || flags.oidcClientId) {
    const requiredClaims: Record<string, string> = {};
    for (const kv of flags.oidcRequiredClaim ?? []) {
      const i = kv.indexOf('=');
      if (i <= 0) throw new Error(`--oidc-required-claim: want key=value, got ${JSON.stringify(kv)}`);
      requiredClaims[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const oidc: OIDCOptions = {
      issuerURL: flags.oidcIssuerUrl ?? '',
      clientID: flags.oidcClientId ?? '',
      usernameClaim: flags.oidcUsernameClaim,
      usernamePrefix: flags.oidcUsernamePrefix,
      groupsClaim: flags.oidcGroupsClaim,
      groupsPrefix: flags.oidcGroupsPrefix,
      caFile: flags.oidcCaFile,
      signingAlgs: flags.oidcSigningAlgs?.split(',').filter(Boolean),
      requiredClaims,
    };
    const errs = validateOIDCOptions(oidc);
    if (errs.length) throw new Error(errs.join('; '));
    opts.oidc = oidc;
  }
  opts.requestHeader = {
    clientCAFile: flags.requestheaderClientCaFile,
    allowedNames: flags.requestheaderAllowedNames,
    usernameHeaders: flags.requestheaderUsernameHeaders,
    uidHeaders: flags.requestheaderUidHeaders,
    groupHeaders: flags.requestheaderGroupHeaders,
    extraHeadersPrefix: flags.requestheaderExtraHeadersPrefix,
  };
  if (!!flags.proxyClientCertFile !== !!flags.proxyClientKeyFile)
    throw new Error('--proxy-client-cert-file and --proxy-client-key-file must be given together');
  if (flags.proxyClientCertFile && flags.proxyClientKeyFile)
    opts.proxyClient = { certFile: flags.proxyClientCertFile, keyFile: flags.proxyClientKeyFile };
  return opts;
}
