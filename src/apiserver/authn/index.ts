// Authentication: the chain every request passes (chain.ts) and the authenticators the server's
// flags add to it. Service-account tokens are added by ../serviceaccount (they share its keys).
import type { Secret } from 'kubernetes-types/core/v1.js';
import type { Store } from '../store.js';
import type { AuthenticatorChain } from './chain.js';
import { BOOTSTRAP_NAMESPACE, BootstrapTokenAuthenticator } from './bootstrap.js';
import { OIDCAuthenticator, type OIDCOptions } from './oidc.js';
import { TokenFileAuthenticator } from './tokenfile.js';
import type { RequestHeaderSettings } from './requestheader.js';

export * from './types.js';
export * from './chain.js';
export * from './bootstrap.js';
export * from './oidc.js';
export * from './tokenfile.js';
export * from './tokenreview.js';
export * from './requestheader.js';

export interface AuthenticationOptions {
  /** --token-auth-file. */
  tokenAuthFile?: string;
  /** --enable-bootstrap-token-auth. */
  bootstrapTokens?: boolean;
  /** --oidc-*: set when --oidc-issuer-url is. */
  oidc?: OIDCOptions;
  /** --requestheader-*: front-proxy authentication (the server's assembly installs it with the TLS trust). */
  requestHeader?: RequestHeaderSettings;
  /** --proxy-client-cert-file / --proxy-client-key-file: the aggregator's front-proxy identity. */
  proxyClient?: { certFile: string; keyFile: string };
  /** Where warnings about the token file go. */
  warn?: (msg: string) => void;
}

/** Add the flag-configured token authenticators to a server's chain (before it serves). */
export function installAuthenticators(
  api: { readonly authentication: AuthenticatorChain; tryStore(group: string, plural: string): Store | undefined },
  opts: AuthenticationOptions,
): void {
  const tokens = api.authentication.tokens;
  if (opts.tokenAuthFile) tokens.push(TokenFileAuthenticator.load(opts.tokenAuthFile, opts.warn));
  if (opts.bootstrapTokens) {
    tokens.push(
      new BootstrapTokenAuthenticator(
        (name) => api.tryStore('', 'secrets')?.tryGet(BOOTSTRAP_NAMESPACE, name)?.obj as Secret | undefined,
      ),
    );
  }
  if (opts.oidc) {
    const oidc = new OIDCAuthenticator(opts.oidc);
    oidc.prefetch();
    tokens.push(oidc);
  }
}
