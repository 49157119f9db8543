// One AdmissionReview round trip over HTTPS: the target resolved from the clientConfig, the CA
// bundle (or the system roots) verifying the server as `<service>.<namespace>.svc` or the URL's
// host, and a deadline after which the call is abandoned. Everything is asynchronous: a slow or
// dead webhook holds only the requests it was asked about. Failures are Errors worded as Go's
// HTTP client words them, which upstream quotes in its messages.
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { type PeerCertificate, checkServerIdentity } from 'node:tls';
import type { WebhookClientConfig } from 'kubernetes-types/admissionregistration/v1.js';
import { type StoreLookup, resolveService } from './service.js';

/** A webhook's answer is JSON of bounded size (the request's object is at most a few MiB too). */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface WebhookEndpoint {
  /** The URL as upstream shows it (a service's DNS name), with `?timeout=`. */
  url: URL;
  /** Where to connect, when that differs from the URL (a service's endpoint). */
  connect?: { host: string; port: number };
  ca?: string;
}

/** Go's Request.Timeout: whole seconds, rounded up. */
const timeoutParam = (ms: number) => `${Math.ceil(ms / 1000)}s`;

/** The endpoint of a clientConfig; throws an Error when a service cannot be resolved. */
export function endpointOf(config: WebhookClientConfig, stores: StoreLookup, timeoutMs: number): WebhookEndpoint {
  const ca = config.caBundle ? Buffer.from(config.caBundle, 'base64').toString('utf8') : undefined;
  let url: URL;
  let connect: WebhookEndpoint['connect'];
  if (config.url) url = new URL(config.url);
  else if (config.service) {
    const { namespace, name, path = '', port = 443 } = config.service;
    url = new URL(`https://${name}.${namespace}.svc:${port}${path.startsWith('/') ? path : `/${path}`}`);
    connect = resolveService(stores, namespace, name, port);
  } else throw new Error('no url or service in clientConfig');
  url.searchParams.set('timeout', timeoutParam(timeoutMs));
  return { url, connect, ca };
}

/** The URL as Go quotes it in errors (`Post "https://..."`). */
const postOf = (url: URL) => `Post ${JSON.stringify(url.toString())}`;

function transportError(ep: WebhookEndpoint, err: NodeJS.ErrnoException): Error {
  const post = postOf(ep.url);
  const host = ep.connect?.host ?? ep.url.hostname;
  const port = ep.connect?.port ?? (Number(ep.url.port) || 443);
  const addr = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return new Error(`${post}: dial tcp ${addr}: connect: connection refused`);
    case 'EHOSTUNREACH':
      return new Error(`${post}: dial tcp ${addr}: connect: no route to host`);
    case 'ECONNRESET':
      return new Error(`${post}: read tcp ${addr}: read: connection reset by peer`);
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return new Error(`${post}: tls: failed to verify certificate: x509: certificate signed by unknown authority`);
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return new Error(
        `${post}: tls: failed to verify certificate: x509: certificate is not valid for ${servername(ep)}`,
      );
    case 'CERT_HAS_EXPIRED':
      return new Error(`${post}: tls: failed to verify certificate: x509: certificate has expired or is not yet valid`);
    default:
      return new Error(`${post}: ${err.message}`);
  }
}

const servername = (ep: WebhookEndpoint) => ep.url.hostname.replace(/^\[|\]$/g, '');

/** SNI and the name checked: the URL's host, a service's DNS name (whatever address was dialled). */
function tlsOptions(ep: WebhookEndpoint): https.RequestOptions {
  const name = servername(ep);
  const out: https.RequestOptions = {};
  if (ep.ca) out.ca = ep.ca;
  // SNI carries host names only, never addresses.
  if (!isIP(name)) out.servername = name;
  if (ep.connect) out.checkServerIdentity = (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert);
  return out;
}

/**
 * Connections are kept open between calls (as upstream's cached webhook clients do): a TLS
 * handshake per admitted write would cost more than the call. The pool is keyed by address
 * and TLS options (CA, server name), so a connection is only reused for the same verification.
 */
const keepAlive = new https.Agent({ keepAlive: true, scheduling: 'lifo' });

/** POST the review; resolves to the decoded JSON answer or rejects with an Error to quote. */
export function postReview(ep: WebhookEndpoint, review: unknown, timeoutMs: number): Promise<unknown> {
  if (ep.url.protocol !== 'https:')
    return Promise.reject(new Error(`${postOf(ep.url)}: webhooks are called over HTTPS only`));
  const body = JSON.stringify(review);
  return new Promise((resolve, reject) => {
    let settled = false;
    let current: ReturnType<typeof https.request> | undefined;
    const finish = (err: Error | undefined, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => {
      finish(new Error(`${postOf(ep.url)}: context deadline exceeded`));
      current?.destroy();
    }, timeoutMs);
    const send = (mayRetry: boolean) => {
      const req = https.request(
        {
          method: 'POST',
          host: ep.connect?.host ?? servername(ep),
          port: ep.connect?.port ?? (Number(ep.url.port) || 443),
          path: `${ep.url.pathname}${ep.url.search}`,
          ...tlsOptions(ep),
          agent: keepAlive,
          headers: {
            host: ep.url.host,
            'content-type': 'application/json',
            accept: 'application/json, */*',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => readAnswer(ep, req, res, finish),
      );
      current = req;
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive connection the server closed as it was reused: once more on a new one.
        if (mayRetry && req.reusedSocket && err.code === 'ECONNRESET' && !settled) return send(false);
        finish(transportError(ep, err));
      });
      req.end(body);
    };
    send(true);
  });
}

function readAnswer(
  ep: WebhookEndpoint,
  req: ReturnType<typeof https.request>,
  res: IncomingMessage,
  finish: (err: Error | undefined, value?: unknown) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (d: Buffer) => {
    size += d.length;
    if (size > MAX_RESPONSE_BYTES) {
      req.destroy();
      finish(new Error(`${postOf(ep.url)}: response larger than ${MAX_RESPONSE_BYTES} bytes`));
    } else chunks.push(d);
  });
  res.on('error', (err: NodeJS.ErrnoException) => finish(transportError(ep, err)));
  res.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) return finish(statusError(status, text));
    try {
      finish(undefined, JSON.parse(text));
    } catch (err) {
      finish(new Error(`${postOf(ep.url)}: ${(err as Error).message}`));
    }
  });
}

/** A non-2xx answer: its Status message when it sent one, else Go's generic client error. */
function statusError(status: number, text: string): Error {
  try {
    const s = JSON.parse(text) as { kind?: string; message?: string };
    if (s.kind === 'Status' && s.message) return new Error(s.message);
  } catch {
    // not JSON: fall through
  }
  const shown = text.trim() ? `(${JSON.stringify(text.trim().slice(0, 256))}) ` : '';
  return new Error(`an error on the server ${shown}has prevented the request from succeeding (status ${status})`);
}
