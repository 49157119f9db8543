// The ingress data plane: a reverse proxy on node:http (port 80) and node:http2's secure server
// with HTTP/1.1 fallback (port 443, ALPN h2 and http/1.1, SNI per host). One process, no reload:
// the controller hands over a new immutable ProxyConfig on every change and `config` is replaced
// in one assignment, so a request uses exactly one configuration and connections in flight (and
// keep-alive ones) are never dropped. Upstream requests go to the endpoints themselves.
import { createServer as createHttpServer, Agent as HttpAgent, request as httpRequest } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import {
  connect as http2Connect,
  createServer as createH2cServer,
  createSecureServer,
  constants as h2,
  type ClientHttp2Session,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, type SecureContext } from 'node:tls';
import type { Duplex } from 'node:stream';
import { randomFillSync } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import { checkBasicAuth } from './htpasswd.js';
import {
  chooseBackend,
  rewritePath,
  RouteTable,
  type HeaderEdits,
  type Route,
  type RouteFilters,
  type ServiceBackend,
} from './routes.js';
import type { Backends, Endpoint } from './backends.js';
import type { CertificatePair } from './tls.js';
import type { IngressObserver } from './observe.js';

/** Everything a request needs besides endpoints; replaced whole on each change. */
export interface ProxyConfig {
  table: RouteTable;
  /** SecureContexts by TLS host (exact or `*.suffix`). */
  contexts: Map<string, SecureContext>;
  /** htpasswd users by Secret (namespace/name). */
  users: Map<string, Map<string, string>>;
}

export interface IngressProxyOptions {
  bindAddress: string;
  httpPort: number;
  httpsPort: number;
  defaultCertificate: CertificatePair;
  backends: Backends;
  logger: Logger;
  /** Access log and metrics (observe.ts). */
  observer?: IngressObserver;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

interface Forward {
  route: Route;
  /** The Service chosen (the canary's or the route's), to pick another endpoint on a retry. */
  backend: ServiceBackend;
  upstreamPath: string;
  endpoint: Endpoint;
  /** Response headers added by the route (CORS). */
  extraHeaders: Record<string, string>;
  /** The upstream exchange, for the access log and metrics (shared by every attempt). */
  upstream: UpstreamTiming;
}

interface UpstreamTiming {
  start?: number;
  end?: number;
  status?: number;
  addr?: string;
}

/** Applies a header filter (set, add, remove) to a header object whose names are lower case. */
export function editHeaders(headers: OutgoingHttpHeaders, e: HeaderEdits | undefined): void {
  if (!e) return;
  for (const [k, v] of e.set) headers[k] = v;
  for (const [k, v] of e.add) {
    const prior = headers[k];
    headers[k] = prior === undefined ? v : `${Array.isArray(prior) ? prior.join(',') : String(prior)},${v}`;
  }
  for (const k of e.remove) delete headers[k];
}

/** The Location of a RequestRedirect filter (Gateway API): unset parts keep the request's. */
export function redirectLocation(
  r: NonNullable<RouteFilters['redirect']>,
  route: Route,
  f: { host: string; url: string; secure: boolean; port: number },
): string {
  const scheme = r.scheme ?? (f.secure ? 'https' : 'http');
  const q = f.url.indexOf('?');
  const path = q < 0 ? f.url : f.url.slice(0, q);
  const query = q < 0 ? '' : f.url.slice(q);
  const newPath = r.path ? rewritePath(path, route.path, r.path) : path;
  // A new scheme without a port goes to that scheme's well-known port (omitted).
  const port = r.port ?? (r.scheme ? undefined : f.port);
  const standard = (scheme === 'https' && port === 443) || (scheme === 'http' && port === 80);
  const host = r.hostname ?? f.host;
  return `${scheme}://${host}${port && !standard ? `:${port}` : ''}${newPath}${query}`;
}

/** A listening socket's view: what it speaks and the configuration its requests use. */
interface Frontend {
  secure: boolean;
  /** The port listened on (X-Forwarded-Port, redirects). */
  port: number;
  config: ProxyConfig;
}

/** A Gateway listener on a port of its own: HTTP, or HTTPS with its own certificates. */
export interface ListenerConfig {
  port: number;
  secure: boolean;
  config: ProxyConfig;
}

interface OwnListener {
  frontend: Frontend;
  close(): Promise<void>;
}

/** The client connection preface of HTTP/2 (RFC 9113 3.4): h2c with prior knowledge, as gRPC clients speak. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

interface RequestFacts {
  config: ProxyConfig;
  host: string;
  url: string;
  method: string;
  headers: IncomingHttpHeaders;
  clientIP: string;
  secure: boolean;
  /** Port the client connected to (X-Forwarded-Port). */
  port: number;
}

