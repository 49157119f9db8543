// How the API server reaches an extension API server registered by an APIService: a ready
// endpoint of its Service (resolved as for webhooks), over TLS verified with the APIService's
// caBundle against `<service>.<namespace>.svc` (or not verified: insecureSkipTLSVerify),
// presenting the front-proxy client certificate, with the user in X-Remote-* headers (client-go's
// SetAuthProxyHeaders). Errors are worded as Go's HTTP client words them.
import https from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { type PeerCertificate, checkServerIdentity } from 'node:tls';
import type { APIService } from '../../api/apiregistration/v1/index.js';
import type { KeyPair } from '../../machinery/pki.js';
import type { UserInfo } from '../user.js';
import { type ServiceAddress, type StoreLookup, resolveService } from '../admission/webhook/service.js';
import { EXTRA_HEADER_PREFIX, GROUP_HEADER, USERNAME_HEADER } from './frontproxy.js';

/** What the proxy needs of one remote APIService (spec.service set). */
export interface RemoteAPIService {
  name: string;
  group: string;
  version: string;
  namespace: string;
  service: string;
  port: number;
  caBundle?: string;
  insecureSkipTLSVerify: boolean;
  groupPriorityMinimum: number;
  versionPriority: number;
  /** Its Available condition is True (the proxy refuses with 503 otherwise, as upstream's). */
  available: boolean;
}

export function remoteOf(o: APIService): RemoteAPIService | undefined {
  const svc = o.spec?.service;
  if (!svc?.name || !svc.namespace) return undefined;
  return {
    name: o.metadata.name ?? '',
    group: o.spec?.group ?? '',
    version: o.spec?.version ?? '',
    namespace: svc.namespace,
    service: svc.name,
    port: svc.port ?? 443,
    caBundle: o.spec?.caBundle ? Buffer.from(o.spec.caBundle, 'base64').toString('utf8') : undefined,
    insecureSkipTLSVerify: !!o.spec?.insecureSkipTLSVerify,
    groupPriorityMinimum: o.spec?.groupPriorityMinimum ?? 0,
    versionPriority: o.spec?.versionPriority ?? 0,
    available: (o.status?.conditions ?? []).some((c) => c.type === 'Available' && c.status === 'True'),
  };
}

/** The name the remote's serving certificate must carry (BuildTransportConfig's ServerName). */
export const serverNameOf = (r: RemoteAPIService) => `${r.service}.${r.namespace}.svc`;

/** Where to connect now; throws an Error saying why the Service cannot be reached. */
export function locate(r: RemoteAPIService, stores: StoreLookup): ServiceAddress {
  return resolveService(stores, r.namespace, r.service, r.port);
}

export const hostPort = ({ host, port }: ServiceAddress) =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

/**
 * Connections stay open between requests. Node keys its pool by address and TLS options (CA,
 * server name, client certificate, verification), so a connection is only reused for the same
 * APIService settings.
 */
const agent = new https.Agent({ keepAlive: true, scheduling: 'lifo' });

export function tlsOptions(r: RemoteAPIService, client: KeyPair): https.RequestOptions {
  const name = serverNameOf(r);
  const out: https.RequestOptions = { cert: client.certPem, key: client.keyPem, servername: name, agent };
  if (r.insecureSkipTLSVerify) out.rejectUnauthorized = false;
  else {
    // No caBundle: the system roots, as Go's transport uses them.
    if (r.caBundle) out.ca = r.caBundle;
    out.checkServerIdentity = (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert);
  }
  return out;
}

/** client-go's headerKeyEscape: bytes outside an HTTP token, and '%', are %-encoded. */
function headerKeyEscape(key: string): string {
  let out = '';
  for (const b of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9!#$&'*+\-.^_`|~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The headers naming `user` (SetAuthProxyHeaders); a client's own X-Remote-* headers never get through. */
export function identityHeaders(user: UserInfo): [string, string][] {
  const out: [string, string][] = [[USERNAME_HEADER, user.name]];
  for (const g of user.groups) out.push([GROUP_HEADER, g]);
  for (const [key, values] of Object.entries(user.extra ?? {}))
    for (const v of values) out.push([EXTRA_HEADER_PREFIX + headerKeyEscape(key), v]);
  return out;
}

export const isIdentityHeader = (name: string) => /^x-remote-(user|uid|group|extra-.*)$/i.test(name);

/** Go's net/http error text for a failed dial or read, as upstream's messages quote it. */
export function transportErrorText(addr: ServiceAddress, err: NodeJS.ErrnoException): string {
  const a = hostPort(addr);
  switch (err.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${a}: connect: connection refused`;
    case 'EHOSTUNREACH':
      return `dial tcp ${a}: connect: no route to host`;
    case 'ECONNRESET':
      return `read tcp ${a}: read: connection reset by peer`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `tls: failed to verify certificate: ${err.message}`;
    default:
      return err.message;
  }
}

/** Headers for a request the API server makes itself (availability check, discovery, OpenAPI). */
function ownRequestHeaders(user: UserInfo, accept: string): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { accept };
  for (const [k, v] of identityHeaders(user)) {
    const prev = headers[k];
    headers[k] = prev === undefined ? v : ([] as string[]).concat(prev as string | string[], v);
  }
  return headers;
}

export interface FetchResult {
  status: number;
  contentType: string;
  body: Buffer;
}

/** A document at most this big is read from a remote (discovery, OpenAPI). */
const MAX_DOCUMENT_BYTES = 32 * 1024 * 1024;

/**
 * GET `path` from the remote with a deadline: rejects with Go's `Get "URL": ...` wording. The
 * URL shown is the endpoint dialled, as upstream's discovery check shows it.
 */
export function fetchRemote(
  r: RemoteAPIService,
  addr: ServiceAddress,
  client: KeyPair,
  path: string,
  user: UserInfo,
  timeoutMs: number,
  accept = 'application/json',
): Promise<FetchResult> {
  const url = `https://${hostPort(addr)}${path}`;
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: Error, value?: FetchResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value!);
    };
    const req = https.request(
      {
        method: 'GET',
        host: addr.host,
        port: addr.port,
        path,
        headers: ownRequestHeaders(user, accept),
        ...tlsOptions(r, client),
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > MAX_DOCUMENT_BYTES) {
            req.destroy();
            finish(new Error(`Get ${JSON.stringify(url)}: response larger than ${MAX_DOCUMENT_BYTES} bytes`));
          } else chunks.push(d);
        });
        res.on('error', (err: NodeJS.ErrnoException) =>
          finish(new Error(`Get ${JSON.stringify(url)}: ${transportErrorText(addr, err)}`)),
        );
        res.on('end', () =>
          finish(undefined, {
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish(
        new Error(
          `Get ${JSON.stringify(url)}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
        ),
      );
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) =>
      finish(new Error(`Get ${JSON.stringify(url)}: ${transportErrorText(addr, err)}`)),
    );
    req.end();
  });
}
