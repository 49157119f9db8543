// Passing a request on to a proxy backend as upstream's UpgradeAwareHandler (with its proxy
// Transport) does: the path after `/proxy` and the query go to the backend; hop-by-hop headers
// are dropped both ways, and so are the client's credentials (upstream's authentication filter
// removes Authorization, the impersonation filter the Impersonate-* headers); X-Forwarded-*
// headers say where the request came from; a redirect to the backend's own paths is rewritten to
// go through the proxy again; CORS headers of the backend are removed. A backend that can't be
// reached is a 503 "error trying to reach service". Upgrade requests (WebSocket) are replayed
// byte for byte with the same headers.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import * as errors from '../../machinery/errors.js';
import { proxyUpgrade, writeRawResponse } from '../../machinery/upgradeproxy.js';
import { sendError } from '../http.js';
import type { ProxyLocation } from './location.js';
import { MAX_REWRITE_BYTES, rewritable, rewriteBody } from './html.js';

export const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
const CREDENTIALS = /^(authorization|impersonate-.*)$/i;
const CORS = new Set([
  'access-control-allow-credentials',
  'access-control-allow-headers',
  'access-control-allow-methods',
  'access-control-allow-origin',
]);

/** Header names a message's Connection header declares hop-by-hop. */
export function connectionTokens(headers: http.IncomingHttpHeaders): Set<string> {
  const v = headers.connection;
  return new Set(
    (Array.isArray(v) ? v.join(',') : (v ?? ''))
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}

/** The Host the client asked for: HTTP/2 carries it as the `:authority` pseudo-header. */
function requestHost(req: IncomingMessage): string | undefined {
  const authority = req.headers[':authority'];
  return req.headers.host ?? (typeof authority === 'string' ? authority : undefined);
}

/** What the backend gets of the request's headers: end-to-end ones without credentials, plus X-Forwarded-*. */
export function forwardedHeaders(req: IncomingMessage, originalPath: string, keepUpgrade: boolean): [string, string][] {
  const listed = connectionTokens(req.headers);
  const out: [string, string][] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    // HTTP/2's pseudo-headers (:method, :path, :authority, :scheme) are not headers of an HTTP/1.1 request.
    if (name.startsWith(':') || name === 'host' || CREDENTIALS.test(name) || name.startsWith('x-forwarded-')) continue;
    const upgradeHeader = name === 'connection' || name === 'upgrade';
    if ((HOP_BY_HOP.has(name) || listed.has(name)) && !(keepUpgrade && upgradeHeader)) continue;
    out.push([raw[i], raw[i + 1]]);
  }
  const prior = req.headers['x-forwarded-for'];
  const client = req.socket.remoteAddress ?? '';
  out.push(['X-Forwarded-For', prior ? `${String(prior)}, ${client}` : client]);
  out.push(['X-Forwarded-Uri', originalPath]);
  const host = requestHost(req);
  if (host) out.push(['X-Forwarded-Host', host]);
  out.push(['X-Forwarded-Proto', 'https']);
  return out;
}

const hostPort = (loc: ProxyLocation) => {
  const host = net.isIPv6(loc.host) ? `[${loc.host}]` : loc.host;
  return loc.port ? `${host}:${loc.port}` : host;
};

const defaultPort = (loc: ProxyLocation) => loc.port ?? (loc.scheme === 'https' ? 443 : 80);

/**
 * Upstream's rewriteURL for a Location header: a redirect to an absolute path on the backend
 * itself (or on no host) gets the proxy's prefix; anything else is left alone.
 */
export function rewriteLocation(location: string, loc: ProxyLocation, prefix: string): string {
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(location) || location.startsWith('//');
  if (!absolute && !location.startsWith('/')) return location;
  let u: URL;
  try {
    u = new URL(location, 'http://relative.invalid');
  } catch {
    return location;
  }
  const sameHost =
    u.hostname.replace(/^\[|\]$/g, '') === loc.host &&
    Number(u.port || (u.protocol === 'https:' ? 443 : 80)) === defaultPort(loc);
  if (absolute && !sameHost) return location;
  const path = u.pathname === prefix || u.pathname.startsWith(`${prefix}/`) ? u.pathname : prefix + u.pathname;
  return path + u.search + u.hash;
}

export interface ProxyTarget {
  location: ProxyLocation;
  /** Path (escaped, as the client sent it) after `/proxy`; '' when nothing follows. */
  path: string;
  /** Query string as the client sent it, without '?'. */
  query: string;
  /** The client's path up to and including `/proxy` (escaped). */
  prefix: string;
}

