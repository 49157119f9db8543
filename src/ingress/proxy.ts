// The ingress data plane: a reverse proxy on node:http (port 80) and node:http2's secure server
// with HTTP/1.1 fallback (port 443, ALPN h2 and http/1.1, SNI per host). One process, no reload:
// the controller hands over a new immutable ProxyConfig on every change and `config` is replaced
// in one assignment, so a request uses exactly one configuration and connections in flight (and
// keep-alive ones) are never dropped. Upstream requests go to the endpoints themselves.
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import {
  connect as http2Connect,
  createServer as createH2cServer,
  createSecureServer,
  constants as h2,
  type ClientHttp2Session,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import {
  connect as tlsConnect,
  createSecureContext,
  createServer as createTlsServer,
  type SecureContext,
  type Server as TlsServer,
  type TLSSocket,
} from 'node:tls';
import type { Duplex } from 'node:stream';
import { randomFillSync, timingSafeEqual } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { Agent, type Dispatcher } from 'undici';
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
  type StreamRoute,
} from './routes.js';
import { readServerName, routeForName, splice, terminateTls } from './gatewaystreams.js';
import type { Backends, Endpoint } from './backends.js';
import type { CertificatePair } from './tls.js';
import type { IngressObserver } from './observe.js';
import { FastConnection, type FastContext, type FastForward, type FastTiming } from './http1/fastpath.js';
import type { RequestHead } from './http1/parser.js';
import { UpstreamPool } from './http1/upstreampool.js';
import { addResponseField, errorPage, headerLines, HOP_BY_HOP, SAFE_METHODS, STATUS_TEXT } from './http1/headers.js';

/** Everything a request needs besides endpoints; replaced whole on each change. */
export interface ProxyConfig {
  table: RouteTable;
  /** SecureContexts by TLS host (exact or `*.suffix`). */
  contexts: Map<string, SecureContext>;
  /** htpasswd users by Secret (namespace/name). */
  users: Map<string, Map<string, string>>;
  /** Hosts whose TLS connections on the HTTPS port are spliced to a backend (by SNI), not terminated. */
  passthrough?: readonly StreamRoute[];
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
  /**
   * NGINX fronts the main listeners (nginx/): they listen on internal loopback ports; the plain
   * one trusts the client address in the X-K8ts-Front header carrying this token, the TLS one
   * reads a PROXY protocol header first. Redirects and X-Forwarded-Port name the public ports.
   */
  front?: { token: string; httpPort: number; httpsPort: number };
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

type Decision = { reply: Reply } | { forward: Forward };

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
  /** Requests come from NGINX with the client in X-K8ts-Front (this token first). */
  frontToken?: string;
  /** Connections start with a PROXY protocol header (NGINX's stream relay). */
  proxyProtocol?: boolean;
}

/** The header NGINX tells the internal plain listener the client with: `<token> <ip> <port> <scheme>`. */
export const FRONT_HEADER = 'x-k8ts-front';

/**
 * The client of a request NGINX forwarded: its X-K8ts-Front header, trusted only with the right
 * token. The header is removed either way (it never goes upstream).
 */
export function frontClient(
  headers: Record<string, string | string[] | undefined>,
  token: string,
): { ip: string; secure: boolean } | undefined {
  const v = headers[FRONT_HEADER];
  if (v === undefined) return undefined;
  delete headers[FRONT_HEADER];
  if (typeof v !== 'string') return undefined;
  const [t, ip, , scheme] = v.split(' ');
  if (!ip || t.length !== token.length || !timingSafeEqual(Buffer.from(t), Buffer.from(token))) return undefined;
  return { ip: plainIP(ip), secure: scheme === 'https' };
}

/**
 * Reads a PROXY protocol v1 header (`PROXY TCP4 src dst sport dport\r\n`, haproxy's
 * proxy-protocol.txt) from the start of a connection; `then` gets the source address (undefined
 * for `PROXY UNKNOWN`) and the bytes after the header. A connection without one is closed.
 */