/** Hop-by-hop headers (RFC 9110 7.6.1) never forwarded; HTTP/2 forbids them in responses too. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'http2-settings',
]);

/** Random bytes for request ids, drawn a page at a time: one call per request cost as much as the rest of the headers. */
const idPool = Buffer.alloc(4096);
let idOffset = idPool.length;

/** A fresh request id: 16 random bytes in hex, as ingress-nginx's $req_id. */
export function requestId(): string {
  if (idOffset + 16 > idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  idOffset += 16;
  return idPool.toString('hex', idOffset - 16, idOffset);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Connection failures after which a bodiless request goes to the next endpoint. */
const RETRYABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);
const MAX_ATTEMPTS = 3;

const STATUS_TEXT: Record<number, string> = {
  301: 'Moved Permanently',
  302: 'Found',
  308: 'Permanent Redirect',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Request Entity Too Large',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Timeout',
};

/** A gRPC request (not gRPC-Web, whose clients read status from the body). */
export function isGrpcRequest(headers: IncomingHttpHeaders): boolean {
  const ct = headers['content-type'] ?? '';
  return ct === 'application/grpc' || ct.startsWith('application/grpc+') || ct.startsWith('application/grpc;');
}

/**
 * The gRPC status for an HTTP error status the proxy answers itself, by gRPC's HTTP-to-gRPC status
 * mapping (doc/http-grpc-status-mapping.md): no route for a method is UNIMPLEMENTED (12), as
 * Envoy-based Gateways answer.
 */
export function grpcStatusFor(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

const plainIP = (a: string | undefined) => (a ?? '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');

/** The request host: lower case, without port (HTTP/2 sends :authority instead of Host). */
export function requestHost(headers: IncomingHttpHeaders): string {
  const raw = String(headers[':authority'] ?? headers.host ?? '').toLowerCase();
  if (raw.startsWith('[')) return raw.slice(0, raw.indexOf(']') + 1);
  const colon = raw.lastIndexOf(':');
  return colon >= 0 ? raw.slice(0, colon) : raw;
}

function inRanges(ip: string, ranges: readonly string[]): boolean {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(ip);
  } catch {
    return false;
  }
  return ranges.some((r) => {
    try {
      const [net, bits] = r.includes('/')
        ? ipaddr.parseCIDR(r)
        : ipaddr.parseCIDR(`${r}/${r.includes(':') ? 128 : 32}`);
      return net.kind() === addr.kind() && addr.match(net, bits);
    } catch {
      return false;
    }
  });
}

export class IngressProxy {
  /** The configuration in force; replaced (never mutated) by `update`. */
  private config: ProxyConfig = { table: RouteTable.none(), contexts: new Map(), users: new Map() };
  private http?: NetServer;
  private https?: Http2SecureServer;
  private readonly mainHttp: Frontend = { secure: false, port: 0, config: this.config };
  private readonly mainHttps: Frontend = { secure: true, port: 0, config: this.config };
  /** Sockets of Gateway listeners on ports of their own, by port. */
  private readonly own = new Map<number, OwnListener>();
  private readonly sockets = new Set<Duplex>();
  private readonly defaultContext: SecureContext;
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: Infinity });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, rejectUnauthorized: false });
  private readonly h2Sessions = new Map<string, ClientHttp2Session>();
  private readonly log: Logger;
  readonly ports = { http: 0, https: 0 };

  constructor(private readonly o: IngressProxyOptions) {
    this.log = o.logger;
    this.defaultContext = createSecureContext(o.defaultCertificate);
  }

  update(config: ProxyConfig): void {
    this.config = config;
    this.mainHttp.config = config;
    this.mainHttps.config = config;
  }

  async start(): Promise<void> {
    this.http = this.plainServer(this.mainHttp);
    this.https = this.secureServer(this.mainHttps);
    this.mainHttp.port = this.ports.http = await this.listen(this.http, this.o.httpPort, 'HTTP');
    this.mainHttps.port = this.ports.https = await this.listen(this.https, this.o.httpsPort, 'HTTPS');
  }

  /**
   * Plain HTTP: HTTP/1.1, and h2c with prior knowledge (gRPC clients without TLS) told apart by
   * the first bytes of a connection, which go to the one server or the other.
   */
  private plainServer(frontend: Frontend): NetServer {
    const http1 = createHttpServer((req, res) => this.onRequest(req, res, frontend));
    http1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head, frontend),
    );
    const h2c = createH2cServer();
    h2c.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) =>
      this.onRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse, frontend),
    );
    return createNetServer((socket) => {
      this.track(socket);
      // Bytes are gathered until they differ from the preface or hold all of it (a request may
      // arrive a byte at a time), then handed back to the socket for the chosen server to read.
      let seen: Buffer = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        seen = seen.length ? Buffer.concat([seen, chunk]) : chunk;
        const n = Math.min(seen.length, H2_PREFACE.length);
        const h2 = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
        if (h2 && n < H2_PREFACE.length) return;
        socket.off('data', onData);
        socket.pause();
        socket.unshift(seen);
        (h2 ? h2c : http1).emit('connection', socket);
        process.nextTick(() => socket.resume());
      };
      socket.on('data', onData);
    });
  }

  private secureServer(frontend: Frontend): Http2SecureServer {
    const server = createSecureServer({
      allowHTTP1: true,
      ...this.o.defaultCertificate,
      SNICallback: (name, cb) => cb(null, this.contextFor(frontend.config, name.toLowerCase())),
    });
    server.on('connection', (socket: Duplex) => this.track(socket));
    // The compat request/response of HTTP/2 mirror IncomingMessage/ServerResponse closely enough
    // for everything this proxy uses (headers, method, url, socket, streaming, writeHead).
    server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) =>
      this.onRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse, frontend),
    );
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head, frontend),
    );
    return server;
  }

  /** Client connections, to end them when their listener goes (or the proxy stops). */
  private track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /**
   * Opens, re-configures and closes the sockets of Gateway listeners on ports of their own; a
   * listener that goes takes its connections with it. Returns the ports that could not be opened.
   */
  async updateListeners(list: readonly ListenerConfig[]): Promise<Set<number>> {
    const want = new Map(list.map((l) => [l.port, l]));
    for (const [port, have] of this.own) {
      const w = want.get(port);
      if (w && w.secure === have.frontend.secure) continue;
      this.own.delete(port);
      await have.close();
    }
    const failed = new Set<number>();
    for (const [port, w] of want) {
      const have = this.own.get(port);
      if (have) {
        have.frontend.config = w.config;
        continue;
      }
      const frontend: Frontend = { secure: w.secure, port, config: w.config };
      const server = w.secure ? this.secureServer(frontend) : this.plainServer(frontend);
      const mine = new Set<Duplex>();
      server.on('connection', (socket: Duplex) => {
        mine.add(socket);
        socket.once('close', () => mine.delete(socket));
      });
      if (!(await this.listen(server, port, w.secure ? 'HTTPS' : 'HTTP'))) {
        failed.add(port);
        continue;
      }
      this.own.set(port, {
        frontend,
        close: () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            for (const s of mine) s.destroy();
          }),
      });
    }
    return failed;
  }

  /** Ports of Gateway listeners listened on. */
  get listenerPorts(): number[] {
    return [...this.own.keys()];
  }

  /** Listens, or logs why not (another program may own port 80/443): the cluster still runs. */
  private listen(server: NetServer | Http2SecureServer, port: number, what: string): Promise<number> {
    return new Promise((resolve) => {
      const onError = (err: Error) => {
        this.log.error({ err, port }, `ingress: cannot listen for ${what} on ${this.o.bindAddress}:${port}`);
        resolve(0);
      };
      server.once('error', onError);
      server.listen(port, this.o.bindAddress, () => {
        server.off('error', onError);
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  async stop(): Promise<void> {
    for (const s of this.h2Sessions.values()) s.close();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    await this.updateListeners([]);
    const close = (s?: NetServer | Http2SecureServer) =>
      new Promise<void>((resolve) => {
        if (!s?.listening) return resolve();
        s.close(() => resolve());
      });
    const closing = Promise.all([close(this.http), close(this.https)]);
    for (const s of this.sockets) s.destroy();
    await closing;
  }

  private contextFor(config: ProxyConfig, name: string): SecureContext {
    const { contexts } = config;
    const exact = contexts.get(name);
    if (exact) return exact;
    const dot = name.indexOf('.');
    return (dot > 0 && contexts.get('*.' + name.slice(dot + 1))) || this.defaultContext;
  }

  private facts(req: IncomingMessage, frontend: Frontend): RequestFacts {
    const { secure } = frontend;
    return {
      config: frontend.config,
      host: requestHost(req.headers),
      url: req.url ?? '/',
      method: req.method ?? 'GET',
      headers: req.headers,
      clientIP: plainIP(req.socket?.remoteAddress),
      secure,
      port: frontend.port,
    };
  }

  /** What to do with a request: answer it here (redirect, deny, error) or forward it. */
  private decide(f: RequestFacts): { reply: Reply } | { forward: Forward } {
    const { table, users } = f.config;
    const header = (name: string) => {
      const v = f.headers[name];
      return Array.isArray(v) ? v.join(',') : v;
    };
    const m = table.match(f.host, f.url, { method: f.method, header });
    if (!m) return { reply: { status: 404, body: 'default backend - 404' } };
    const { route } = m;
    const o = route.options;
    const redirect = route.filters?.redirect;
    if (o.allowSourceRanges.length && !inRanges(f.clientIP, o.allowSourceRanges)) return { reply: { status: 403 } };
    if (!f.secure && (o.forceSslRedirect || (o.sslRedirect && route.tls))) {
      const port = this.ports.https === 443 ? '' : `:${this.ports.https}`;
      return { reply: { status: 308, headers: { location: `https://${f.host}${port}${f.url}` } } };
    }
    if (redirect)
      return { reply: { status: redirect.statusCode, headers: { location: redirectLocation(redirect, route, f) } } };
    if (route.directStatus) return { reply: { status: route.directStatus } };
    if (o.permanentRedirect)
      return { reply: { status: o.permanentRedirect.code, headers: { location: o.permanentRedirect.location } } };
    if (o.appRoot && f.url.split('?')[0] === '/') return { reply: { status: 302, headers: { location: o.appRoot } } };
    const extraHeaders: Record<string, string> = {};
    if (o.cors) {
      extraHeaders['access-control-allow-origin'] = o.cors.allowOrigin;
      extraHeaders['access-control-allow-credentials'] = String(o.cors.allowCredentials);
      extraHeaders['access-control-allow-methods'] = o.cors.allowMethods;
      extraHeaders['access-control-allow-headers'] = o.cors.allowHeaders;
      if (o.cors.exposeHeaders) extraHeaders['access-control-expose-headers'] = o.cors.exposeHeaders;
      if (f.method === 'OPTIONS')
        return {
          reply: {
            status: 204,
            headers: {
              ...extraHeaders,
              'access-control-max-age': String(o.cors.maxAge),
              'content-type': 'text/plain charset=UTF-8',
              'content-length': '0',
            },
          },
        };
    }
    if (o.basicAuth) {
      const known = users.get(`${o.basicAuth.secret.namespace}/${o.basicAuth.secret.name}`);
      // A missing or unusable auth Secret denies the location, as ingress-nginx does.
      if (!known) return { reply: { status: 503 } };
      if (!checkBasicAuth(String(f.headers.authorization ?? ''), known))
        return {
          reply: { status: 401, headers: { 'www-authenticate': `Basic realm="${o.basicAuth.realm}"` } },
        };
    }
    const length = Number(f.headers['content-length'] ?? 0);
    if (o.maxBodyBytes && length > o.maxBodyBytes) return { reply: { status: 413 } };
    const backend = chooseBackend(route, header);
    // A backendRef that could not be resolved (Gateway API): its share of requests gets 500.
    if (!backend.service) return { reply: { status: 500 } };
    const picked = this.o.backends.pick(backend);
    if ('problem' in picked) return { reply: { status: 503 } };
    return {
      forward: { route, backend, upstreamPath: m.upstreamPath, endpoint: picked.endpoint, extraHeaders, upstream: {} },
    };
  }

  /** The request headers sent upstream: hop-by-hop and pseudo headers dropped, X-Forwarded-* set. */
  private upstreamHeaders(f: RequestFacts, keepUpgrade: boolean, filters?: RouteFilters): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = {};
    const connectionTokens = String(f.headers.connection ?? '')
      .toLowerCase()
      .split(',')
      .map((t) => t.trim());
    for (const [k, v] of Object.entries(f.headers)) {
      if (v === undefined || k.startsWith(':') || HOP_BY_HOP.has(k) || connectionTokens.includes(k)) continue;
      out[k] = v;
    }
    if (!out.host) out.host = String(f.headers[':authority'] ?? f.headers.host ?? f.host);
    if (filters?.rewrite?.hostname) out.host = filters.rewrite.hostname;
    if (keepUpgrade && f.headers.upgrade) {
      out.connection = 'upgrade';
      out.upgrade = f.headers.upgrade;
    }
    const prior = f.headers['x-forwarded-for'];
    out['x-forwarded-for'] = prior ? `${String(prior)}, ${f.clientIP}` : f.clientIP;
    out['x-real-ip'] = f.clientIP;
    out['x-forwarded-host'] = f.host;
    out['x-forwarded-port'] = String(f.port);
    out['x-forwarded-proto'] = f.secure ? 'https' : 'http';
    out['x-forwarded-scheme'] = f.secure ? 'https' : 'http';
    out['x-scheme'] = f.secure ? 'https' : 'http';
    out['x-request-id'] ??= requestId();
    editHeaders(out, filters?.requestHeaders);
    return out;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, frontend: Frontend): void {
    const f = this.facts(req, frontend);
    let d: ReturnType<IngressProxy['decide']>;
    try {
      d = this.decide(f);
    } catch (err) {
      this.log.warn({ err }, 'ingress: request failed');
      d = { reply: { status: 500 } };
    }
    if (this.o.observer) this.observe(req, res, f, d);
    if ('reply' in d) return this.reply(res, d.reply);
    const { policy, filters } = d.forward.route;
    if (filters?.mirrors) this.mirror(f, d.forward, filters.mirrors);
    if (policy?.responseTimeoutMs) {
      // Contour's timeoutPolicy.response: the whole response, retries included.
      const timer = setTimeout(() => this.reply(res, { status: 504 }), policy.responseTimeoutMs);
      res.on('close', () => clearTimeout(timer));
      res.on('finish', () => clearTimeout(timer));
    }
    const proto = d.forward.route.options.backendProtocol;
    if (proto === 'GRPC' || proto === 'GRPCS') this.forwardHttp2(req, res, f, d.forward, proto === 'GRPCS');
    else this.forwardHttp1(req, res, f, d.forward, proto === 'HTTPS');
  }

  /** Reports the request when its response is done (or the client went away). */
  private observe(
    req: IncomingMessage,
    res: ServerResponse,
    f: RequestFacts,
    d: ReturnType<IngressProxy['decide']>,
  ): void {
    const start = new Date();
    const t0 = performance.now();
    res.once('close', () => {
      const fw = 'forward' in d ? d.forward : undefined;
      const route = fw?.route;
      const up = fw?.upstream;
      const header = (name: string) => {
        const v = f.headers[name];
        return Array.isArray(v) ? v.join(',') : v;
      };
      this.o.observer?.record({
        start,
        clientIP: f.clientIP,
        method: f.method,
        host: f.host,
        url: f.url,
        httpVersion: req.httpVersion,
        status: res.statusCode,
        bytes: Number(res.getHeader('content-length') ?? 0) || 0,
        durationMs: performance.now() - t0,
        userAgent: header('user-agent'),
        referer: header('referer'),
        requestId: header('x-request-id'),
        namespace: route?.ingress.namespace,
        ingress: route?.ingress.name,
        kind: route ? (route.kind ?? 'Ingress') : undefined,
        path: route?.path,
        service: fw?.backend.service,
        upstreamAddr: up?.addr,
        upstreamStatus: up?.status,
        upstreamMs: up?.start !== undefined ? (up.end ?? performance.now()) - up.start : undefined,
      });
    });
  }

  /** RequestMirror: a copy of a bodiless request to each mirror, its answer dropped. */
  private mirror(f: RequestFacts, fw: Forward, mirrors: readonly ServiceBackend[]): void {
    if (!SAFE_METHODS.has(f.method) || f.headers['content-length'] || f.headers['transfer-encoding']) return;
    for (const m of mirrors) {
      const picked = this.o.backends.pick(m);
      if ('problem' in picked) continue;
      const copy = httpRequest({
        host: picked.endpoint.address,
        port: picked.endpoint.port,
        method: f.method,
        path: fw.upstreamPath,
        headers: this.upstreamHeaders(f, false, fw.route.filters),
        agent: this.httpAgent,
        timeout: fw.route.options.readTimeoutMs,
      });
      copy.on('response', (r) => r.resume());
      copy.on('timeout', () => copy.destroy());
      copy.on('error', () => undefined);
      copy.end();
    }
  }

  private reply(res: ServerResponse, r: Reply): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (r.status >= 400 && isGrpcRequest(res.req.headers)) return this.replyGrpc(res, r);
    const body = r.body ?? `<html><head><title>${r.status} ${STATUS_TEXT[r.status] ?? ''}</title></head></html>\n`;
    res.writeHead(r.status, {
      'content-type': r.body ? 'text/plain; charset=utf-8' : 'text/html',
      'content-length': Buffer.byteLength(body),
      ...r.headers,
    });
    res.end(body);
  }

  /**
   * An error for a gRPC client: HTTP 200 with the gRPC status in a trailers-only response (one
   * HEADERS frame ending the stream over HTTP/2), as gRPC servers and Envoy answer.
   */
  private replyGrpc(res: ServerResponse, r: Reply): void {
    const message = r.body ?? `${r.status} ${STATUS_TEXT[r.status] ?? ''}`.trim();
    const headers: OutgoingHttpHeaders = {
      'content-type': 'application/grpc',
      'grpc-status': String(grpcStatusFor(r.status)),
      'grpc-message': encodeURIComponent(message),
      ...r.headers,
    };
    const stream = (res as unknown as Partial<Http2ServerResponse>).stream;
    if (stream) {
      stream.respond({ ...headers, [h2.HTTP2_HEADER_STATUS]: 200 }, { endStream: true });
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': 0 });
    res.end();
  }

  private forwardHttp1(
    req: IncomingMessage,
    res: ServerResponse,
    f: RequestFacts,
    fw: Forward,
    tls: boolean,
    attempt = 1,
  ): void {
    const o = fw.route.options;
    if (res.headersSent || res.writableEnded) return;
    // A request without a body can be sent again to another endpoint when the connection fails
    // (nginx's proxy_next_upstream error): a pod that just went away costs no 502.
    const bodiless = SAFE_METHODS.has(f.method) && !f.headers['content-length'] && !f.headers['transfer-encoding'];
    // Contour's retryPolicy: `count` more tries on a 5xx, a failed connection or a per-try timeout.
    const retries = fw.route.policy?.retries;
    const maxAttempts = retries ? retries.count + 1 : MAX_ATTEMPTS;
    const retry = (): boolean => {
      if (!bodiless || attempt >= maxAttempts || res.headersSent) return false;
      const next = this.o.backends.pick(fw.backend);
      if (!('endpoint' in next)) return false;
      this.forwardHttp1(req, res, f, { ...fw, endpoint: next.endpoint }, tls, attempt + 1);
      return true;
    };
    const upstream = (tls ? httpsRequest : httpRequest)({
      host: fw.endpoint.address,
      port: fw.endpoint.port,
      method: f.method,
      path: fw.upstreamPath,
      headers: this.upstreamHeaders(f, false, fw.route.filters),
      agent: tls ? this.httpsAgent : this.httpAgent,
      servername: tls ? f.host : undefined,
    });
    fw.upstream.start ??= performance.now();
    fw.upstream.addr = `${fw.endpoint.address}:${fw.endpoint.port}`;
    let failed = false;
    const fail = (status: number, err?: NodeJS.ErrnoException) => {
      if (failed) return;
      failed = true;
      clearTimeout(connectTimer);
      clearTimeout(tryTimer);
      clearTimeout(silence);
      upstream.destroy();
      const code = err?.code ?? '';
      if (err && RETRYABLE.has(code) && retry()) return;
      if (status === 504 && retries && retry()) return;
      if (err) this.log.debug({ err, endpoint: fw.endpoint }, 'ingress: upstream failed');
      this.reply(res, { status });
    };
    // The connect timeout only runs for a new connection: a kept-alive socket is already there.
    let connectTimer: NodeJS.Timeout | undefined;
    // nginx's proxy_send_timeout / proxy_read_timeout: the longest silence of the upstream while
    // the body is sent, then while the answer is awaited and read (refreshed by every chunk). One
    // timer of our own costs less per request than ClientRequest.setTimeout's socket timeouts.
    let silence: NodeJS.Timeout | undefined;
    const silentFor = (ms: number) => {
      clearTimeout(silence);
      silence = setTimeout(() => fail(504), ms);
    };
    const perTry = retries?.perTryTimeoutMs ?? fw.route.policy?.backendRequestTimeoutMs;
    const tryTimer = perTry ? setTimeout(() => fail(504), perTry) : undefined;
    upstream.on('socket', (s: Socket) => {
      if (!s.connecting || failed) return;
      connectTimer = setTimeout(() => fail(504), o.connectTimeoutMs);
      s.once('connect', () => clearTimeout(connectTimer));
    });
    upstream.on('error', (err) => fail(502, err));
    upstream.on('response', (up) => {
      clearTimeout(connectTimer);
      clearTimeout(tryTimer);
      if (failed || res.headersSent || res.writableEnded) {
        up.resume();
        upstream.destroy();
        return;
      }
      if ((up.statusCode ?? 502) >= 500 && retries && bodiless && attempt < maxAttempts) {
        failed = true;
        up.resume();
        if (retry()) return;
        failed = false;
      }
      const headers: OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
      Object.assign(headers, fw.extraHeaders);
      editHeaders(headers, fw.route.filters?.responseHeaders);
      res.writeHead(up.statusCode ?? 502, headers);
      fw.upstream.status = up.statusCode;
      silence?.refresh();
      // Forwarded by hand rather than with pipe(): pipe's listener bookkeeping cost more than the
      // copying for the small responses most requests get.
      up.on('data', (chunk: Buffer) => {
        silence?.refresh();
        if (!res.write(chunk)) up.pause();
      });
      res.on('drain', () => up.resume());
      up.on('end', () => {
        clearTimeout(silence);
        fw.upstream.end = performance.now();
        res.end();
      });
      up.on('error', () => res.destroy());
    });
    res.on('close', () => {
      clearTimeout(connectTimer);
      clearTimeout(tryTimer);
      clearTimeout(silence);
      if (!res.writableFinished) upstream.destroy();
    });
    if (bodiless) {
      silentFor(o.readTimeoutMs);
      upstream.end();
      return;
    }
    silentFor(o.sendTimeoutMs);
    let sent = 0;
    req.on('data', (chunk: Buffer) => {
      silence?.refresh();
      sent += chunk.length;
      if (o.maxBodyBytes && sent > o.maxBodyBytes) return fail(413);
      if (!upstream.write(chunk)) req.pause();
    });
    upstream.on('drain', () => req.resume());
    req.on('end', () => {
      if (failed) return;
      upstream.end();
      silentFor(o.readTimeoutMs);
    });
    req.on('error', () => upstream.destroy());
  }

  /** gRPC (and any HTTP/2 request) to an h2c or h2 upstream, trailers included. */
  private forwardHttp2(req: IncomingMessage, res: ServerResponse, f: RequestFacts, fw: Forward, tls: boolean): void {
    const key = `${tls ? 'h2' : 'h2c'}://${fw.endpoint.address}:${fw.endpoint.port}`;
    let session = this.h2Sessions.get(key);
    if (!session || session.closed || session.destroyed) {
      const s = http2Connect(key.replace(/^h2c?/, tls ? 'https' : 'http'), { rejectUnauthorized: false });
      s.on('error', () => undefined);
      s.on('close', () => this.h2Sessions.get(key) === s && this.h2Sessions.delete(key));
      this.h2Sessions.set(key, (session = s));
    }
    const headers = this.upstreamHeaders(f, false, fw.route.filters);
    const authority = String(headers.host ?? f.host);
    delete headers.host;
    const stream = session.request({
      ...headers,
      [h2.HTTP2_HEADER_METHOD]: f.method,
      [h2.HTTP2_HEADER_PATH]: fw.upstreamPath,
      [h2.HTTP2_HEADER_AUTHORITY]: authority,
      [h2.HTTP2_HEADER_SCHEME]: tls ? 'https' : 'http',
      te: 'trailers',
    });
    fw.upstream.start = performance.now();
    fw.upstream.addr = `${fw.endpoint.address}:${fw.endpoint.port}`;
    stream.setTimeout(fw.route.options.readTimeoutMs, () => stream.close(h2.NGHTTP2_CANCEL));
    stream.on('response', (h) => {
      const out: OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') && !HOP_BY_HOP.has(k)) out[k] = v;
      fw.upstream.status = Number(h[h2.HTTP2_HEADER_STATUS] ?? 502);
      Object.assign(out, fw.extraHeaders);
      editHeaders(out, fw.route.filters?.responseHeaders);
      res.writeHead(fw.upstream.status, out);
    });
    stream.on('data', (d: Buffer) => res.write(d));
    stream.on('trailers', (t) => res.addTrailers(t as OutgoingHttpHeaders));
    stream.on('end', () => {
      fw.upstream.end = performance.now();
      res.end();
    });
    stream.on('error', () => (res.headersSent ? res.destroy() : this.reply(res, { status: 502 })));
    req.pipe(stream);
    res.on('close', () => !stream.closed && stream.close(h2.NGHTTP2_CANCEL));
  }

  /** HTTP/1.1 upgrades (WebSocket): the handshake goes upstream and the bytes flow both ways. */
  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, frontend: Frontend): void {
    const f = this.facts(req, frontend);
    socket.on('error', () => socket.destroy());
    let d: ReturnType<IngressProxy['decide']>;
    try {
      d = this.decide(f);
    } catch {
      d = { reply: { status: 500 } };
    }
    if ('reply' in d) {
      const { status, headers = {} } = d.reply;
      const lines = [`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}`, 'connection: close', 'content-length: 0'];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      socket.end(lines.join('\r\n') + '\r\n\r\n');
      return;
    }
    const fw = d.forward;
    const tls = fw.route.options.backendProtocol === 'HTTPS';
    const upstream = tls
      ? tlsConnect({ host: fw.endpoint.address, port: fw.endpoint.port, rejectUnauthorized: false, servername: f.host })
      : netConnect(fw.endpoint.port, fw.endpoint.address);
    const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), fw.route.options.connectTimeoutMs);
    upstream.once(tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      const headers = this.upstreamHeaders(f, true);
      let text = `${f.method} ${fw.upstreamPath} HTTP/1.1\r\n`;
      for (const [k, v] of Object.entries(headers))
        for (const one of Array.isArray(v) ? v : [v]) text += `${k}: ${String(one)}\r\n`;
      upstream.write(text + '\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => {
      clearTimeout(timer);
      if (socket.writable && !upstream.bytesRead) socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
    });
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
  }
}
