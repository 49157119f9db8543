// The API server: HTTPS, authentication, routing to discovery/OpenAPI/REST, and the wiring of
// stores and watch caches for every served resource.
import http2 from 'node:http2';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import type { ClusterSettings, ResourceDef, StrategyContext } from '../api/types.js';
import * as errors from '../machinery/errors.js';
import { manageFields } from '../machinery/managedfields.js';
import { OpenAPIDocumentCache, type OpenAPISource } from '../machinery/openapi/documents.js';
import { definitionForGVK, type Definitions } from '../machinery/openapi/definitions.js';
import {
  OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
  acceptsOpenAPIV2Protobuf,
  encodeOpenAPIV2,
} from '../machinery/openapi/protobuf.js';
import { type Backend, StorageError } from '../storage/interface.js';
import { WatchCache } from '../storage/cacher.js';
import { TransformingBackend } from './encryption/backend.js';
import type { EncryptionConfig } from './encryption/config.js';
import { ServiceAllocators } from './allocators.js';
import { AGGREGATED_CONTENT_TYPE, Discovery, definedSubresources, type SubresourceInfo } from './discovery.js';
import { BuiltinFieldSchema } from './fieldschema.js';
import { negotiate, queryBool, send, sendError, sendObject } from './http.js';
import { applyPatch } from './patching.js';
import { type RequestInfo, type RequestTarget, parseRequestPath, splitRequestTarget } from './requestinfo.js';
import { ResourceRegistry, storagePrefixOf, verbsOf } from './resources.js';
import { RestHandler, checkRoute, type RequestScope } from './rest.js';
import type { HandlerDeps } from './handlers/request.js';
import { Paginator } from './paginate.js';
import { Store, type UserInfo } from './store.js';
import { websocketSink } from './watch.js';
import { AuthenticatorChain, type Authenticated } from './authn/chain.js';
import { ApiMetrics } from './metrics.js';
import { ExcludedLatency } from './excludedlatency.js';
import { CRDController } from './crd/controller.js';
import { registerSubresources } from './subresources.js';
import type { ExtraSubresource, ServingApi } from './serving.js';
import { HeapGuard } from './heapguard.js';
import { type AdmissionChain, defaultAdmissionChain } from './admission/index.js';
import { storeReader } from './virtual.js';
import {
  ConnectionDeadlines,
  DEFAULT_SERVING_LIMITS,
  InflightLimiter,
  type ServingLimits,
  UnauthenticatedConnections,
  http2Settings,
  isLongRunning,
  requestDeadlineMs,
} from './limits.js';
import { Http2Response, asHttp1, isHttp2, rawSocketOf, trackSessionDeadlines } from './transport.js';
import { type KubeletClientConfig, type NodeProxy, registerNodeProxy } from './nodeproxy.js';
import { type ApiProxy, registerApiProxy } from './proxy/index.js';
import { type Authorization, requestAttributes } from './authz/index.js';
import { isPromise } from './convert.js';
import { FLOW_SCHEMA_UID_HEADER, FlowControl, PRIORITY_LEVEL_UID_HEADER } from './flowcontrol/index.js';
import { type AuditRecord, type Auditor, beginAudit } from './audit/index.js';
import { Aggregator, type AggregatorOptions } from './aggregator/index.js';

export const KUBERNETES_VERSION = { major: '1', minor: '30', gitVersion: 'v1.30.0+k8ts' };

export type { TokenAuthenticator } from './authn/types.js';

export interface ApiServerConfig {
  bindAddress: string;
  port: number;
  tls: { cert: string; key: string; ca: string };
  backend: Backend;
  /** Encryption at rest (--encryption-provider-config, or the generated default for Secrets). */
  encryption?: EncryptionConfig;
  cluster: ClusterSettings;
  resources: ResourceDef[];
  logger: Logger;
  /** Address clients use (discovery's serverAddressByClientCIDRs). */
  advertiseAddress?: string;
  version?: string;
  /** The API server's client certificate towards node agents (logs, exec, attach, port-forward, nodes/proxy). */
  kubeletClient?: KubeletClientConfig;
  /** Timeouts and in-flight caps (defaults: DEFAULT_SERVING_LIMITS, as kube-apiserver's). */
  limits?: Partial<ServingLimits>;
  /** --anonymous-auth: requests without credentials act as system:anonymous (default true, as upstream). */
  anonymousAuth?: boolean;
}

/**
 * TLS 1.2 suites limited to forward secrecy with AEAD ciphers (ECDHE with AES-GCM or ChaCha20),
 * as Go's defaults; TLS 1.3's suites are all of that kind.
 */