export function readProxyHeader(socket: Socket, then: (source: string | undefined, rest: Buffer) => void): void {
  let seen: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), 10_000);
  const onData = (chunk: Buffer) => {
    seen = seen.length ? Buffer.concat([seen, chunk]) : chunk;
    const end = seen.indexOf('\r\n');
    if (end < 0 && seen.length < 108) return;
    socket.off('data', onData);
    socket.pause();
    clearTimeout(timer);
    const parsed = end < 0 ? undefined : parseProxyLine(seen.toString('latin1', 0, end));
    if (!parsed) return void socket.destroy();
    then(parsed.source, seen.subarray(end + 2));
  };
  socket.on('data', onData);
  socket.on('close', () => clearTimeout(timer));
}

/** One PROXY protocol v1 line (without CRLF): its source address (undefined for UNKNOWN); undefined when malformed. */
export function parseProxyLine(line: string): { source: string | undefined } | undefined {
  const f = line.split(' ');
  if (f[0] !== 'PROXY') return undefined;
  if (f[1] === 'UNKNOWN') return { source: undefined };
  if ((f[1] !== 'TCP4' && f[1] !== 'TCP6') || f.length !== 6 || !isIP(f[2])) return undefined;
  return { source: f[2] };
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

/** Connection failures after which a bodiless request goes to the next endpoint. */
const RETRYABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'UND_ERR_SOCKET']);
const MAX_ATTEMPTS = 3;

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
  /** The HTTPS port's socket: reads the server name of TLS passthrough hosts, hands the rest to the TLS server. */
  private httpsFront?: NetServer;
  private readonly mainHttp: Frontend = { secure: false, port: 0, config: this.config };
  private readonly mainHttps: Frontend = { secure: true, port: 0, config: this.config };
  /** Sockets of Gateway listeners on ports of their own, by port. */
  private readonly own = new Map<number, OwnListener>();
  private readonly sockets = new Set<Duplex>();
  private readonly defaultContext: SecureContext;
  /** undici Agents for HTTP/1.1 upstreams, by TLS and connect timeout (`dispatcher`). */
  private readonly agents = new Map<string, Agent>();
  private readonly h2Sessions = new Map<string, ClientHttp2Session>();
  /** Keep-alive upstream connections of the HTTP/1.1 fast path. */
  private readonly pool = new UpstreamPool();
  readonly log: Logger;
  readonly ports = { http: 0, https: 0 };
  /** Client addresses of connections to the internal TLS listener, by their loopback source port (PROXY protocol). */
  private readonly proxied = new Map<number, string>();

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
    const { front } = this.o;
    if (front) {
      this.mainHttp.frontToken = front.token;
      this.mainHttps.proxyProtocol = true;
    }
    this.http = this.plainServer(this.mainHttp);
    const https = this.secureServer(this.mainHttps);
    this.httpsFront = createNetServer((socket) => this.acceptSecure(socket, this.mainHttps, https));
    this.mainHttp.port = this.ports.http = await this.listen(this.http, this.o.httpPort, 'HTTP');
    this.mainHttps.port = this.ports.https = await this.listen(this.httpsFront, this.o.httpsPort, 'HTTPS');
    if (front) {
      this.mainHttp.port = front.httpPort;
      this.mainHttps.port = front.httpsPort;
    }
  }

  /** The public HTTPS port (redirects): NGINX's when it fronts the proxy. */
  private get httpsPort(): number {
    return this.o.front?.httpsPort ?? this.ports.https;
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
    const fast = this.fastContext(frontend, http1);
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
        if (!h2) return void new FastConnection(socket, fast, seen);
        socket.pause();
        socket.unshift(seen);
        h2c.emit('connection', socket);
        process.nextTick(() => socket.resume());
      };
      socket.on('data', onData);
    });
  }

  /**
   * A connection to the HTTPS port. Without passthrough hosts it goes straight to the TLS server;
   * with some, its ClientHello is read first (SNI, never decrypted): a passthrough host's
   * connection is spliced to its backend, which terminates TLS itself, bytes read so far
   * included; any other goes to the TLS server with those bytes put back, as SNI proxies do.
   */
  private acceptSecure(socket: Socket, frontend: Frontend, tls: TlsServer): void {
    if (frontend.proxyProtocol) {
      // NGINX's stream relay: the client's address comes first, then its TLS bytes.
      this.track(socket);
      socket.on('error', () => socket.destroy());
      return readProxyHeader(socket, (source, rest) => {
        const port = socket.remotePort;
        if (source && port) {
          this.proxied.set(port, plainIP(source));
          socket.once('close', () => this.proxied.delete(port));
        }
        if (rest.length) socket.unshift(rest);
        this.acceptTls(socket, frontend, tls);
      });
    }
    this.acceptTls(socket, frontend, tls);
  }

  private acceptTls(socket: Socket, frontend: Frontend, tls: TlsServer): void {
    if (!frontend.config.passthrough?.length) return void tls.emit('connection', socket);
    this.track(socket);
    socket.on('error', () => socket.destroy());
    readServerName(socket, (name, head) => {
      const { config } = frontend;
      const list = config.passthrough ?? [];
      let route = routeForName(list, name);
      // A passthrough route for any name ('') does not take names with certificates of their own.
      const named = route?.hosts.some((h) => h === name || (h.startsWith('*.') && name.endsWith(h.slice(1))));
      if (route && !named && this.contextFor(config, name) !== this.defaultContext) route = undefined;
      if (route?.terminate) {
        // HTTPProxy tcpproxy with tls.secretName: TLS ends here, the cleartext goes on as TCP.
        return terminateTls(socket, head, this.contextFor(config, name), route, this.o.backends, this.sockets);
      }
      if (route) return splice(socket, route, head, this.o.backends, this.sockets);
      // The TLS socket reads what was put back first, then the handle itself (the socket stays paused).
      socket.unshift(head.length === 1 ? head[0] : Buffer.concat(head));
      tls.emit('connection', socket);
    });
    // After a PROXY protocol header the socket was paused (its rest put back): read on.
    if (socket.isPaused()) socket.resume();
  }

  /**
   * HTTPS: TLS with ALPN h2 and http/1.1 (SNI per host). HTTP/2 connections go to node:http2's
   * server; HTTP/1.1 ones to the fast path, which hands what it does not serve to node:http's.
   */
  private secureServer(frontend: Frontend): TlsServer {
    const SNICallback = (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) =>
      cb(null, this.contextFor(frontend.config, name.toLowerCase()));
    const h2 = createSecureServer({ allowHTTP1: true, ...this.o.defaultCertificate, SNICallback });
    // The compat request/response of HTTP/2 mirror IncomingMessage/ServerResponse closely enough
    // for everything this proxy uses (headers, method, url, socket, streaming, writeHead).
    h2.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) =>
      this.onRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse, frontend),
    );
    const http1 = createHttpServer((req, res) => this.onRequest(req, res, frontend));
    http1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head, frontend),
    );
    const fast = this.fastContext(frontend, http1);
    const server = createTlsServer(
      { ...this.o.defaultCertificate, ALPNProtocols: ['h2', 'http/1.1'], SNICallback },
      (socket: TLSSocket) => {
        const client = frontend.proxyProtocol ? this.proxied.get(socket.remotePort ?? 0) : undefined;
        if (client) Object.defineProperty(socket, 'remoteAddress', { value: client, configurable: true });
        if (socket.alpnProtocol === 'h2') h2.emit('secureConnection', socket);
        else new FastConnection(socket, fast);
      },
    );
    server.on('connection', (socket: Duplex) => this.track(socket));
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
      // A secure port reads the SNI first when it has passthrough hosts (TLS listeners beside HTTPS).
      let server: NetServer;
      if (w.secure) {
        const tls = this.secureServer(frontend);
        server = createNetServer((socket) => this.acceptSecure(socket, frontend, tls));
      } else server = this.plainServer(frontend);
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
  private listen(server: NetServer, port: number, what: string): Promise<number> {
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
    this.pool.close();
    await Promise.all([...this.agents.values()].map((a) => a.destroy()));
    this.agents.clear();
    await this.updateListeners([]);
    const close = (s?: NetServer) =>
      new Promise<void>((resolve) => {
        if (!s?.listening) return resolve();
        s.close(() => resolve());
      });
    const closing = Promise.all([close(this.http), close(this.httpsFront)]);
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
    return this.factsOf(frontend, req.headers, req.url ?? '/', req.method ?? 'GET', req.socket?.remoteAddress);
  }

  private factsOf(
    frontend: Frontend,
    headers: IncomingHttpHeaders,
    url: string,
    method: string,
    remote: string | undefined,
  ): RequestFacts {
    let { secure, port } = frontend;
    let clientIP = plainIP(remote);
    if (frontend.frontToken) {
      const client = frontClient(headers, frontend.frontToken);
      if (client) {
        clientIP = client.ip;
        secure = client.secure;
        if (secure) port = this.httpsPort;
      }
    } else if (this.o.front && headers[FRONT_HEADER] !== undefined) delete headers[FRONT_HEADER]; // never upstream
    return { config: frontend.config, host: requestHost(headers), url, method, headers, clientIP, secure, port };
  }

  /** What to do with a request: answer it here (redirect, deny, error) or forward it. */
  private decide(f: RequestFacts): Decision {
    return this.decideFor(f, false) as Decision;
  }

  /** As `decide`; for the fast path (`fast`), `handoff` for a route it does not serve. */
  private decideFor(f: RequestFacts, fast: boolean): Decision | { handoff: true } {
    const { table, users } = f.config;
    const header = (name: string) => {
      const v = f.headers[name];
      return Array.isArray(v) ? v.join(',') : v;
    };
    const m = table.match(f.host, f.url, { method: f.method, header });
    if (!m) return { reply: { status: 404, body: 'default backend - 404' } };
    const { route } = m;
    // The fast path takes plain HTTP/1.1 forwards without mirrors or Contour policies (before any
    // choice with side effects: the full path decides again).
    if (fast && (route.options.backendProtocol !== 'HTTP' || route.filters?.mirrors || route.policy))
      return { handoff: true };
    const o = route.options;
    const redirect = route.filters?.redirect;
    if (o.allowSourceRanges.length && !inRanges(f.clientIP, o.allowSourceRanges)) return { reply: { status: 403 } };
    if (!f.secure && (o.forceSslRedirect || (o.sslRedirect && route.tls))) {
      const port = this.httpsPort === 443 ? '' : `:${this.httpsPort}`;
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
  upstreamHeaders(f: RequestFacts, keepUpgrade: boolean, filters?: RouteFilters): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = {};
    const connectionTokens = String(f.headers.connection ?? '')
      .toLowerCase()
      .split(',')
      .map((t) => t.trim());
    for (const [k, v] of Object.entries(f.headers)) {
      // Expect: 100-continue was answered by node's server already; undici refuses to send it.
      if (v === undefined || k.startsWith(':') || HOP_BY_HOP.has(k) || k === 'expect' || connectionTokens.includes(k))
        continue;
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
    let d: Decision;
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
  private observe(req: IncomingMessage, res: ServerResponse, f: RequestFacts, d: Decision): void {
    const start = new Date();
    const t0 = performance.now();
    res.once('close', () =>
      this.record(
        f,
        'forward' in d ? d.forward : undefined,
        res.statusCode,
        Number(res.getHeader('content-length') ?? 0) || 0,
        req.httpVersion,
        start,
        t0,
      ),
    );
  }

  /** The access log line and metrics of a request that is over. */
  private record(
    f: RequestFacts,
    fw: Forward | undefined,
    status: number,
    bytes: number,
    httpVersion: string,
    start: Date,
    t0: number,
  ): void {
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
      httpVersion,
      status,
      bytes,
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
  }

  /** The fast path's view of a frontend: its requests routed here, hand-offs to node:http's server. */
  private fastContext(frontend: Frontend, http1: { emit(event: 'connection', socket: Duplex): boolean }): FastContext {
    return {
      pool: this.pool,
      forward: (head, socket) => this.fastForward(head, socket, frontend),
      handoff: (socket, buffered) => {
        if (buffered?.length) socket.unshift(buffered);
        http1.emit('connection', socket);
        process.nextTick(() => socket.resume());
      },
    };
  }

  /** The forward of a fast-path request, or undefined when node:http's server is to answer it. */
  private fastForward(head: RequestHead, socket: Duplex, frontend: Frontend): FastForward | undefined {
    const start = this.o.observer ? new Date() : undefined;
    const t0 = performance.now();
    const f = this.factsOf(frontend, head.headers, head.target, head.method, (socket as Socket).remoteAddress);
    let d: Decision | { handoff: true };
    try {
      d = this.decideFor(f, true);
    } catch {
      return undefined; // the full path answers 500
    }
    if (!('forward' in d)) return undefined;
    const fw = d.forward;
    const o = fw.route.options;
    const headers = this.upstreamHeaders(f, false, fw.route.filters);
    const text = `${f.method} ${fw.upstreamPath} HTTP/1.1\r\n${headerLines(headers)}`;
    return {
      endpoint: fw.endpoint,
      head: text,
      connectTimeoutMs: o.connectTimeoutMs,
      readTimeoutMs: o.readTimeoutMs,
      sendTimeoutMs: o.sendTimeoutMs,
      maxBodyBytes: o.maxBodyBytes,
      editResponse: (h) => {
        Object.assign(h, fw.extraHeaders);
        editHeaders(h, fw.route.filters?.responseHeaders);
      },
      retry: () => {
        const next = this.o.backends.pick(fw.backend);
        return 'endpoint' in next ? next.endpoint : undefined;
      },
      done: (status: number, bytes: number, up: FastTiming) => {
        if (!start) return;
        Object.assign(fw.upstream, up);
        this.record(f, fw, status, bytes, '1.1', start, t0);
      },
    };
  }

  /** RequestMirror: a copy of a bodiless request to each mirror, its answer dropped. */
  private mirror(f: RequestFacts, fw: Forward, mirrors: readonly ServiceBackend[]): void {
    if (!SAFE_METHODS.has(f.method) || f.headers['content-length'] || f.headers['transfer-encoding']) return;
    for (const m of mirrors) {
      const picked = this.o.backends.pick(m);
      if ('problem' in picked) continue;
      const { address, port } = picked.endpoint;
      this.dispatcher(false, fw.route.options.connectTimeoutMs).dispatch(
        {
          origin: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
          method: f.method,
          path: fw.upstreamPath,
          headers: this.upstreamHeaders(f, false, fw.route.filters) as Record<string, string | string[]>,
          headersTimeout: fw.route.options.readTimeoutMs,
          bodyTimeout: fw.route.options.readTimeoutMs,
        },
        DISCARD,
      );
    }
  }

  reply(res: ServerResponse, r: Reply): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (r.status >= 400 && isGrpcRequest(res.req.headers)) return this.replyGrpc(res, r);
    const body = r.body ?? errorPage(r.status);
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

  /** The undici Agent for upstreams over plain HTTP or TLS with this connect timeout (one per value in use). */
  dispatcher(tls: boolean, connectTimeoutMs: number): Agent {
    const key = `${tls ? 's' : ''}${connectTimeoutMs}`;
    let agent = this.agents.get(key);
    if (!agent) {
      // No undici timeouts of its own: the proxy's silence and per-try timers decide (504).
      agent = new Agent({
        connect: tls ? { timeout: connectTimeoutMs, rejectUnauthorized: false } : { timeout: connectTimeoutMs },
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.agents.set(key, agent);
    }
    return agent;
  }

  private forwardHttp1(
    req: IncomingMessage,
    res: ServerResponse,
    f: RequestFacts,
    fw: Forward,
    tls: boolean,
    attempt = 1,
  ): void {
    if (res.headersSent || res.writableEnded) return;
    new Http1Exchange(this, req, res, f, fw, tls, attempt).start();
  }

  /** Another endpoint for a failed attempt, when the request may go again; false when it may not. */
  retryHttp1(x: Http1Exchange): boolean {
    const next = this.o.backends.pick(x.fw.backend);
    if (!('endpoint' in next)) return false;
    this.forwardHttp1(x.req, x.res, x.f, { ...x.fw, endpoint: next.endpoint }, x.tls, x.attempt + 1);
    return true;
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
    let d: Decision;
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
      upstream.write(`${f.method} ${fw.upstreamPath} HTTP/1.1\r\n${headerLines(headers)}\r\n`);
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

/** Response headers from undici's raw list: names in lower case, hop-by-hop ones dropped, repeats joined as node:http does. */
function responseHeaders(raw: Buffer[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i].toString('latin1').toLowerCase();
    if (HOP_BY_HOP.has(k)) continue;
    addResponseField(out, k, raw[i + 1].toString('latin1'));
  }
  return out;
}

/** The handler of mirrored requests: the answer is read and dropped. */
const DISCARD: Dispatcher.DispatchHandler = {
  onConnect: () => undefined,
  onHeaders: () => true,
  onData: () => true,
  onComplete: () => undefined,
  onError: () => undefined,
};

/** undici's error code for a connect that took longer than the connect timeout. */
const CONNECT_TIMEOUT = 'UND_ERR_CONNECT_TIMEOUT';

/**
 * One attempt of a request to an HTTP/1.1 upstream through undici (the handler of its dispatch):
 * the response streams back with back-pressure (undici pauses reading the upstream while the
 * client's socket is full), the request body goes up the same way. Timeouts are the proxy's own:
 * the connect timeout (undici's connector, per Agent), the longest silence of the upstream while
 * the body is sent (proxy-send-timeout), then while the answer is awaited and read
 * (proxy-read-timeout), and a per-try limit (retryPolicy.perTryTimeout, HTTPRoute
 * backendRequest); all answer 504. A bodiless request whose connection fails goes to another
 * endpoint (nginx's proxy_next_upstream error), as does a 5xx answer when the route has a retry
 * policy.
 */
class Http1Exchange {
  private abortUpstream?: (err?: Error) => void;
  /** Set once the attempt failed, finished, or handed its request to a retry. */
  private done = false;
  /** A 5xx answer being drained while a retry is under way. */
  private discarding = false;
  private silence?: NodeJS.Timeout;
  private tryTimer?: NodeJS.Timeout;
  private resumeUpstream?: () => void;
  private drainHooked = false;
  private readonly bodiless: boolean;
  private readonly maxAttempts: number;

  constructor(
    private readonly proxy: IngressProxy,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly f: RequestFacts,
    readonly fw: Forward,
    readonly tls: boolean,
    readonly attempt: number,
  ) {
    // A request without a body can be sent again to another endpoint when the connection fails.
    this.bodiless = SAFE_METHODS.has(f.method) && !f.headers['content-length'] && !f.headers['transfer-encoding'];
    // Contour's retryPolicy: `count` more tries on a 5xx, a failed connection or a per-try timeout.
    const retries = fw.route.policy?.retries;
    this.maxAttempts = retries ? retries.count + 1 : MAX_ATTEMPTS;
  }

  start(): void {
    const { f, fw } = this;
    const o = fw.route.options;
    const { address, port } = fw.endpoint;
    fw.upstream.start ??= performance.now();
    fw.upstream.addr = `${address}:${port}`;
    const perTry = fw.route.policy?.retries?.perTryTimeoutMs ?? fw.route.policy?.backendRequestTimeoutMs;
    if (perTry) this.tryTimer = setTimeout(this.onTimeout, perTry);
    this.silentFor(this.bodiless ? o.readTimeoutMs : o.sendTimeoutMs);
    this.res.once('close', this.onClientClose);
    const host = address.includes(':') ? `[${address}]` : address;
    this.proxy.dispatcher(this.tls, o.connectTimeoutMs).dispatch(
      {
        origin: `${this.tls ? 'https' : 'http'}://${host}:${port}`,
        method: f.method,
        path: fw.upstreamPath,
        headers: this.proxy.upstreamHeaders(f, false, fw.route.filters) as Record<string, string | string[]>,
        body: this.bodiless ? null : this.body(),
        servername: this.tls && !isIP(f.host) ? f.host : undefined,
      } as Dispatcher.DispatchOptions,
      this,
    );
  }

  /** The request body as it is sent: counted against proxy-body-size, each chunk refreshing the send timeout. */
  private async *body(): AsyncGenerator<Buffer> {
    const o = this.fw.route.options;
    let sent = 0;
    for await (const chunk of this.req as AsyncIterable<Buffer>) {
      this.silence?.refresh();
      sent += chunk.length;
      if (o.maxBodyBytes && sent > o.maxBodyBytes) {
        this.fail(413);
        return;
      }
      yield chunk;
    }
    if (!this.done) this.silentFor(o.readTimeoutMs);
  }

  private silentFor(ms: number): void {
    clearTimeout(this.silence);
    this.silence = setTimeout(this.onTimeout, ms);
  }

  private readonly onTimeout = (): void => this.fail(504);

  private readonly onClientClose = (): void => {
    this.clearTimers();
    if (!this.res.writableFinished && !this.done) {
      this.done = true;
      this.abortUpstream?.();
    }
  };

  private readonly onDrain = (): void => this.resumeUpstream?.();

  private clearTimers(): void {
    clearTimeout(this.silence);
    clearTimeout(this.tryTimer);
  }

  /** Ends this attempt: another endpoint when allowed, else the status to the client. */
  private fail(status: number, err?: Error & { code?: string }): void {
    if (this.done) return;
    this.done = true;
    this.clearTimers();
    this.res.off('close', this.onClientClose);
    this.abortUpstream?.();
    const code = err?.code ?? '';
    const retries = this.fw.route.policy?.retries;
    if (err && RETRYABLE.has(code) && this.mayRetry() && this.proxy.retryHttp1(this)) return;
    if (status === 504 && retries && this.mayRetry() && this.proxy.retryHttp1(this)) return;
    if (err) this.proxy.log.debug({ err, endpoint: this.fw.endpoint }, 'ingress: upstream failed');
    this.proxy.reply(this.res, { status });
  }

  private mayRetry(): boolean {
    return this.bodiless && this.attempt < this.maxAttempts && !this.res.headersSent;
  }

  // undici's dispatch handler.

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.done) abort();
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (status < 200) return true; // 1xx informational answers are not passed on
    const { res, fw } = this;
    clearTimeout(this.tryTimer);
    if (this.done || res.headersSent || res.writableEnded) {
      this.done = true;
      this.abortUpstream?.();
      return false;
    }
    if (status >= 500 && fw.route.policy?.retries && this.mayRetry()) {
      // The 5xx answer is read to its end (the connection stays usable) while another endpoint is tried.
      this.done = this.discarding = true;
      this.clearTimers();
      res.off('close', this.onClientClose);
      if (this.proxy.retryHttp1(this)) return true;
      this.done = this.discarding = false;
      res.once('close', this.onClientClose);
    }
    const headers = responseHeaders(raw);
    Object.assign(headers, fw.extraHeaders);
    editHeaders(headers, fw.route.filters?.responseHeaders);
    res.writeHead(status, headers);
    fw.upstream.status = status;
    this.resumeUpstream = resume;
    this.silence?.refresh();
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.discarding) return true;
    this.silence?.refresh();
    if (this.res.write(chunk)) return true;
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.res.on('drain', this.onDrain);
    }
    return false;
  }

  onComplete(): void {
    if (this.discarding) return;
    this.done = true;
    this.clearTimers();
    this.fw.upstream.end = performance.now();
    this.res.end();
  }

  onError(err: Error & { code?: string }): void {
    if (this.discarding || this.done) return;
    if (this.res.headersSent) {
      this.done = true;
      this.clearTimers();
      this.res.destroy();
      return;
    }
    this.fail(err.code === CONNECT_TIMEOUT ? 504 : 502, err);
  }
}
