// Requests for a remote APIService's group version, passed to its extension API server as
// kube-aggregator's proxyHandler does: after authentication and authorization here, with the
// client's credentials removed and the user asserted in X-Remote-* headers under the front-proxy
// certificate. Bodies stream both ways (a watch is passed on as it arrives). An APIService that
// is not Available, or whose Service has no endpoint, is answered 503 "service unavailable" in
// plain text; a backend that can't be reached, 503 with Go's error text (upstream's responder).
import https from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { KeyPair } from '../../machinery/pki.js';
import type { UserInfo } from '../user.js';
import type { StoreLookup } from '../admission/webhook/service.js';
import type { ServiceAddress } from '../admission/webhook/service.js';
import { HOP_BY_HOP, connectionTokens, forwardedHeaders } from '../proxy/forward.js';
import {
  type RemoteAPIService,
  identityHeaders,
  isIdentityHeader,
  locate,
  tlsOptions,
  transportErrorText,
} from './remote.js';

/** http.Error: a plain-text answer (kubectl shows it as "the server is currently unable to handle the request"). */
export function plainError(res: ServerResponse, code: number, text: string): void {
  if (res.headersSent) return void res.destroy();
  const body = `${text}\n`;
  res.writeHead(code, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function requestHeaders(req: IncomingMessage, path: string, user: UserInfo, addr: ServiceAddress): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  const add = (k: string, v: string) => {
    const prev = headers[k];
    headers[k] = prev === undefined ? v : ([] as string[]).concat(prev as string | string[], v);
  };
  for (const [k, v] of forwardedHeaders(req, path, false)) if (!isIdentityHeader(k)) add(k, v);
  for (const [k, v] of identityHeaders(user)) add(k, v);
  headers.host = addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
  return headers;
}

export interface ProxyDeps {
  stores: StoreLookup;
  client: KeyPair;
  /** A connection to the backend failed: its availability is worth checking again now. */
  unreachable(r: RemoteAPIService): void;
}

/** Pass one request on; resolves once the answer has been passed back (or the client left). */
export function proxyToRemote(
  deps: ProxyDeps,
  r: RemoteAPIService,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: string,
  user: UserInfo,
): Promise<void> {
  if (!r.available) return Promise.resolve(plainError(res, 503, 'service unavailable'));
  let addr: ServiceAddress;
  try {
    addr = locate(r, deps.stores);
  } catch {
    return Promise.resolve(plainError(res, 503, 'service unavailable'));
  }
  return new Promise<void>((resolve) => {
    const up = https.request({
      method: req.method,
      host: addr.host,
      port: addr.port,
      path: path + (query ? `?${query}` : ''),
      headers: requestHeaders(req, path, user, addr),
      ...tlsOptions(r, deps.client),
    });
    up.once('error', (err: NodeJS.ErrnoException) => {
      if (!res.headersSent) {
        deps.unreachable(r);
        plainError(res, 503, transportErrorText(addr, err));
      } else res.destroy();
      resolve();
    });
    let answered = false;
    // The client went away (or a watch was ended at shutdown): so does the backend request
    // (a completed one keeps its connection for the next request).
    res.once('close', () => {
      if (!answered) up.destroy();
      resolve();
    });
    up.once('response', (ur) => {
      const listed = connectionTokens(ur.headers);
      const out: OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(ur.headers))
        if (v !== undefined && !HOP_BY_HOP.has(k) && !listed.has(k)) out[k] = v;
      res.writeHead(ur.statusCode ?? 502, out);
      // Headers now, not with the first chunk: a watch with no events yet is still answered.
      res.flushHeaders();
      ur.pipe(res);
      ur.once('end', () => {
        answered = true;
        resolve();
      });
      ur.once('error', () => {
        res.destroy();
        resolve();
      });
    });
    req.pipe(up);
  });
}
