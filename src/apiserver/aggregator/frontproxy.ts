// The front-proxy (request header) identity the API server presents to extension API servers:
// a client certificate signed by its own CA, separate from the cluster CA, so that only the
// aggregator (never an ordinary client certificate) can assert a user in X-Remote-* headers.
// Extension servers learn how to trust it from kube-system/extension-apiserver-authentication,
// which upstream's cluster authentication trust controller publishes with these keys.
import type { ConfigMap } from 'kubernetes-types/core/v1.js';
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

/** request-header-ca.{crt,key} and client-auth-proxy.{crt,key} in the TLS dir (k3s's names). */
export async function loadOrCreateFrontProxy(tlsDir: string): Promise<FrontProxy> {
  const ca = await loadOrCreateCA(tlsDir, 'k8ts-request-header-ca', 'request-header-ca');
  const client = await loadOrIssue(ca, tlsDir, 'client-auth-proxy', { commonName: FRONT_PROXY_USER, client: true });
  return { caPem: ca.certPem, client };
}

export const AUTHENTICATION_CONFIGMAP = 'extension-apiserver-authentication';

/** The data upstream publishes: both client CAs and how request headers are to be read. */
export function authenticationConfigData(clientCAPem: string, frontProxy: FrontProxy): Record<string, string> {
  return {
    'client-ca-file': clientCAPem,
    'requestheader-client-ca-file': frontProxy.caPem,
    'requestheader-allowed-names': JSON.stringify([FRONT_PROXY_USER]),
    'requestheader-username-headers': JSON.stringify([USERNAME_HEADER]),
    'requestheader-group-headers': JSON.stringify([GROUP_HEADER]),
    'requestheader-extra-headers-prefix': JSON.stringify([EXTRA_HEADER_PREFIX]),
  };
}

/** Create or bring up to date kube-system/extension-apiserver-authentication. */
export async function publishAuthenticationConfig(configMaps: Store, data: Record<string, string>): Promise<void> {
  const ctx = systemWriteContext();
  const current = configMaps.tryGet('kube-system', AUTHENTICATION_CONFIGMAP)?.obj as ConfigMap | undefined;
  if (!current) {
    const cm: ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: AUTHENTICATION_CONFIGMAP, namespace: 'kube-system' },
      data,
    };
    try {
      await configMaps.create(cm, ctx);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 409)) throw err;
    }
    return;
  }
  if (JSON.stringify(current.data ?? {}) === JSON.stringify(data)) return;
  await configMaps.update('kube-system', AUTHENTICATION_CONFIGMAP, (cur) => ({ ...(cur.obj as ConfigMap), data }), ctx);
}
