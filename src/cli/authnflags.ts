// Authentication flags of `k8ts server`, spelled as kube-apiserver's (k3s passes them through
// --kube-apiserver-arg; here they are flags of their own): anonymous requests, the static token
// file, bootstrap tokens, OIDC and front proxies (request headers).
import type { Command } from 'commander';

export interface AuthenticationFlags {
  /** 'false' turns anonymous requests off (true when given bare). */
  anonymousAuth?: string | boolean;
  tokenAuthFile?: string;
  enableBootstrapTokenAuth?: string | boolean;
  oidcIssuerUrl?: string;
  oidcClientId?: string;
  oidcUsernameClaim?: string;
  oidcUsernamePrefix?: string;
  oidcGroupsClaim?: string;
  oidcGroupsPrefix?: string;
  oidcCaFile?: string;
  oidcSigningAlgs?: string;
  oidcRequiredClaim?: string[];
  requestheaderClientCaFile?: string;
  requestheaderAllowedNames?: string[];
  requestheaderUsernameHeaders?: string[];
  requestheaderUidHeaders?: string[];
  requestheaderGroupHeaders?: string[];
  requestheaderExtraHeadersPrefix?: string[];
  proxyClientCertFile?: string;
  proxyClientKeyFile?: string;
}

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), ...v.split(',').filter(Boolean)];

export function addAuthenticationFlags(cmd: Command): Command {
  return cmd
    .option(
      '--anonymous-auth [bool]',
      'requests without credentials act as system:anonymous (group system:unauthenticated), authorized as such; false: 401',
      'true',
    )
    .option('--token-auth-file <file>', 'static bearer tokens: CSV lines token,user,uid,"group1,group2"')
    .option(
      '--enable-bootstrap-token-auth [bool]',
      'bearer tokens <id>.<secret> of bootstrap.kubernetes.io/token Secrets in kube-system authenticate',
      'true',
    )
    .option('--oidc-issuer-url <url>', 'OpenID Connect issuer (https) whose ID tokens authenticate')
    .option('--oidc-client-id <id>', 'the audience OIDC ID tokens must be issued for')
    .option('--oidc-username-claim <claim>', 'claim naming the user', 'sub')
    .option(
      '--oidc-username-prefix <prefix>',
      "prefix of OIDC usernames (default '<issuer-url>#' unless the claim is email; '-' for none)",
    )
    .option('--oidc-groups-claim <claim>', "claim with the user's groups (a string or a list)")
    .option('--oidc-groups-prefix <prefix>', 'prefix of OIDC group names')
    .option('--oidc-ca-file <file>', "CAs that verify the OIDC issuer's certificate (default: the system's)")
    .option('--oidc-signing-algs <algs>', 'accepted signing algorithms, comma-separated', 'RS256')
    .option(
      '--oidc-required-claim <key=value>',
      'a claim every OIDC token must carry with this value (repeatable)',
      collect,
      [],
    )
    .option(
      '--requestheader-client-ca-file <file>',
      "CAs of front-proxy client certificates whose requests name their user in headers (default: the server's own request-header CA)",
    )
    .option(
      '--requestheader-allowed-names <names>',
      'common names front-proxy certificates may carry, comma-separated (empty with a CA file: any; default system:auth-proxy)',
      collect,
    )
    .option('--requestheader-username-headers <headers>', 'headers naming the user (default X-Remote-User)', collect)
    .option('--requestheader-uid-headers <headers>', "headers carrying the user's UID", collect)
    .option(
      '--requestheader-group-headers <headers>',
      "headers carrying the user's groups (default X-Remote-Group)",
      collect,
    )
    .option(
      '--requestheader-extra-headers-prefix <prefixes>',
      'prefixes of headers carrying extra user attributes (default X-Remote-Extra-)',
      collect,
    )
    .option('--proxy-client-cert-file <file>', "the aggregator's client certificate towards extension API servers")
    .option('--proxy-client-key-file <file>', 'the key of --proxy-client-cert-file');
}
