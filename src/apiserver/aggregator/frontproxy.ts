// The front-proxy (request header) identity the API server presents to extension API servers:
// a client certificate signed by its own CA, separate from the cluster CA, so that only the
// aggregator (never an ordinary client certificate) can assert a user in X-Remote-* headers.
// Extension servers learn how to trust it from kube-system/extension-apiserver-authentication,
// which upstream's cluster authentication trust controller publishes with these keys; the API
// server itself accepts such front proxies too (authn/requestheader.ts).
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import { type RequestHeaderOptions, pemCertificates } from '../authn/requestheader.js';
import { type KeyPair, loadOrCreateCA, loadOrIssue } from '../../machinery/pki.js';
import type { Store } from '../store.js';
import { systemWriteContext } from '../bootstrap.js';
import { ApiError } from '../../machinery/errors.js';

/** The client certificate's common name, the one allowed name (k3s: system:auth-proxy). */
export const FRONT_PROXY_USER = 'system:auth-proxy';
export const USERNAME_HEADER = 'X-Remote-User';
export const GROUP_HEADER = 'X-Remote-Group';
export const EXTRA_HEADER_PREFIX = 'X-Remote-Extra-';

export interface FrontProxy {
  /** PEM of the request header CA (requestheader-client-ca-file). */
  caPem: string;
  client: KeyPair;
}

/**
 * request-header-ca.{crt,key} and client-auth-proxy.{crt,key} in the TLS dir (k3s's names); the
 * client is the one given instead (--proxy-client-cert-file/--proxy-client-key-file), if any.
 */
export async function loadOrCreateFrontProxy(
  tlsDir: string,
  proxyClient?: { certFile: string; keyFile: string },
): Promise<FrontProxy> {
  const ca = await loadOrCreateCA(tlsDir, 'k8ts-request-header-ca', 'request-header-ca');
  const client = proxyClient
    ? { certPem: readFileSync(proxyClient.certFile, 'utf8'), keyPem: readFileSync(proxyClient.keyFile, 'utf8') }
    : await loadOrIssue(ca, tlsDir, 'client-auth-proxy', { commonName: FRONT_PROXY_USER, client: true });
  return { caPem: ca.certPem, client };
}

export const AUTHENTICATION_CONFIGMAP = 'extension-apiserver-authentication';

/**
 * The data upstream's cluster authentication trust controller publishes: the client CA and the
 * request-header settings in force, joined with what the ConfigMap already holds (other API
 * servers' CAs and names stay; expired CAs go), lists as JSON.
 */
export function authenticationConfigData(
  clientCAPem: string,
  requestHeader: RequestHeaderOptions,
  existing: Record<string, string> = {},
): Record<string, string> {
  const list = (key: string, mine: string[]) => {
    let theirs: unknown;
    try {
      theirs = existing[key] ? JSON.parse(existing[key]) : [];
    } catch {
      theirs = [];
    }
    const all = [...(Array.isArray(theirs) ? theirs.filter((x): x is string => typeof x === 'string') : []), ...mine];
    return JSON.stringify([...new Set(all)]);
  };
  return {
    'client-ca-file': combineBundles(existing['client-ca-file'], clientCAPem),
    'requestheader-client-ca-file': combineBundles(existing['requestheader-client-ca-file'], requestHeader.clientCA),
    'requestheader-allowed-names': list('requestheader-allowed-names', requestHeader.allowedNames),
    'requestheader-username-headers': list('requestheader-username-headers', requestHeader.usernameHeaders),
    'requestheader-uid-headers': list('requestheader-uid-headers', requestHeader.uidHeaders),
    'requestheader-group-headers': list('requestheader-group-headers', requestHeader.groupHeaders),
    'requestheader-extra-headers-prefix': list('requestheader-extra-headers-prefix', requestHeader.extraHeaderPrefixes),
  };
}

/** Two PEM bundles as one: each certificate once, none expired more than five minutes ago. */
function combineBundles(existing: string | undefined, mine: string): string {
  const seen = new Set<string>();
  const out: string[] = [];
  const cutoff = Date.now() - 5 * 60_000;
  for (const pem of [...pemCertificates(existing ?? ''), ...pemCertificates(mine)]) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      continue;
    }
    if (seen.has(cert.fingerprint256) || Date.parse(cert.validTo) < cutoff) continue;
    seen.add(cert.fingerprint256);
    out.push(cert.toString().trim());
  }
  return out.map((c) => c + '\n').join('');
}

/** Create or bring up to date kube-system/extension-apiserver-authentication. */
export async function publishAuthenticationConfig(
  configMaps: Store,
  data: (existing: Record<string, string>) => Record<string, string>,
): Promise<void> {
  const ctx = systemWriteContext();
  const current = configMaps.tryGet('kube-system', AUTHENTICATION_CONFIGMAP)?.obj as ConfigMap | undefined;
  if (!current) {
    const cm: ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: AUTHENTICATION_CONFIGMAP, namespace: 'kube-system' },
      data: data({}),
    };
    try {
      await configMaps.create(cm, ctx);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 409)) throw err;
    }
    return;
  }
  const next = data(current.data ?? {});
  if (JSON.stringify(current.data ?? {}) === JSON.stringify(next)) return;
  await configMaps.update(
    'kube-system',
    AUTHENTICATION_CONFIGMAP,
    (cur) => {
      const cm = cur.obj as ConfigMap;
      return { ...cm, data: data(cm.data ?? {}) };
    },
    ctx,
  );
}
