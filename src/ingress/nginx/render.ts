// nginx.conf for the NGINX data plane (docs/ingress.md, "Data plane"): a pure function of the
// proxy configuration (route table, TLS, passthrough hosts) and the endpoints. NGINX owns the
// main ports; hosts all of whose routes it can express exactly ("native" hosts: plain Ingress
// routes, see nativeRoute) are served by it, everything else goes to the JS proxy on its internal
// loopback ports, which keeps today's behaviour for it:
//   - port 443, "direct" TLS (no passthrough or tcpproxy route, see tlsMode): NGINX's `http`
//     server terminates TLS for every name (each name's certificate by SNI, the default one
//     otherwise), serves native hosts and passes the rest to the JS proxy's plain listener as on
//     port 80, with scheme https in X-K8ts-Front (HTTP/2 requests as h2c with grpc_pass);
//   - port 443, "relay" TLS (some route needs the ClientHello itself): a `stream` server reads the
//     server name (ssl_preread); a native host with a usable certificate goes to NGINX's own TLS
//     server (a unix socket, PROXY protocol), any other name (none, unknown, passthrough,
//     non-native) to the JS proxy's TLS listener with a PROXY protocol header;
//   - port 80 (and the TLS server): a server block per native host with a location per path;
//     non-native hosts and unmatched paths are proxied to the JS proxy's plain listener, with the
//     client in X-K8ts-Front next to a per-start token.
// A reload moves the HTTPS port between the two modes without a restart (NGINX keeps the
// listening socket and gives it to the other module's new workers).
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { logFormat } from './accesslog.js';
import type { Endpoint } from '../backends.js';
import type { CertificatePair } from '../tls.js';
import {
  hostMatches,
  type HostRoutes,
  type Route,
  type RouteTable,
  type ServiceBackend,
  type StreamRoute,
} from '../routes.js';

export interface RenderInput {
  table: RouteTable;
  passthrough: readonly StreamRoute[];
  /** The certificate the JS proxy would serve for this TLS server name (exact, else wildcard), when its Secret is usable. */
  certificate(name: string): CertificatePair | undefined;
  /** Ready endpoints of a route's Service port ([] for none or an unknown Service). */
  endpoints(b: ServiceBackend): readonly Endpoint[];
  defaultCertificate: CertificatePair;
  bindAddress: string;
  /** The public ports NGINX listens on. */
  httpPort: number;
  httpsPort: number;
  /** The JS proxy's internal loopback listeners. */
  jsHttpPort: number;
  jsHttpsPort: number;
  /** Proves a request to the JS proxy's plain listener comes from NGINX. */
  token: string;
  /** Directory of the runtime files: pid, error log, sockets, certificates, temp files. */
  dir: string;
  /** The stream module (Debian's libnginx-mod-stream). */
  streamModule: string;
  workers: number;
  /** Worker user (when NGINX starts as root). */
  user?: string;
  /** Serve no host natively (everything through the JS proxy). */
  noNative?: boolean;
  /** Keep the HTTPS port on the stream relay even when direct TLS would do (tlsMode). */
  relay?: boolean;
  /** NGINX logs the requests it serves as JSON to syslog on this UDP port of 127.0.0.1 (accesslog.ts); 0: no log. */
  logPort?: number;
  /** Blocks of unchanged hosts from earlier renders (the result is the same with or without it). */
  cache?: RenderCache;
  /** htpasswd users by auth Secret (`namespace/name`), as the JS proxy has them. */
  users?: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

interface HostBlocks {
  generation: number;
  settings: string;
  cert: CertificatePair | undefined;
  servers: string[];
  upstreams: [string, string][];
  certFile?: [string, string];
  /** htpasswd files. */
  files: [string, string][];
}

/**
 * What earlier renders made of each host, by its HostRoutes object (route tables share those of
 * unchanged hosts) and certificate; `invalidate` when endpoints change (upstream blocks and 503s
 * depend on them). With 1,000 hosts a render from scratch takes tens of milliseconds of the event
 * loop; with the cache a change costs about what it touches.
 */
export class RenderCache {
  private generation = 0;
  private readonly hosts = new WeakMap<HostRoutes, HostBlocks>();
  private readonly files = new WeakMap<CertificatePair, [string, string]>();