/** Serves a plain HTTP request through the proxy. */
export function forwardRequest(req: IncomingMessage, res: ServerResponse, target: ProxyTarget): Promise<void> {
  const { location: loc, prefix } = target;
  const search = target.query ? `?${target.query}` : '';
  if (target.path === '') {
    // Upstream: a proxy root without its trailing slash is redirected to it.
    res.writeHead(301, { Location: `${prefix}/${search}` });
    res.end();
    return Promise.resolve();
  }
  const headers: http.OutgoingHttpHeaders = {};
  for (const [k, v] of forwardedHeaders(req, prefix + target.path, false)) {
    const prev = headers[k];
    headers[k] = prev === undefined ? v : ([] as string[]).concat(prev as string | string[], v);
  }
  // The client's Host goes on, as upstream's proxy leaves the request's Host alone.
  headers.host = requestHost(req) ?? hostPort(loc);
  const options: https.RequestOptions = {
    host: loc.host,
    port: defaultPort(loc),
    path: target.path + search,
    method: req.method,
    headers,
    agent: false,
  };
  return new Promise<void>((resolve) => {
    const up =
      loc.scheme === 'https'
        ? https.request({ ...options, ...loc.tls, servername: net.isIP(loc.host) ? undefined : loc.host })
        : http.request(options);
    up.once('error', (err) => {
      if (!res.headersSent) sendError(res, errors.serviceUnavailable(`error trying to reach service: ${err.message}`));
      else res.destroy();
      resolve();
    });
    res.once('close', () => {
      up.destroy();
      resolve();
    });
    up.once('response', (ur) => {
      const listed = connectionTokens(ur.headers);
      const out: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(ur.headers)) {
        if (v === undefined || HOP_BY_HOP.has(k) || listed.has(k) || CORS.has(k)) continue;
        out[k] = k === 'location' && typeof v === 'string' ? rewriteLocation(v, loc, prefix) : v;
      }
      const encoding = ur.headers['content-encoding'];
      if (req.method !== 'HEAD' && rewritable(ur.headers['content-type'], encoding)) {
        // An HTML page: read whole, its links rewritten under the proxy (upstream's transport).
        const chunks: Buffer[] = [];
        let size = 0;
        let passed = false;
        ur.on('data', (c: Buffer) => {
          if (passed) return;
          chunks.push(c);
          size += c.length;
          if (size > MAX_REWRITE_BYTES) {
            // Too big to hold: the page goes on as it is.
            passed = true;
            res.writeHead(ur.statusCode ?? 502, out);
            for (const x of chunks) res.write(x);
            ur.removeAllListeners('data');
            ur.pipe(res);
          }
        });
        ur.once('end', () => {
          if (!passed) {
            let body: Buffer = Buffer.concat(chunks);
            try {
              body = rewriteBody(body, encoding, (url) => rewriteLocation(url, loc, prefix));
            } catch {
              // Not decodable as it claims: sent as it came.
            }
            delete out['content-length'];
            delete out['transfer-encoding'];
            res.writeHead(ur.statusCode ?? 502, { ...out, 'content-length': body.length });
            res.end(body);
          }
          resolve();
        });
        ur.once('error', () => {
          res.destroy();
          resolve();
        });
        return;
      }
      res.writeHead(ur.statusCode ?? 502, out);
      ur.pipe(res);
      ur.once('end', () => resolve());
      ur.once('error', () => {
        res.destroy();
        resolve();
      });
    });
    req.pipe(up);
  });
}

/** Serves an upgrade request (a WebSocket) through the proxy: the backend's answer and then the bytes both ways. */
export function forwardUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: ProxyTarget,
  log?: Logger,
): void {
  const { location: loc } = target;
  const port = defaultPort(loc);
  proxyUpgrade(
    req,
    socket,
    head,
    {
      host: requestHost(req) ?? hostPort(loc),
      path: (target.path || '/') + (target.query ? `?${target.query}` : ''),
      request: { method: req.method ?? 'GET', headers: forwardedHeaders(req, target.prefix + target.path, true) },
      dial: () =>
        new Promise((resolve, reject) => {
          const s =
            loc.scheme === 'https'
              ? tls.connect(
                  { host: loc.host, port, servername: net.isIP(loc.host) ? undefined : loc.host, ...loc.tls },
                  () => resolve(s),
                )
              : net.connect({ host: loc.host, port }, () => resolve(s));
          s.once('error', reject);
          s.setNoDelay(true);
        }),
      onDialError: (err, client) => {
        const status = errors.serviceUnavailable(`error trying to reach service: ${err.message}`);
        writeRawResponse(client, 503, status.toStatusJSON(), 'application/json');
      },
    },
    log,
  );
}