const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Request headers beyond this are refused with 431 (Go's http.Server: MaxHeaderBytes 1 MiB). */
const MAX_HEADER_BYTES = 1 << 20;

/**
 * A connection's protocol error: answered as Node does by default (400, 431 for headers over
 * the limit) but with a Status body, except for one that isn't the connection's fault.
 * Verifying a client certificate whose issuer has our CA's name but another key leaves an
 * OpenSSL error queued,
 * and Node reports it on the socket later although the connection works: that one is ignored,
 * so the request goes on to be answered 401 (its certificate authenticates nobody).
 */
function onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  const tlsSocket = socket as TLSSocket;
  if (err.code === 'ERR_SSL_EVP_LIB' && tlsSocket.encrypted && tlsSocket.authorized === false) return;
  if (socket.writable && err.code?.startsWith('HPE_')) {
    if (err.code === 'HPE_HEADER_OVERFLOW')
      return refuseConnection(
        socket,
        new errors.ApiError(431, 'BadRequest', `the request's headers are larger than ${MAX_HEADER_BYTES} bytes`),
      );
    return refuseConnection(socket, errors.badRequest(`the request could not be parsed: ${err.message}`));
  }
  socket.destroy();
}

/** A last answer on a connection the HTTP parser gave up on: a Status, then close. */
function refuseConnection(socket: Socket, e: errors.ApiError): void {
  const body = e.toStatusJSON();
  socket.end(
    `HTTP/1.1 ${e.code} ${STATUS_CODES[e.code]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  // end() closes once the answer is out; a peer that never reads it doesn't keep the socket.
  setTimeout(() => socket.destroy(), 5_000).unref();
}

/** Has the client closed its connection (HTTP/1.1) or stream (HTTP/2) before the answer? */
const clientGone = (res: ServerResponse) => res.destroyed || res.socket?.destroyed === true;

const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version', '/version/']);

export type { ExtraSubresource } from './serving.js';

export class ApiServer implements ServingApi {
  readonly registry = new ResourceRegistry();
  readonly allocators: ServiceAllocators;
  /** Client certificates, bearer tokens, anonymous requests (authn/). */
  readonly authentication: AuthenticatorChain;
  /** Paths served before (and without) authentication, e.g. the node join endpoints (join.ts). */
  readonly publicHandlers = new Map<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>();
  /** Extra subresources served for a resource (pods/binding, namespaces/finalize, ...). */
  readonly extraSubresources = new Map<string, ExtraSubresource>();
  private readonly caches = new Map<string, WatchCache>();
  private readonly prefixBackends = new Map<string, Backend>();
  private readonly stores = new Map<string, Store>();
  /** Admission plugins every write passes (NamespaceLifecycle, LimitRanger, ResourceQuota); webhooks register here. */
  readonly admission: AdmissionChain = defaultAdmissionChain({
    tryStore: (g, p) => this.tryStore(g, p),
    storeForKind: (g, k) => {
      const def = this.registry.all().find((d) => d.group === g && d.kind === k);
      return def ? this.tryStore(g, def.plural) : undefined;
    },
    authorizer: () => this.authorization,
    typeFor: (g, v, k) => this.schema.typeFor(g, v, k),
  });
  private readonly schema = new BuiltinFieldSchema();
  /** OpenAPI definitions of custom resources, by group/version/kind (published and used for pruning). */
  private readonly customSchemas = new Map<string, { definition: string; extra: Definitions }>();
  /** Serves CustomResourceDefinitions (started with the server). */
  readonly crds = new CRDController(this);
  /** The verb handlers, shared by the HTTP layer (rest.ts) and the in-process transport. */
  readonly handlers: HandlerDeps;
  private readonly rest: RestHandler;
  private readonly discovery: Discovery;
  private readonly openapi: OpenAPIDocumentCache;
  private readonly openapiV2Protobuf = new WeakMap<object, Buffer>();
  readonly metrics = new ApiMetrics();
  /** Authenticated and authorized non-resource paths served by other parts (e.g. /metrics/kube-state). */
  readonly nonResourceHandlers = new Map<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>();
  /** Refuses new objects while the heap is nearly full, so no create can exhaust it. */
  private readonly heapGuard = new HeapGuard();
  private server?: http2.Http2SecureServer<
    typeof IncomingMessage,
    typeof ServerResponse,
    typeof http2.Http2ServerRequest,
    typeof Http2Response
  >;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<() => void>();
  private inflight = 0;
  private stopping = false;
  readonly limits: ServingLimits;
  private readonly inflightLimiter: InflightLimiter;
  /** API Priority and Fairness (unset: --enable-priority-and-fairness=false, the max-in-flight filter). */
  readonly flowControl?: FlowControl;
  private readonly unauthenticated: UnauthenticatedConnections;
  private readonly deadlines = new ConnectionDeadlines();
  /** pods/log, exec, attach, portforward and nodes/proxy: requests passed to node agents. */
  private nodeProxy?: NodeProxy;
  private apiProxy?: ApiProxy;
  /** Authorizes every authenticated request (unset: every authenticated user may do everything). */
  authorization?: Authorization;
  /** Writes the audit log (--audit-policy-file and --audit-log-path); every request gets an Audit-Id regardless. */
  audit?: Auditor;
  /** APIServices: remote group versions proxied, Local ones registered (enableAggregation). */
  aggregator?: Aggregator;

  constructor(readonly config: ApiServerConfig) {
    this.limits = { ...DEFAULT_SERVING_LIMITS, ...config.limits };
    this.authentication = new AuthenticatorChain(config.anonymousAuth ?? true);
    this.inflightLimiter = new InflightLimiter(this.limits);
    if (this.limits.enablePriorityAndFairness) {
      // Upstream's server concurrency limit, and its queue wait limit (a quarter of the request timeout).
      const concurrency = this.limits.maxRequestsInflight + this.limits.maxMutatingRequestsInflight;
      this.flowControl = new FlowControl(this, concurrency || 600, this.limits.requestTimeoutMs / 4);
    }
    this.unauthenticated = new UnauthenticatedConnections(this.limits.maxUnauthenticatedConnections);
    this.allocators = new ServiceAllocators(config.cluster.serviceCIDR, config.cluster.nodePortRange);
    this.handlers = {
      storeFor: (d) => this.storeFor(d),
      virtualReader: storeReader((g, p) => this.tryStore(g, p)),
      backend: config.backend,
      schema: this.schema,
      patch: applyPatch,
      paginator: new Paginator(),
    };
    this.rest = new RestHandler(this.handlers);
    this.metrics.flowControl = () => this.flowControl;
    this.metrics.storageObjects = () =>
      [...this.stores.values()].map((st) => [
        st.def.group ? `${st.def.plural}.${st.def.group}` : st.def.plural,
        st.cache.items.size,
      ]);
    this.discovery = new Discovery(
      this.registry,
      (d) => this.subresourcesOf(d),
      () => config.advertiseAddress ?? `${config.bindAddress}:${config.port}`,
    );
    this.openapi = new OpenAPIDocumentCache([], undefined, {
      title: 'Kubernetes',
      version: config.version ?? KUBERNETES_VERSION.gitVersion,
    });
    this.registry.onChange(() => this.openapi.invalidate(() => this.openAPISource()));
  }

  /** The bearer-token authenticators of the chain (service accounts add theirs here). */
  get tokenAuthenticators(): AuthenticatorChain['tokens'] {
    return this.authentication.tokens;
  }

  get log(): Logger {
    return this.config.logger;
  }

  private subresourcesOf(def: ResourceDef): SubresourceInfo[] {
    const out = definedSubresources(def);
    for (const [key, sub] of this.extraSubresources)
      if (key.startsWith(`${def.group}/${def.plural}/`)) out.push(sub.info);
    return out;
  }

  private openAPISource(): OpenAPISource {
    const extra = Object.assign({}, ...[...this.customSchemas.values()].map((s) => s.extra)) as Definitions;
    return { resources: this.openAPIResources(), extra };
  }

  /** Publish (and prune by) the schema of a custom kind; `extra` holds `definition` and its list. */
  registerSchema(group: string, version: string, kind: string, definition: string, extra: Definitions): void {
    this.schema.register(group, version, kind, definition, extra);
    this.customSchemas.set(`${group}/${version}/${kind}`, { definition, extra });
  }

  unregisterSchema(group: string, version: string, kind: string): void {
    this.schema.unregister(group, version, kind);
    this.customSchemas.delete(`${group}/${version}/${kind}`);
  }

  private openAPIResources() {
    return this.registry.all().flatMap((def) =>
      def.versions
        .filter((v) => v.served !== false)
        .map((v) => ({
          group: def.group,
          version: v.name,
          kind: def.kind,
          plural: def.plural,
          namespaced: def.namespaced,
          verbs: [...verbsOf(def)],
          subresources: this.subresourcesOf(def).map((s) => s.name),
          definition:
            definitionForGVK(def.group, v.name, def.kind) ??
            this.customSchemas.get(`${def.group}/${v.name}/${def.kind}`)?.definition,
          strategicMerge: definitionForGVK(def.group, v.name, def.kind) !== undefined,
        })),
    );
  }

  storeFor(def: ResourceDef): Store {
    const store = this.stores.get(storagePrefixOf(def));
    if (!store) throw errors.internalError(`no storage for ${def.plural}`);
    return store;
  }

  /** Look up a resource's store by group and plural (for components inside the server). */
  store(group: string, plural: string): Store {
    const def = this.registry.all().find((d) => d.group === group && d.plural === plural);
    if (!def) throw errors.internalError(`unknown resource ${plural}.${group}`);
    return this.storeFor(def);
  }

  /** Objects stored of a resource (its watch cache's count): API Priority and Fairness' estimate of a LIST. */
  objectCount(group: string, plural: string): number | undefined {
    const cache = this.tryStore(group, plural)?.cache;
    return cache?.isReady ? cache.items.size : undefined;
  }

  /** A served resource's store, or undefined. */
  tryStore(group: string, plural: string): Store | undefined {
    // Fast path: the default storage prefix (this runs on every write).
    const store = this.stores.get(`/${group || 'core'}/${plural}/`);
    if (store && store.def.group === group && store.def.plural === plural) return store;
    const def = this.registry.all().find((d) => d.group === group && d.plural === plural);
    return def ? this.stores.get(storagePrefixOf(def)) : undefined;
  }

  strategyContext(operation: StrategyContext['operation'], warnings: string[], subresource?: string): StrategyContext {
    return { operation, subresource, cluster: this.config.cluster, warnings, allocators: this.allocators };
  }

  /** Serve a resource (at start, or a custom resource at run time). */
  async addResource(def: ResourceDef): Promise<void> {
    if (def.answerCreate || def.virtualList) return this.registry.add(def);
    const prefix = storagePrefixOf(def);
    if (!this.stores.has(prefix)) {
      let cache = this.caches.get(prefix);
      if (!cache) {
        cache = new WatchCache(this.backendFor(def), prefix, (_key, value, rev) => Store.decode(value, rev));
        await cache.start();
        this.caches.set(prefix, cache);
      }
      this.stores.set(prefix, this.newStore(def, cache));
    }
    this.registry.add(def);
  }

  /**
   * The backend as a resource sees it: through its encryption-at-rest transformer, if any. One per
   * storage prefix (the first resource stored there picks it), so a prefix shared by two groups'
   * resources (events) is read and written alike by its cache and its stores.
   */
  private backendFor(def: ResourceDef): Backend {
    const prefix = storagePrefixOf(def);
    let backend = this.prefixBackends.get(prefix);
    if (!backend) {
      const transformer = this.config.encryption?.transformerFor(def.group, def.plural);
      backend = transformer ? new TransformingBackend(this.config.backend, transformer) : this.config.backend;
      this.prefixBackends.set(prefix, backend);
    }
    return backend;
  }

  private newStore(def: ResourceDef, cache: WatchCache): Store {
    return new Store(def, {
      backend: this.backendFor(def),
      cache,
      strategyContext: (op, w, sub) => this.strategyContext(op, w, sub),
      admission: this.admission,
      admitNewObject: () => this.heapGuard.admitNewObject(),
      manageFields: (obj, old, ctx, apiVersion) =>
        manageFields(
          obj,
          old,
          ctx,
          apiVersion,
          this.schema.typeFor(def.group, apiVersion.slice(apiVersion.indexOf('/') + 1), def.kind),
          !!def.subresources?.status,
        ),
    });
  }

  /** Swap a served resource's definition in place (a CRD changed): same storage, new strategy. */
  replaceResource(old: ResourceDef, next: ResourceDef): void {
    const prefix = storagePrefixOf(old);
    const cache = this.caches.get(prefix);
    if (!cache || storagePrefixOf(next) !== prefix)
      throw errors.internalError(`cannot replace ${old.plural}: storage differs`);
    this.stores.set(prefix, this.newStore(next, cache));
    this.registry.replace(old, next);
  }

  removeResource(def: ResourceDef): Promise<void> {
    this.registry.remove(def);
    const prefix = storagePrefixOf(def);
    if (!this.registry.all().some((d) => storagePrefixOf(d) === prefix)) {
      this.stores.delete(prefix);
      this.caches.get(prefix)?.stop();
      this.caches.delete(prefix);
    }
    return Promise.resolve();
  }

  async start(): Promise<void> {
    const limits = this.limits;
    // Anonymous requests only where something decides what they may do (upstream turns them off
    // with AlwaysAllow too): without an authorizer they could do everything.
    if (!this.authorization || this.authorization.modes.includes('AlwaysAllow')) this.authentication.anonymous = false;
    registerSubresources(this);
    this.heapGuard.start({
      changed: (pressed, message) => {
        this.config.logger.warn(message);
        if (!pressed) for (const cache of this.caches.values()) cache.shedHistory(false);
        this.handlers.paginator.shed(pressed);
      },
      // (Trimmed here, not only as events arrive: a cache that fell quiet would keep its history.)
      underPressure: () => {
        for (const cache of this.caches.values()) cache.shedHistory(true);
        this.handlers.paginator.shed(true);
      },
    });
    this.nodeProxy = registerNodeProxy(this, this.config.kubeletClient);
    this.apiProxy = registerApiProxy(this, this.config.kubeletClient);
    for (const def of this.config.resources) await this.addResource(def);
    const services = this.caches.get('/core/services/');
    for (const s of services?.list() ?? []) this.allocators.observe(s.obj);
    // Custom resources of established CRDs are served before the server reports ready.
    await this.crds.start();
    const h2 = http2Settings(limits, MAX_HEADER_BYTES);
    // One listener for both protocols: ALPN picks h2 for clients that offer it, HTTP/1.1 for the rest.
    const server = http2.createSecureServer({
      allowHTTP1: true,
      settings: h2.settings,
      // Go has no count limit on header fields (only their size); Node's default is 128.
      maxHeaderListPairs: 1 << 16,
      // Room for every stream's full upload window (Node refuses new streams past this).
      maxSessionMemory: Math.ceil((2 * h2.connectionWindow) / (1 << 20)),
      Http2ServerResponse: Http2Response,
      ...this.secureContextOptions(),
      requestCert: true,
      rejectUnauthorized: false,
      handshakeTimeout: limits.tlsHandshakeTimeoutMs,
    });
    // HTTP/1.1 connections go to Node's HTTP/1 server code, which reads its options from here.
    Object.assign(server, {
      // Node's own header and request deadlines are off: on a TLS connection that has sent
      // nothing they never fire, and when they do fire they can leave the TCP connection open
      // (Node 20). ConnectionDeadlines and the request deadline in handle() do their work.
      headersTimeout: 0,
      requestTimeout: 0,
      keepAliveTimeout: limits.idleTimeoutMs,
      maxHeaderSize: MAX_HEADER_BYTES,
      // Headers are bounded by their size (maxHeaderSize), as in Go, not their count: past Node's count
      // limit the rest are dropped silently, Host included, and the request is refused for lacking one.
      maxHeadersCount: 0,
      requireHostHeader: true,
    });
    this.server = server;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      this.unauthenticated.opened(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('session', (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      session.setLocalWindowSize(h2.connectionWindow);
      trackSessionDeadlines(session, this.deadlines, limits);
    });
    // A session's socket error (a reset, a protocol error) ends that session only.
    server.on('sessionError', (err: Error) => this.log.debug({ err }, 'HTTP/2 session error'));
    server.on('secureConnection', (s: TLSSocket) => {
      if (s.authorized) this.unauthenticated.authenticated(rawSocketOf(s));
      // An HTTP/2 connection's deadlines follow its session (see trackSessionDeadlines).
      if (s.alpnProtocol !== 'h2') this.deadlines.arm(s, limits.readHeaderTimeoutMs);
      s.setNoDelay(true);
      // The client certificate of a connection can't change under us (as in Go's TLS server),
      // so the identity it carries is worked out once per connection; see authenticate.
      s.disableRenegotiation();
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => onClientError(err, socket));
    server.on(
      'request',
      (request: http2.Http2ServerRequest | IncomingMessage, response: http2.Http2ServerResponse | ServerResponse) => {
        const [req, res] = asHttp1(request, response);
        if (!isHttp2(req)) {
          // Served: no deadline while the handler works; idle (keep-alive) once it has answered.
          this.deadlines.disarm(req.socket);
          res.once('finish', () => this.deadlines.arm(req.socket, limits.idleTimeoutMs));
        }
        void this.handle(req, res);
      },
    );
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.deadlines.disarm(socket);
      void this.upgrade(req, socket, head);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.port, this.config.bindAddress, () => resolve());
    });
  }

  get port(): number {
    const addr = this.server?.address();
    return typeof addr === 'object' && addr ? addr.port : this.config.port;
  }

  /** Serve APIServices (after start, once kube-system exists): see aggregator/. */
  async enableAggregation(options: AggregatorOptions): Promise<void> {
    this.aggregator = new Aggregator(this, options);
    await this.aggregator.start(this.discovery);
  }

  /** Stop accepting, end watches, let in-flight requests finish, close storage. */
  /**
   * Serves a new certificate from now on (a renewal): new connections get it, open ones keep
   * theirs. The rest of the TLS settings stay as start() made them.
   */
  setServingCertificate(cert: string, key: string): void {
    this.config.tls.cert = cert;
    this.config.tls.key = key;
    this.server?.setSecureContext(this.secureContextOptions());
  }

  private secureContextOptions(): SecureContextOptions {
    const { tls: t } = this.config;
    return { cert: t.cert, key: t.key, ca: t.ca, minVersion: 'TLSv1.2', ciphers: TLS_CIPHERS };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.aggregator?.stop();
    this.flowControl?.stop();
    const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    for (const end of this.watches) end();
    for (const ws of this.wss.clients) ws.close(1001);
    // HTTP/2: GOAWAY now, so clients open no new streams; open ones may finish.
    for (const session of this.sessions) session.close();
    const deadline = Date.now() + 10_000;
    // In-flight requests finish, and ended watches flush what they still buffer (a watcher that
    // reads slowly can be seconds behind): a watch cut before its end is a watch error to clients.
    while ((this.inflight > 0 || this.watches.size > 0) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    // (Node's HTTP/2 server has closeIdleConnections for its HTTP/1.1 connections; its types lack it.)
    (this.server as unknown as { closeIdleConnections?: () => void } | undefined)?.closeIdleConnections?.();
    setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, 1000).unref();
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((r) => (grace = setTimeout(r, 1500)))]);
    clearTimeout(grace); // a pending timer would keep an embedding process alive for 1.5 s
    this.crds.stop();
    this.audit?.close();
    this.heapGuard.stop();
    for (const c of this.caches.values()) c.stop();
    await this.config.backend.close();
  }

  /**
   * The request's user, or a 401. A connection is counted as authenticated (out of the cap on
   * unauthenticated ones) only once a request on it presented credentials that were accepted:
   * anonymous requests leave it where it was.
   */
  private async authenticate(req: IncomingMessage): Promise<Authenticated> {
    const authenticated = await this.authentication.authenticate(req);
    if (!authenticated) throw errors.unauthorized();
    if (!authenticated.anonymous) this.unauthenticated.authenticated(rawSocketOf(req.socket));
    return authenticated;
  }

  /** Impersonation and authorization (authz/): the user the request acts as, or a 403. */
  private authorize(
    user: UserInfo,
    info: RequestInfo,
    req: IncomingMessage,
    query: URLSearchParams,
    audit?: AuditRecord,
  ): UserInfo {
    return this.authorization
      ? this.authorization.authorizeRequest(
          user,
          info,
          req.method ?? 'GET',
          query,
          req.headers,
          audit && ((actor, r) => audit.authorized(user, actor, r)),
        )
      : user;
  }

  /** An unauthenticated request as the audit policy sees it (a path we can't parse: as a non-resource one). */
  private anonymousAttributes(pathname: string, method: string | undefined, query: URLSearchParams) {
    let info: RequestInfo;
    try {
      info = parseRequestPath(pathname);
    } catch {
      info = { kind: 'other', path: pathname };
    }
    return requestAttributes({ name: '', groups: [] }, info, method ?? 'GET', query);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const excluded = new ExcludedLatency();
    this.inflight++;
    // Shutting down: finish this request, but close the connection after it (as Go's
    // Server.Shutdown does), so busy keep-alive connections don't keep bringing new work.
    if (this.stopping) res.setHeader('Connection', 'close');
    let info: ReturnType<typeof parseRequestPath> | undefined;
    let watching = false;
    /** A watch (not a followed log): it takes seats until its initial events are sent. */
    let isWatch = false;
    /** A long-running request counted among the watches (no longer in `inflight`). */
    let tracked = false;
    let release: (() => void) | undefined;
    let deadline: NodeJS.Timeout | undefined;
    const audit = beginAudit(this.audit, req, res);
    try {
      const url = splitRequestTarget(req.url);
      const pathname = url.path;
      // Health and version are open to everyone (system:public-info-viewer, bound to anonymous
      // and authenticated users alike): a request without a token is answered without the chain
      // unless anonymous requests are off. A token is checked (a bad one is 401 here too, as upstream).
      const isPublic = PUBLIC_PATHS.has(pathname);
      if (isPublic && this.authentication.anonymous && !req.headers.authorization)
        return this.publicPath(pathname, req, res);
      const publicHandler = this.publicHandlers.get(pathname);
      if (publicHandler) return await publicHandler(req, res);
      let authenticated: UserInfo;
      try {
        authenticated = (await this.authenticate(req)).user;
      } catch (err) {
        if (err instanceof errors.ApiError && err.code === 401)
          audit?.unauthenticated(this.anonymousAttributes(pathname, req.method, url.query));
        throw err;
      }
      if (isPublic) return this.publicPath(pathname, req, res);
      info = parseRequestPath(pathname);
      audit?.authenticated(
        requestAttributes(authenticated, info, req.method ?? 'GET', url.query),
        info.kind === 'resource' ? info : undefined,
      );
      if (info.kind === 'resource') {
        if (info.legacyWatch) url.query.set('watch', 'true');
        watching = isWatch = req.method === 'GET' && !info.name && queryBool(url.query, 'watch') === true;
        // A followed log is long-lived like a watch (ended at shutdown instead of awaited).
        if (info.subresource === 'log' && queryBool(url.query, 'follow') === true) watching = true;
      }
      const longRunning = isLongRunning(req.method, watching, info.kind === 'resource' ? info.subresource : undefined);
      if (!longRunning)
        deadline = this.requestDeadline(req, res, requestDeadlineMs(url.query, this.limits.requestTimeoutMs));
      const fc = this.flowControl;
      // system:masters is exempt from the in-flight limits, as upstream's filter exempts it.
      if (!fc && !longRunning && !authenticated.groups.includes('system:masters'))
        release = this.inflightLimiter.acquire(req.method);
      // After the in-flight limit, as upstream's filter chain orders them.
      const user = this.authorize(authenticated, info, req, url.query, audit);
      if (fc) {
        // Priority and fairness sees the impersonated user, as upstream's (after impersonation; here
        // after authorization too, so a forbidden request takes no seat). Every request is
        // classified and its response says where it went; it takes the seats its work is
        // estimated at (a watch: until its initial events are sent); other long-running ones take none.
        const a = requestAttributes(user, info, req.method ?? 'GET', url.query);
        const c = fc.classify(a);
        res.setHeader(FLOW_SCHEMA_UID_HEADER, c.schema.metadata?.uid ?? '');
        res.setHeader(PRIORITY_LEVEL_UID_HEADER, c.level.uid);
        if (!longRunning || isWatch) {
          const t = fc.admit(c, fc.estimate(c, a, url.query));
          if (isPromise(t)) {
            // A client that goes away while its request waits takes it out of its queue (upstream:
            // the request's context is cancelled); it never takes a seat.
            if (clientGone(res)) t.cancel();
            res.once('close', t.cancel);
            const queued = process.hrtime.bigint();
            try {
              release = (await t).release;
            } finally {
              res.off('close', t.cancel);
              excluded.since(queued);
            }
          } else release = t.release;
        }
        if (isWatch && a.resourceRequest) {
          // Counted among the watchers a write notifies until it ends (upstream's WatchTracker).
          const forget = fc.watchers.register(
            a.apiGroup,
            a.resource,
            a.namespace,
            a.name,
            url.query.get('fieldSelector') ?? undefined,
          );
          res.once('close', forget);
        }
      }
      const remote = this.aggregator?.remoteFor(pathname);
      if (remote) {
        if (watching) {
          this.trackWatch(res);
          this.inflight--;
          tracked = true;
          // Handed to the aggregated server: its seats are free (upstream's RequestDelegated).
          release?.();
          release = undefined;
        }
        return await this.aggregator!.proxy(remote, req, res, pathname, url.query.toString(), user);
      }
      if (info.kind === 'other') return await this.nonResource(pathname, url, req, res);
      const served = this.registry.lookup(info.group, info.version, info.resource);
      if (!served) {
        // Not a resource we serve: its path's parts are not metric labels (they are the client's to choose).
        info = undefined;
        throw new errors.ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
      }
      checkRoute(served.def, info, req.method ?? 'GET');
      const scope: RequestScope = { req, res, info, served, query: url.query, user, warnings: [], excluded };
      if (watching) {
        this.trackWatch(res);
        this.inflight--;
        tracked = true;
      }
      const extra =
        info.subresource && this.extraSubresources.get(`${served.def.group}/${served.def.plural}/${info.subresource}`);
      if (extra) return await extra.handle(scope);
      await this.rest.handle(scope);
    } catch (err) {
      const e =
        err instanceof StorageError && err.code === 'Unavailable'
          ? errors.serviceUnavailable('the storage is unavailable (unreachable, without quorum, or shutting down)')
          : errors.toApiError(err);
      if (e.code >= 500 && e.code !== 503) this.log.error({ err, url: req.url, method: req.method }, 'request failed');
      // An exception nobody threw on purpose is upstream's panic.
      if (e.code === 500 && !(err instanceof errors.ApiError) && !(err instanceof StorageError)) audit?.panicked(err);
      else audit?.failed(e);
      sendError(res, e);
    } finally {
      if (watching) audit?.responseStarted();
      clearTimeout(deadline);
      release?.();
      // (A watch that failed before it started, rejected by flow control say, is counted here.)
      if (!tracked) this.inflight--;
      this.metrics.observe(req, res, info, started, watching, excluded);
    }
  }

  /**
   * Answer 504 if the handler has not answered in time (upstream's timeout filter). The work
   * itself is not interrupted: a write that was under way still completes or fails on its own.
   */
  private requestDeadline(req: IncomingMessage, res: ServerResponse, ms: number): NodeJS.Timeout {
    return setTimeout(() => {
      if (res.headersSent) return;
      sendError(res, errors.timeout('request did not complete within requested timeout - context deadline exceeded'));
      // A body still arriving (slowly) is not read to its end: the connection goes with it
      // (for HTTP/2 only the stream: req.socket.destroy() resets the request's stream).
      if (!req.complete) res.once('finish', () => req.socket.destroy());
    }, ms);
  }

  private trackWatch(res: ServerResponse) {
    const end = () => res.end();
    this.watches.add(end);
    res.on('close', () => this.watches.delete(end));
  }

  private publicPath(pathname: string, req: IncomingMessage, res: ServerResponse): void {
    if (pathname.startsWith('/version')) {
      return sendObject(res, 200, {
        ...KUBERNETES_VERSION,
        gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean',
        buildDate: '2026-11-22T00:00:00Z',
        goVersion: `node${process.versions.node}`,
        compiler: 'tsc',
        platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
      });
    }
    if (this.stopping && pathname === '/readyz')
      return send(res, 500, '[-]shutdown failed: reason withheld\nreadyz check failed\n', 'text/plain; charset=utf-8');
    const verbose = splitRequestTarget(req.url).query.has('verbose');
    send(
      res,
      200,
      verbose ? `[+]ping ok\n[+]etcd ok\n${pathname.slice(1)} check passed\n` : 'ok',
      'text/plain; charset=utf-8',
    );
  }

  private async nonResource(
    pathname: string,
    url: RequestTarget,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const p = pathname.replace(/\/+$/, '') || '/';
    const accept = req.headers.accept;
    if (p === '/api' || p === '/apis') {
      const neg = negotiate(accept, { discovery: true });
      if (neg.kind === 'discovery') {
        return send(
          res,
          200,
          this.discovery.aggregated(p === '/api', neg.discoveryVersion!),
          AGGREGATED_CONTENT_TYPE(neg.discoveryVersion!),
        );
      }
      return send(res, 200, p === '/api' ? this.discovery.coreVersions() : this.discovery.groupList());
    }
    const parts = p.split('/').filter(Boolean);
    if (parts[0] === 'api' && parts.length === 2) {
      const doc = this.discovery.resourceList('', parts[1]);
      if (doc) return send(res, 200, doc);
    }
    if (parts[0] === 'apis' && parts.length === 2) {
      const doc = this.discovery.group(parts[1]);
      if (doc) return send(res, 200, doc);
    }
    if (parts[0] === 'apis' && parts.length === 3) {
      const doc = this.discovery.resourceList(parts[1], parts[2]);
      if (doc) return send(res, 200, doc);
    }
    if (p === '/openapi/v2') {
      const local = this.openapi.v2();
      const doc = this.aggregator ? this.aggregator.openapiV2(local) : local;
      if (acceptsOpenAPIV2Protobuf(req.headers.accept)) {
        // kubectl <= 1.28 reads only the protobuf form (gnostic openapi_v2.Document).
        let pb = this.openapiV2Protobuf.get(doc);
        if (!pb) this.openapiV2Protobuf.set(doc, (pb = encodeOpenAPIV2(JSON.parse(doc.json))));
        const etag = doc.etag.replace(/"$/, '-pb"');
        if (req.headers['if-none-match'] === etag) return send(res, 304, '');
        return send(res, 200, pb, OPENAPI_V2_PROTOBUF_CONTENT_TYPE, { ETag: etag });
      }
      if (req.headers['if-none-match'] === doc.etag) return send(res, 304, '');
      return send(res, 200, doc.json, 'application/json', { ETag: doc.etag });
    }
    if (p === '/openapi/v3') {
      const index = this.openapi.v3Index();
      return send(res, 200, this.aggregator ? this.aggregator.openapiV3Index(index) : index.json);
    }
    if (p.startsWith('/openapi/v3/')) {
      const gv = p.slice('/openapi/v3/'.length);
      const doc = this.aggregator?.openapiV3(gv) ?? this.openapi.v3(gv);
      if (doc) {
        if (req.headers['if-none-match'] === doc.etag) return send(res, 304, '');
        const headers: Record<string, string> = { ETag: doc.etag };
        if (url.query.get('hash') === doc.hash) headers['Cache-Control'] = 'public, immutable';
        return send(res, 200, doc.json, 'application/json', headers);
      }
    }
    if (p === '/metrics') return send(res, 200, await this.metrics.render(), this.metrics.contentType);
    const handler = this.nonResourceHandlers.get(p);
    if (handler) return void (await handler(req, res));
    if (p === '/') {
      return sendObject(res, 200, {
        paths: [
          '/api',
          '/api/v1',
          '/apis',
          ...this.registry
            .groups()
            .filter((g) => g.name)
            .map((g) => `/apis/${g.name}`),
          '/healthz',
          '/livez',
          '/metrics',
          '/openapi/v2',
          '/openapi/v3',
          '/readyz',
          '/version',
        ],
      });
    }
    send(res, 404, '404 page not found\n', 'text/plain; charset=utf-8');
  }

  /** Upgrades: WebSocket watches, exec/attach/portforward (proxied to the pod's node agent), and the proxy subresources. */
  private async upgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const reject = (err: unknown) => {
      const e = errors.toApiError(err);
      socket.end(
        `HTTP/1.1 ${e.code} ${e.reason}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${e.toStatusJSON()}`,
      );
    };
    try {
      const authenticated = (await this.authenticate(req)).user;
      const url = splitRequestTarget(req.url);
      const info = parseRequestPath(url.path);
      const user = this.authorize(authenticated, info, req, url.query);
      if (info.kind !== 'resource')
        throw new errors.ApiError(404, 'NotFound', 'the server could not find the requested resource');
      const served = this.registry.lookup(info.group, info.version, info.resource);
      if (!served) throw new errors.ApiError(404, 'NotFound', 'the server could not find the requested resource');
      checkRoute(served.def, info, req.method ?? 'GET');
      if (this.nodeProxy?.handles(info)) return this.nodeProxy.upgrade(info, url.query, req, socket, head);
      if (this.apiProxy?.handles(info)) return this.apiProxy.upgrade(info, req, socket, head);
      if (info.legacyWatch) url.query.set('watch', 'true');
      const isWatch = !info.name && queryBool(url.query, 'watch') === true;
      if (!isWatch) throw errors.badRequest('only watch requests can be upgraded to a WebSocket here');
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const scope: RequestScope = {
          req,
          res: undefined as never,
          info,
          served,
          query: url.query,
          user,
          warnings: [],
        };
        try {
          this.rest.watch(scope, () => websocketSink(ws));
        } catch (err) {
          ws.send(JSON.stringify({ type: 'ERROR', object: errors.toApiError(err).toStatus() }));
          ws.close(1000);
        }
      });
    } catch (err) {
      reject(err);
    }
  }
}