  invalidate(): void {
    this.generation++;
  }

  /** @internal */ get(h: HostRoutes, cert: CertificatePair | undefined, settings: string): HostBlocks | undefined {
    const hit = this.hosts.get(h);
    return hit && hit.generation === this.generation && hit.cert === cert && hit.settings === settings
      ? hit
      : undefined;
  }

  /** @internal */ set(h: HostRoutes, blocks: Omit<HostBlocks, 'generation'>): void {
    this.hosts.set(h, { ...blocks, generation: this.generation });
  }

  /** @internal */ certificateFile(pair: CertificatePair): [string, string] {
    let f = this.files.get(pair);
    if (!f) this.files.set(pair, (f = certificateEntry(pair)));
    return f;
  }
}

export interface RenderedConfig {
  /** nginx.conf. */
  text: string;
  /** Files nginx.conf refers to, by name in `dir` (certificates with their keys). */
  files: Map<string, string>;
  /** Hosts NGINX serves over plain HTTP and over TLS. */
  nativeHttp: string[];
  nativeTls: string[];
  /** How the HTTPS port is served (tlsMode). */
  tlsMode: TlsMode;
}

/**
 * How NGINX takes the HTTPS port. `direct`: its http server terminates every TLS connection
 * itself (one process, no relay: ~25 µs less CPU per request than `relay`). `relay`: a stream
 * server reads the ClientHello first and relays the bytes, NGINX's own TLS server taking native
 * hosts and the JS proxy's TLS listener the rest; needed while a route must see the raw
 * connection (ssl-passthrough Ingresses, HTTPProxy tls.passthrough and tcpproxy, TLSRoutes on the
 * port), or while a certificate is named in a way NGINX cannot write as a server_name.
 */
export type TlsMode = 'direct' | 'relay';

export function tlsMode(o: Pick<RenderInput, 'table' | 'passthrough' | 'certificate' | 'relay'>): TlsMode {
  if (o.relay || o.passthrough.length) return 'relay';
  // `*` (a Gateway listener without a hostname) matches no server name in the JS proxy either.
  for (const name of o.table.tls.keys())
    if (name !== '*' && !SAFE_HOST.test(name) && o.certificate(name)) return 'relay';
  return 'direct';
}

/** Host names NGINX can take as written: DNS labels, or `*.` and labels. */
const SAFE_HOST = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
/**
 * Paths written into a location as they are: no quotes, spaces, braces, `;`, `$` (variables) or
 * `%` (NGINX matches locations on the decoded path, the JS proxy on the path as sent).
 */
const SAFE_PATH = /^\/[A-Za-z0-9._~!*'()+,=:@/-]*$/;

/**
 * Password hashes NGINX checks as the JS proxy does (htpasswd.ts): Apache MD5 and MD5-crypt,
 * {SHA}, bcrypt (crypt(3) of libxcrypt). Lines without a scheme are plain text to the JS proxy
 * and crypt(3) input to NGINX: not native.
 */
const NATIVE_HASH = /^(\$apr1\$|\$1\$|\{SHA\}|\$2[aby]\$)/;

/** The htpasswd users of a route's basic auth when NGINX can check them exactly, else undefined. */
export function nativeUsers(
  r: Route,
  users: ReadonlyMap<string, ReadonlyMap<string, string>> | undefined,
): ReadonlyMap<string, string> | undefined {
  const auth = r.options.basicAuth;
  if (!auth || !safeValue(auth.realm || 'x') || /["\\]/.test(auth.realm)) return undefined;
  const known = users?.get(`${auth.secret.namespace}/${auth.secret.name}`);
  if (!known?.size) return undefined;
  for (const [user, hash] of known)
    if (!NATIVE_HASH.test(hash) || /[:\s]/.test(user) || /\s/.test(hash)) return undefined;
  return known;
}

/** Whether NGINX can serve a route exactly as the JS proxy would. */
export function nativeRoute(r: Route, users?: ReadonlyMap<string, ReadonlyMap<string, string>>): boolean {
  if (r.kind && r.kind !== 'Ingress') return false;
  if (r.conditions || r.filters || r.policy || r.weighted || r.directStatus || r.canaries.length || r.regex)
    return false;
  if (r.pathType !== 'Exact' && r.pathType !== 'Prefix' && r.pathType !== 'ImplementationSpecific') return false;
  if (!SAFE_PATH.test(r.path)) return false;
  const o = r.options;
  if (
    o.permanentRedirect &&
    (!REDIRECT_CODES.has(o.permanentRedirect.code) || !safeValue(o.permanentRedirect.location))
  )
    return false;
  if (o.appRoot && !safeValue(o.appRoot)) return false;
  if (!o.allowSourceRanges.every(validRange)) return false;
  if (o.basicAuth && !nativeUsers(r, users)) return false;
  return !(o.useRegex || o.rewriteTarget || o.backendProtocol !== 'HTTP' || o.canary || o.cors);
}

/** Codes NGINX's `return` answers with a Location (others would take the URL as the body). */
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

/** A value written in quotes into nginx.conf where variables would be expanded: no `$`, no control characters. */
function safeValue(v: string): boolean {
  return v.length > 0 && !v.includes('$') && ![...v].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
}

/** An address or CIDR range NGINX's geo module takes as the JS proxy does (anything else is not native). */
function validRange(r: string): boolean {
  const [addr, bits, extra] = r.split('/');
  if (extra !== undefined) return false;
  const kind = isIP(addr);
  if (!kind) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (kind === 4 ? 32 : 128);
}

function hostRouteList(h: HostRoutes): Route[] {
  return [...h.exact.values(), ...h.ordered, ...(h.fallback ? [h.fallback] : [])];
}

/** Whether a host's requests over plain HTTP can be served by NGINX (every route native). */
export function nativeHost(
  host: string,
  h: HostRoutes,
  users?: ReadonlyMap<string, ReadonlyMap<string, string>>,
): boolean {
  return SAFE_HOST.test(host) && !h.regexMode && hostRouteList(h).every((r) => nativeRoute(r, users));
}

/** A TLS passthrough (or tcpproxy) route takes this name (or names of this wildcard). */
function passedThrough(host: string, list: readonly StreamRoute[]): boolean {
  return list.some((r) => r.hosts.some((p) => p === host || hostMatches(p, host) || hostMatches(host, p)));
}

const q = (s: string) => `"${s.replace(/["\\]/g, (c) => '\\' + c)}"`;

/** A wildcard `*.example.com` as a regex taking one label, upstream's semantics (NGINX's mask takes several). */
export function wildcardRegex(host: string): string {
  return `~^[^.]+${host.slice(1).replace(/\./g, '\\.')}$`;
}

const serverName = (host: string) => (host.startsWith('*.') ? q(wildcardRegex(host)) : host);

function listenAddress(bind: string, port: number): string {
  return bind.includes(':') ? `[${bind}]:${port}` : `${bind}:${port}`;
}

/** A stable upstream name for a Service port. */
function upstreamName(b: ServiceBackend): string {
  const id = `${b.namespace}/${b.service}:${b.port.name ?? ''}:${b.port.number ?? ''}`;
  return `k8ts_${createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
}

function certificateEntry(pair: CertificatePair): [string, string] {
  const body = `${pair.cert.trim()}\n${pair.key.trim()}\n`;
  return [`tls-${createHash('sha256').update(body).digest('hex').slice(0, 16)}.pem`, body];
}

function certificateFile(pair: CertificatePair, files: Map<string, string>, cache?: RenderCache): string {
  const [name, body] = cache ? cache.certificateFile(pair) : certificateEntry(pair);
  files.set(name, body);
  return name;
}

/** Locations are rendered on a path's normalized form (Prefix matching ignores trailing slashes). */
function prefixBase(path: string): string {
  return path.replace(/\/+$/, '');
}

/** NGINX's TLS server listens on this unix socket in the runtime directory. */
export const TLS_SOCKET = 'https.sock';

const ms = (n: number) => `${Math.max(1, Math.round(n))}ms`;

export function renderNginxConfig(o: RenderInput): RenderedConfig {
  const files = new Map<string, string>();
  const upstreams = new Map<string, string>();
  const dir = o.dir;
  const httpListen = listenAddress(o.bindAddress, o.httpPort);
  const socket = `unix:${dir}/${TLS_SOCKET}`;
  const mode = tlsMode(o);
  const direct = mode === 'direct';
  const tlsListen = direct
    ? `${listenAddress(o.bindAddress, o.httpsPort)} ssl http2`
    : `${socket} ssl http2 proxy_protocol`;
  const defaultCert = certificateFile(o.defaultCertificate, files, o.cache);
  // Per server with a TLS listener, not at the http level: every server block would load it then
  // (a second per 1,000 hosts in `nginx -t` and each reload).
  /** A server block's certificate lines: the file holds both the certificate and its key. */
  const certificateLines = (file: string) => [`ssl_certificate ${dir}/${file};`, `ssl_certificate_key ${dir}/${file};`];
  const defaultCertLines = certificateLines(defaultCert);
  /** The certificate lines of a server block: this pair's file, else the default certificate. */
  const certLines = (pair: CertificatePair | undefined): string[] =>
    pair ? certificateLines(certificateFile(pair, files, o.cache)) : defaultCertLines;

  /**
   * The geo variable of a whitelist-source-range list (1 inside the ranges); its block goes with
   * the upstreams (http level, shared by routes with the same list, cached with the host's).
   */
  const allowVariable = (ranges: string[]): string => {
    const v = `$k8ts_allow_${createHash('sha256').update(ranges.join(',')).digest('hex').slice(0, 12)}`;
    const text = `  geo ${v} {\n    default 0;\n${ranges.map((r) => `    ${r} 1;\n`).join('')}  }\n`;
    upstreams.set(v, text);
    used.set(v, text);
    return v;
  };
  /** Upstreams the host being rendered uses (kept with its blocks in the cache). */
  let used = new Map<string, string>();
  /** Files (htpasswd) the host being rendered uses. */
  let usedFiles = new Map<string, string>();
  const upstreamFor = (b: ServiceBackend): string | undefined => {
    const eps = o.endpoints(b);
    if (!eps.length) return undefined;
    const name = upstreamName(b);
    const known = upstreams.get(name);
    if (known) used.set(name, known);
    else {
      const servers = eps.map(
        (e) => `    server ${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port} max_fails=0;`,
      );
      const text = `  # ${b.namespace}/${b.service}:${b.port.name ?? b.port.number}\n  upstream ${name} {\n${servers.join('\n')}\n    keepalive 64;\n  }\n`;
      upstreams.set(name, text);
      used.set(name, text);
    }
    return name;
  };

  /** The body of a location serving a native route. */
  const routeBody = (r: Route, secure: boolean): string[] => {
    const out: string[] = [];
    const opt = r.options;
    // In the JS proxy's order: source ranges, the HTTPS redirect, permanent-redirect, app-root.
    if (opt.allowSourceRanges.length) out.push(`if (${allowVariable(opt.allowSourceRanges)} = 0) { return 403; }`);
    if (!secure && (opt.forceSslRedirect || (opt.sslRedirect && r.tls))) {
      const port = o.httpsPort === 443 ? '' : `:${o.httpsPort}`;
      out.push(`return 308 https://$host${port}$request_uri;`);
    }
    if (opt.permanentRedirect) out.push(`return ${opt.permanentRedirect.code} ${q(opt.permanentRedirect.location)};`);
    if (opt.appRoot) out.push(`if ($k8ts_root_path) { return 302 ${q(opt.appRoot)}; }`);
    const authUsers = nativeUsers(r, o.users);
    if (authUsers && opt.basicAuth) {
      const body = [...authUsers].map(([u, h]) => `${u}:${h}\n`).join('');
      const file = `htpasswd-${createHash('sha256').update(body).digest('hex').slice(0, 16)}`;
      files.set(file, body);
      usedFiles.set(file, body);
      out.push(`auth_basic ${q(opt.basicAuth.realm)};`, `auth_basic_user_file ${dir}/${file};`);
    }
    out.push(`client_max_body_size ${opt.maxBodyBytes};`);
    out.push(`proxy_connect_timeout ${ms(opt.connectTimeoutMs)};`);
    out.push(`proxy_read_timeout ${ms(opt.readTimeoutMs)};`);
    out.push(`proxy_send_timeout ${ms(opt.sendTimeoutMs)};`);
    const up = upstreamFor(r.backend);
    // No ready endpoints (or no such Service / port): 503, as the JS proxy answers (its log has no route then).
    if (up && o.logPort)
      out.push(
        `set $k8ts_namespace ${r.ingress.namespace};`,
        `set $k8ts_ingress ${r.ingress.name};`,
        `set $k8ts_service ${r.backend.service};`,
        `set $k8ts_path ${q(r.path)};`,
      );
    out.push(up ? `proxy_pass http://${up};` : 'return 503;');
    return out;
  };

  const toJs = [
    // HTTP/2 requests (gRPC, trailers) go on as HTTP/2: h2c, NGINX's grpc module.
    'error_page 418 = @k8ts_h2;',
    'if ($k8ts_h2) { return 418; }',
    'proxy_pass http://k8ts_js;',
    'proxy_set_header Host $http_host;',
    'proxy_set_header Connection $k8ts_connection;',
    'proxy_set_header Upgrade $http_upgrade;',
    `proxy_set_header X-K8ts-Front "${o.token} $remote_addr $remote_port $scheme";`,
    'proxy_next_upstream off;',
    'client_max_body_size 0;',
    'proxy_connect_timeout 5s;',
    'proxy_read_timeout 1d;',
    'proxy_send_timeout 1d;',
    // The JS proxy logs what it serves.
    'access_log off;',
  ];
  // NGINX's own requests: the log and the route's labels (empty unless a location sets them).
  const logging = o.logPort
    ? [
        `access_log syslog:server=127.0.0.1:${o.logPort},nohostname,tag=k8ts k8ts;`,
        ...['namespace', 'ingress', 'service', 'path'].map((v) => `set $k8ts_${v} "";`),
      ]
    : [];
  const logLines = logging.map((l) => `    ${l}\n`).join('');
  const block = (head: string, body: string[], indent = '    ') =>
    `${indent}${head} {\n${body.map((l) => `${indent}  ${l}`).join('\n')}\n${indent}}`;
  /** The JS proxy's HTTP/2 location (toJs sends HTTP/2 requests there). */
  const toH2 = [
    'grpc_pass grpc://k8ts_js_h2;',
    // Without it :authority would name the upstream; with it NGINX sends the client's as `host`.
    'grpc_set_header Host $http_host;',
    `grpc_set_header X-K8ts-Front "${o.token} $remote_addr $remote_port $scheme";`,
    'grpc_next_upstream off;',
    'client_max_body_size 0;',
    'grpc_connect_timeout 5s;',
    'grpc_read_timeout 1d;',
    'grpc_send_timeout 1d;',
    'access_log off;',
  ];
  /** The locations sending a server's requests to the JS proxy (HTTP/2 ones by its named location). */
  const jsLocations = (indent = '    ') => [
    block('location /', toJs, indent),
    block('location @k8ts_h2', toH2, indent),
  ];

  /** The locations of a native host. */
  const locations = (h: HostRoutes, secure: boolean): string[] => {
    const out: string[] = [];
    const exact = new Set<string>();
    const prefixes = new Set<string>();
    for (const [path, r] of h.exact) {
      exact.add(path);
      out.push(block(`location = ${path}`, routeBody(r, secure)));
    }
    let root = false;
    for (const r of h.ordered) {
      if (r.pathType === 'Exact') {
        if (exact.has(r.path)) continue;
        exact.add(r.path);
        out.push(block(`location = ${r.path}`, routeBody(r, secure)));
        continue;
      }
      const base = prefixBase(r.path);
      if (base === '') {
        if (root) continue;
        root = true;
        out.push(block('location /', routeBody(r, secure)));
        continue;
      }
      // `/foo` and `/foo/` are the same prefix: the first (the winner) takes it.
      if (prefixes.has(base)) continue;
      prefixes.add(base);
      if (!exact.has(base)) {
        exact.add(base);
        out.push(block(`location = ${base}`, routeBody(r, secure)));
      }
      out.push(block(`location ^~ ${base}/`, routeBody(r, secure)));
    }
    // Unmatched paths: the host's defaultBackend, else the JS proxy (the cluster's default backend or 404).
    if (!root) out.push(...(h.fallback ? [block('location /', routeBody(h.fallback, secure))] : jsLocations()));
    return out;
  };

  const nativeHttp: string[] = [];
  const nativeTls: string[] = [];
  const servers: string[] = [];
  const sniMap: string[] = [];
  const hosts = o.table.namedHosts();
  const natives = new Set(
    o.noNative ? [] : hosts.filter(([host, h]) => nativeHost(host, h, o.users)).map(([host]) => host),
  );
  // A name that is not native needs a block of its own only where a native wildcard would take it
  // (exact names win, as in the JS proxy); the default server sends the others to the JS proxy.
  // So HTTPProxies, HTTPRoutes and other non-native hosts do not change nginx.conf at all.
  const suffixes = (list: Iterable<string>) =>
    new Set([...list].filter((w) => w.startsWith('*.')).map((w) => w.slice(1)));
  const nativeSuffixes = suffixes(natives);
  /** Native wildcards NGINX's TLS server has (with a certificate). */
  const tlsWildcards = suffixes(
    [...natives].filter((w) => w.startsWith('*.') && !passedThrough(w, o.passthrough) && o.certificate(w)),
  );
  /** Whether a native wildcard (one label, `*.suffix`) would take this exact name. */
  const underNativeWildcard = (host: string, wild = nativeSuffixes) => {
    const dot = host.indexOf('.');
    return !host.startsWith('*.') && dot > 0 && wild.has(host.slice(dot));
  };
  const settings = `${o.logPort ?? 0} ${mode}`;
  /** The server blocks of a native host (from the cache when the host and its certificate are unchanged). */
  const nativeBlocks = (
    host: string,
    h: HostRoutes,
    cert: CertificatePair | undefined,
  ): HostBlocks | Omit<HostBlocks, 'generation'> => {
    const hit = o.cache?.get(h, cert, settings);
    if (hit) return hit;
    used = new Map();
    usedFiles = new Map();
    const name = serverName(host);
    const blocks: string[] = [
      `  server {\n    listen ${httpListen};\n    server_name ${name};\n${logLines}${locations(h, false).join('\n')}\n  }`,
    ];
    let certFile: [string, string] | undefined;
    // Direct TLS: every native host has a TLS server (the default certificate without one of its own).
    if (cert || direct) {
      if (cert) certFile = o.cache ? o.cache.certificateFile(cert) : certificateEntry(cert);
      const lines = certFile ? certificateLines(certFile[0]) : defaultCertLines;
      blocks.push(
        `  server {\n    listen ${tlsListen};\n    server_name ${name};\n${lines.map((l) => `    ${l}\n`).join('')}${logLines}${locations(h, true).join('\n')}\n  }`,
      );
    }
    const made = { settings, cert, servers: blocks, upstreams: [...used], certFile, files: [...usedFiles] };
    o.cache?.set(h, made);
    return made;
  };
  /** A server of the JS proxy's: plain HTTP and/or TLS (with this certificate, else the default one). */
  const jsServer = (host: string, plain: boolean, cert: CertificatePair | undefined) =>
    block(
      'server',
      [
        ...(plain ? [`listen ${httpListen};`] : []),
        `listen ${tlsListen};`,
        `server_name ${serverName(host)};`,
        ...certLines(cert),
        ...jsLocations(''),
      ],
      '  ',
    );
  /** Names NGINX's TLS server has a server block for (direct TLS: the others get the default certificate). */
  const tlsNamed = new Set<string>();
  for (const [host, h] of hosts) {
    const native = natives.has(host);
    if (!native) {
      // Named so a native wildcard does not take it: exact names win, as in the JS proxy. With
      // direct TLS a name with a certificate needs a server too (NGINX picks the certificate).
      const cert = direct && SAFE_HOST.test(host) ? o.certificate(host) : undefined;
      const wild = underNativeWildcard(host);
      if (!wild && !cert) continue;
      servers.push(jsServer(host, wild, cert));
      tlsNamed.add(host);
      continue;
    }
    nativeHttp.push(host);
    tlsNamed.add(host);
    // Relay: without a certificate of its own its TLS connections go to the JS proxy (by SNI;
    // no-SNI requests for it reach NGINX's default TLS server, which passes them on too).
    const cert = passedThrough(host, o.passthrough) ? undefined : o.certificate(host);
    const made = nativeBlocks(host, h, cert);
    servers.push(...made.servers);
    if (direct) nativeTls.push(host);
    if (!direct && !cert && underNativeWildcard(host, tlsWildcards)) servers.push(jsServer(host, false, undefined));
    for (const [name, text] of made.upstreams) upstreams.set(name, text);
    for (const [name, body] of made.files) files.set(name, body);
    if (made.certFile) {
      files.set(made.certFile[0], made.certFile[1]);
      if (!direct) nativeTls.push(host);
    }
  }
  // Direct TLS: certificates of names no route has (a TLS section alone) are served by SNI too.
  if (direct)
    for (const name of o.table.tls.keys()) {
      if (tlsNamed.has(name) || !SAFE_HOST.test(name)) continue;
      const cert = o.certificate(name);
      if (cert) servers.push(jsServer(name, false, cert));
    }
  const tlsHosts = new Set(nativeTls);
  const tlsSuffixes = suffixes(tlsHosts);
  // No server name (or an address as one): the default certificate, then routing by Host, as the
  // JS proxy does; NGINX's TLS server does that too (native Hosts served, others passed to the JS
  // proxy), unless a passthrough route takes any name (then the JS proxy reads the ClientHello).
  if (!direct && natives.size && !o.passthrough.some((p) => p.hosts.includes('')))
    sniMap.push(`    "" ${socket};`, `    ~^[0-9.]+$ ${socket};`);
  if (!direct)
    for (const host of nativeTls) sniMap.push(`    ${host.startsWith('*.') ? wildcardRegex(host) : host} ${socket};`);
  // Other TLS names that a native wildcard's regex would take go to the JS proxy by name.
  const others = new Set<string>([...o.table.tls.keys(), ...hosts.map(([h]) => h)]);
  for (const p of o.passthrough) for (const h of p.hosts) if (h) others.add(h);
  for (const host of direct ? [] : others) {
    if (tlsHosts.has(host) || !SAFE_HOST.test(host) || !underNativeWildcard(host, tlsSuffixes)) continue;
    sniMap.push(`    ${host.startsWith('*.') ? wildcardRegex(host) : host} 127.0.0.1:${o.jsHttpsPort};`);
  }

  const relayBlock = `stream {
  error_log ${dir}/error.log warn;
  map_hash_max_size 131072;
  map_hash_bucket_size 128;
  map $ssl_preread_server_name $k8ts_tls_target {
    hostnames;
${sniMap.join('\n')}${sniMap.length ? '\n' : ''}    default 127.0.0.1:${o.jsHttpsPort};
  }
  server {
    listen ${listenAddress(o.bindAddress, o.httpsPort)};
    ssl_preread on;
    preread_timeout 10s;
    proxy_pass $k8ts_tls_target;
    proxy_protocol on;
    proxy_timeout 1d;
  }
}
`;
  const text = `# Written by k8ts (the ingress's NGINX data plane); rewritten on every change.
load_module ${o.streamModule};
${o.user ? `user ${o.user};\n` : ''}worker_processes ${o.workers};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
pcre_jit on;

events {
  worker_connections 8192;
}

${direct ? '' : relayBlock}
http {
  access_log off;
  server_tokens off;
  # Thousands of hosts: hash sizes that fit at once (NGINX otherwise searches for them, ~1 s per load).
  server_names_hash_max_size 131072;
  server_names_hash_bucket_size 128;
  default_type text/html;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  underscores_in_headers on;
  large_client_header_buffers 4 16k;
  keepalive_timeout 75s;
  keepalive_requests 1000;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:k8ts_ssl:10m;
${direct ? '' : '  set_real_ip_from unix:;\n  real_ip_header proxy_protocol;\n'}
  map $http_upgrade $k8ts_connection {
    default upgrade;
    '' '';
  }
  # HTTP/2 requests go on to the JS proxy as HTTP/2 (h2c): gRPC and other trailers, as the client sent them.
  map $server_protocol $k8ts_h2 {
    default 0;
    HTTP/2.0 1;
  }
  map $http_x_request_id $k8ts_request_id {
    default $http_x_request_id;
    '' $request_id;
  }
${o.logPort ? `  log_format k8ts escape=json '${logFormat()}';\n` : ''}  map $request_uri $k8ts_root_path {
    default 0;
    "~^/(\\?.*)?$" 1;
  }
  map $scheme $k8ts_forwarded_port {
    https ${o.httpsPort};
    default ${o.httpPort};
  }

  # What native routes send upstream, as the JS proxy does.
  proxy_http_version 1.1;
  proxy_buffering off;
  proxy_request_buffering off;
  proxy_redirect off;
  absolute_redirect off;
  proxy_next_upstream error;
  proxy_next_upstream_tries 3;
  proxy_set_header Host $http_host;
  proxy_set_header Connection $k8ts_connection;
  proxy_set_header Upgrade $http_upgrade;
  proxy_set_header X-Request-ID $k8ts_request_id;
  proxy_set_header X-Real-IP $remote_addr;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Host $host;
  proxy_set_header X-Forwarded-Port $k8ts_forwarded_port;
  proxy_set_header X-Forwarded-Proto $scheme;
  proxy_set_header X-Forwarded-Scheme $scheme;
  proxy_set_header X-Scheme $scheme;

  upstream k8ts_js {
    server 127.0.0.1:${o.jsHttpPort};
    keepalive 64;
  }
  # The same listener, h2c (prior knowledge): connections of its own.
  upstream k8ts_js_h2 {
    server 127.0.0.1:${o.jsHttpPort};
    keepalive 16;
  }
${[...upstreams.values()].join('')}
  # Everything without a native server of its own: the JS proxy.
  server {
    listen ${httpListen} default_server;
    listen ${tlsListen} default_server;
    server_name _;
    ${defaultCertLines.join('\n    ')}
${logLines}${jsLocations().join('\n')}
  }
${servers.join('\n')}
}
`;
  return { text, files, nativeHttp, nativeTls, tlsMode: mode };
}
