// The ingress controller: watches Ingresses, IngressClasses, Services, EndpointSlices and Secrets,
// builds the route table and TLS/auth material on every relevant change and hands it to the
// proxy in one swap. Problems of one Ingress (a missing Secret, an unknown Service, an unusable
// annotation) are Warning events on that Ingress; its other routes and every other Ingress keep
// working. On the server it also installs the `k8ts` IngressClass (the default class) and writes
// status.loadBalancer.ingress: the node addresses ServiceLB publishes, as k3s does.
// HTTPProxies and Gateway API routes come from RouteSources and join the same route table.
import type { Logger } from 'pino';
import type { ConfigMap, Node, Secret, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Ingress, IngressClass } from 'kubernetes-types/networking/v1.js';
import type { SecureContext } from 'node:tls';
import { R, type Client } from '../client/client.js';
import { ControllerRunner } from '../client/controller.js';
import { EventRecorder } from '../client/events.js';
import { isAlreadyExists, isNotFound } from '../client/errors.js';
import { keyOf, SharedInformerFactory, splitKey, type SharedIndexInformer } from '../client/informer.js';
import { nodeIngressAddresses } from '../controllers/servicelb/controller.js';
import { Backends } from './backends.js';
import { parseHtpasswd } from './htpasswd.js';
import type { PortPlan } from './gateway.js';
import { GatewayStreams, type StreamPort } from './gatewaystreams.js';
import { IngressProxy, type ListenerConfig } from './proxy.js';
import { RouteIndex, type RouteSource } from './routeindex.js';
import {
  sslPassthroughRoutes,
  type IngressProblem,
  type ObjectKey,
  type RouteTable,
  type StreamRoute,
} from './routes.js';
import { RouteSources } from './routesources.js';
import { IngressObserver, type AccessLogFormat } from './observe.js';
import { parseStreamServices, StreamProxy, type StreamMapping, type StreamProtocol } from './streams.js';
import { contextFromSecret, selfSignedCertificate, type CertificatePair } from './tls.js';
import { RenderCache, renderNginxConfig, TLS_SOCKET, type RenderedConfig } from './nginx/render.js';
import { nginxAvailable, nginxDir, NginxSupervisor, STREAM_MODULE } from './nginx/supervisor.js';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { listenForNginxLog } from './nginx/accesslog.js';

export const INGRESS_CLASS_NAME = 'k8ts';
export const INGRESS_CONTROLLER = 'k8ts.io/ingress';
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

export interface IngressControllerOptions {
  client: Client;
  logger: Logger;
  bindAddress: string;
  httpPort: number;
  httpsPort: number;
  /** The server's instance: create the IngressClass and write Ingress status (agents only serve). */
  manageCluster: boolean;
  /** Name reported as the events' host. */
  nodeName?: string;
  /** Namespaces where root HTTPProxies may live (--ingress-root-namespaces); empty: all. */
  rootNamespaces?: readonly string[];
  /** `namespace/name` of the ConfigMaps of TCP and UDP services (ingress-nginx's tcp-services / udp-services). */
  tcpServicesConfigMap?: string;
  udpServicesConfigMap?: string;
  /** Access log destination (a file, `-`: stdout; unset: none) and format. */
  accessLog?: string;
  accessLogFormat?: AccessLogFormat;
  /** Port of the metrics listener (/metrics, /healthz); 0: none. */
  metricsPort?: number;
  /**
   * The data plane of the main ports: NGINX in front of the JS proxy (`nginx`), the JS proxy alone
   * (`builtin`), or NGINX when it is installed (`auto`, the default). NGINX needs `dataDir`.
   */
  dataPlane?: 'nginx' | 'builtin' | 'auto';
  /** Where NGINX's runtime files go (`<dataDir>/ingress-nginx`). */
  dataDir?: string;
  /** NGINX worker processes (default 1). */
  nginxWorkers?: number;
  /** Keep NGINX's HTTPS port on the stream relay even without passthrough routes (render.ts, tlsMode). */
  nginxRelay?: boolean;
}

/** The IngressClass k8ts installs: its own controller, the cluster's default class. */
export function defaultIngressClass(): IngressClass {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: {
      name: INGRESS_CLASS_NAME,
      annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' },
      labels: { 'app.kubernetes.io/managed-by': 'k8ts' },
    },
    spec: { controller: INGRESS_CONTROLLER },
  };
}

/** Whether an Ingress is ours: its class (field, else the legacy annotation) is one of ours, or it has none and ours is default. */
export function servesIngress(ing: Ingress, classes: readonly IngressClass[]): boolean {
  const ours = classes.filter((c) => c.spec?.controller === INGRESS_CONTROLLER);
  const name = ing.spec?.ingressClassName ?? ing.metadata?.annotations?.[LEGACY_CLASS_ANNOTATION];
  if (name) return ours.some((c) => c.metadata?.name === name);
  return ours.some((c) => c.metadata?.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
}

const key = (k: ObjectKey) => `${k.namespace}/${k.name}`;

export class IngressController {
  private readonly factory: SharedInformerFactory;
  private readonly ingresses: SharedIndexInformer<Ingress>;
  private readonly classes: SharedIndexInformer<IngressClass>;
  private readonly services: SharedIndexInformer<Service>;
  private readonly slices: SharedIndexInformer<EndpointSlice>;
  private readonly secrets: SharedIndexInformer<Secret>;
  private readonly nodes?: SharedIndexInformer<Node>;
  private readonly status?: ControllerRunner;
  private readonly recorder: EventRecorder;
  private readonly log: Logger;
  private proxy?: IngressProxy;
  private backends: Backends;
  private readonly sources: RouteSources;
  private readonly streamMaps: { protocol: StreamProtocol; ref: string; inf: SharedIndexInformer<ConfigMap> }[] = [];
  private streams?: StreamProxy;
  private observer?: IngressObserver;
  private readonly index = new RouteIndex();
  private table = this.index.table;
  private readonly contexts = new WeakMap<Secret, ReturnType<typeof contextFromSecret>>();
  private rebuildTimer?: NodeJS.Timeout;
  private lastRebuild = 0;
  /** How long the last rebuild took (ms). */
  private rebuildCost = 0;
  /** Problems already reported per Ingress (uid), so a rebuild only reports what is new. */
  private reported = new Map<string, Set<string>>();
  private stopped = false;
  private synced = false;
  private streamSync: Promise<void> = Promise.resolve();
  /** Gateway listeners on ports of their own: a route index per HTTP(S) port, TLS/TCP sockets. */
  private readonly portIndexes = new Map<number, RouteIndex>();
  private readonly portSources = new WeakMap<PortPlan, RouteSource>();
  private gatewayStreams?: GatewayStreams;
  private listenerSync: Promise<void> = Promise.resolve();
  /** NGINX in front of the main ports (undefined: the JS proxy serves them itself). */
  private nginx?: NginxSupervisor;
  private nginxToken = '';
  private nginxTimer?: NodeJS.Timeout;
  private nginxLog?: { port: number; close(): void };
  private readonly nginxCache = new RenderCache();
  /** Certificates by Secret object (one per Secret version, so the renderer's cache holds). */
  private readonly pems = new WeakMap<Secret, CertificatePair>();
  private defaultCertificate?: CertificatePair;
  /** What the last rebuild handed to the proxy, for NGINX's configuration. */
  private served?: {
    table: RouteTable;
    contexts: Map<string, SecureContext>;
    passthrough: readonly StreamRoute[];
    users: Map<string, Map<string, string>>;
  };
  /** The htpasswd users rendered last (NGINX's cached host blocks hold them). */
  private renderedUsers = '';

  constructor(private readonly o: IngressControllerOptions) {
    this.log = o.logger.child({ component: 'ingress' });
    this.recorder = new EventRecorder(o.client, { component: 'k8ts-ingress', host: o.nodeName }, this.log);
    this.factory = new SharedInformerFactory(o.client);
    this.ingresses = this.factory.forResource(R.ingresses);
    this.classes = this.factory.forResource(R.ingressclasses);
    this.services = this.factory.forResource(R.services);
    this.slices = this.factory.forResource(R.endpointslices);
    this.secrets = this.factory.forResource(R.secrets);
    this.backends = new Backends(this.services, this.slices);
    const rebuild = () => this.scheduleRebuild();
    this.sources = new RouteSources({
      client: o.client,
      logger: this.log,
      manageCluster: o.manageCluster,
      rootNamespaces: o.rootNamespaces ?? [],
      onChange: rebuild,
      addresses: () => (this.nodes ? nodeIngressAddresses(this.nodes.store.list()) : []),
      mainPorts: { http: [80, o.httpPort], https: [443, o.httpsPort] },
    });
    this.ingresses.addEventHandler({
      add: (ing, initial) => {
        rebuild();
        if (!initial && this.ours(ing)) this.recorder.event(this.ref(ing), 'Normal', 'Sync', 'Scheduled for sync');
        this.enqueueStatus(ing);
      },
      update: (old, ing) => {
        rebuild();
        if (old.metadata.generation !== ing.metadata.generation && this.ours(ing))
          this.recorder.event(this.ref(ing), 'Normal', 'Sync', 'Scheduled for sync');
        this.enqueueStatus(ing);
      },
      delete: rebuild,
    });
    this.classes.addEventHandler({
      add: rebuild,
      update: rebuild,
      delete: rebuild,
    });
    // Endpoints are read per request; Services only matter for the "service not found" reports
    // (and HTTPProxy / HTTPRoute status): every source is judged again.
    const lookupChanged = () => {
      this.sources.invalidate();
      rebuild();
    };
    this.services.addEventHandler({ add: lookupChanged, delete: lookupChanged });
    // HTTPProxy and Gateway status depend on whether a referenced Secret exists at all.
    const secretChanged = (s?: Secret) =>
      s && (this.table.secretsUsed.has(keyOf(s)) || s.type === 'kubernetes.io/tls') && lookupChanged();
    this.secrets.addEventHandler({ add: secretChanged, update: (_o, n) => secretChanged(n), delete: secretChanged });
    for (const [protocol, ref] of [
      ['TCP', o.tcpServicesConfigMap],
      ['UDP', o.udpServicesConfigMap],
    ] as const) {
      if (!ref) continue;
      const { namespace, name } = splitKey(ref);
      const inf = this.factory.forResource(R.configmaps, { namespace, fieldSelector: `metadata.name=${name}` });
      const changed = () => void this.syncStreams();
      inf.addEventHandler({ add: changed, update: changed, delete: changed });
      this.streamMaps.push({ protocol, ref, inf });
    }
    if (o.manageCluster) {
      this.nodes = this.factory.forResource(R.nodes);
      this.status = new ControllerRunner({
        name: 'ingress-status',
        reconcile: (k) => this.syncStatus(k),
        logger: this.log,
      });
      const all = () => {
        for (const ing of this.ingresses.store.list()) this.enqueueStatus(ing);
      };
      this.nodes.addEventHandler({ add: all, update: all, delete: all });
      const addresses = () => this.sources.addressesChanged();
      this.nodes.addEventHandler({ add: addresses, update: addresses, delete: addresses });
      this.classes.addEventHandler({ add: all, update: all, delete: all });
    }
  }

  /** The ports actually listened on (0: that listener failed); NGINX's when it fronts the proxy. */
  get ports(): { http: number; https: number } {
    if (this.nginx) return { http: this.o.httpPort, https: this.o.httpsPort };
    return this.proxy?.ports ?? { http: 0, https: 0 };
  }

  /** The data plane in use (after start). */
  get dataPlane(): 'nginx' | 'builtin' {
    return this.nginx ? 'nginx' : 'builtin';
  }

  /** NGINX's supervisor, when it fronts the proxy. */
  get nginxSupervisor(): NginxSupervisor | undefined {
    return this.nginx;
  }

  /** Whether NGINX fronts the main ports: the flag, else whether it is installed (one log line why not). */
  private wantNginx(): boolean {
    const plane = this.o.dataPlane ?? 'auto';
    if (plane === 'builtin') return false;
    const available = nginxAvailable();
    const why = !available.ok
      ? available.why
      : !this.o.dataDir
        ? 'no data directory'
        : !this.o.httpPort || !this.o.httpsPort
          ? 'the ports are chosen by the kernel (0)'
          : join(nginxDir(this.o.dataDir), TLS_SOCKET).length > 100
            ? 'the data dir path is too long for a unix socket'
            : undefined;
    if (!why) return true;
    if (plane === 'nginx') throw new Error(`--ingress-data-plane=nginx: ${why}`);
    this.log.info(`ingress: data plane builtin (the JS proxy alone): ${why}`);
    return false;
  }

  async start(): Promise<void> {
    if (this.o.accessLog || this.o.metricsPort) {
      this.observer = new IngressObserver({
        accessLog: this.o.accessLog,
        accessLogFormat: this.o.accessLogFormat,
        logger: this.log,
      });
      this.metricsPort = await this.observer.listen(this.o.metricsPort ?? 0, this.o.bindAddress);
    }
    const nginx = this.wantNginx();
    if (nginx) this.nginxToken = randomBytes(16).toString('hex');
    this.defaultCertificate = await selfSignedCertificate();
    // With NGINX in front the main listeners move to loopback ports the kernel picks.
    this.proxy = new IngressProxy({
      observer: this.observer,
      bindAddress: nginx ? '127.0.0.1' : this.o.bindAddress,
      httpPort: nginx ? 0 : this.o.httpPort,
      httpsPort: nginx ? 0 : this.o.httpsPort,
      defaultCertificate: this.defaultCertificate,
      backends: this.backends,
      logger: this.log,
      front: nginx ? { token: this.nginxToken, httpPort: this.o.httpPort, httpsPort: this.o.httpsPort } : undefined,
    });
    this.gatewayStreams = new GatewayStreams({
      bindAddress: this.o.bindAddress,
      backends: this.backends,
      logger: this.log,
    });
    this.factory.start();
    this.sources.start();
    if (this.o.manageCluster) void this.installClass();
    await this.factory.waitForCacheSync(60_000);
    this.synced = true;
    this.rebuild();
    await this.proxy.start();
    if (nginx) await this.startNginx();
    if (this.streamMaps.length) {
      this.streams = new StreamProxy({ bindAddress: this.o.bindAddress, backends: this.backends, logger: this.log });
      await this.syncStreams();
    }
    this.status?.start();
    this.log.info(
      { ports: this.ports, dataPlane: this.dataPlane, internal: this.proxy.ports },
      'ingress controller serving',
    );
  }

  private async startNginx(): Promise<void> {
    const dataDir = this.o.dataDir ?? '';
    const observer = this.observer;
    if (observer) this.nginxLog = await listenForNginxLog((r) => observer.record(r), this.log);
    this.nginx = new NginxSupervisor({ dataDir, logger: this.log });
    // Endpoints are NGINX upstreams: a change renders again (routes of the JS proxy read them per request).
    const changed = () => {
      this.nginxCache.invalidate();
      this.scheduleNginx();
    };
    for (const inf of [this.slices, this.services] as SharedIndexInformer<unknown>[])
      inf.addEventHandler({ add: changed, update: changed, delete: changed });
    await this.nginx.start(this.renderNginx());
  }

  /** Renders NGINX's configuration again soon: changes in a burst (within 20 ms) make one render. */
  private scheduleNginx(): void {
    if (!this.nginx || this.nginxTimer || this.stopped) return;
    this.nginxTimer = setTimeout(() => {
      this.nginxTimer = undefined;
      if (this.nginx && !this.stopped) void this.nginx.apply(this.renderNginx());
    }, 20);
  }

  /** nginx.conf for the configuration the proxy has now (render.ts). */
  renderNginx(): RenderedConfig {
    const served = this.served ?? {
      table: this.table,
      contexts: new Map<string, SecureContext>(),
      passthrough: [],
      users: new Map<string, Map<string, string>>(),
    };
    const { table, contexts } = served;
    const usersKey = JSON.stringify([...served.users].map(([k, m]) => [k, [...m]]));
    if (usersKey !== this.renderedUsers) {
      this.renderedUsers = usersKey;
      this.nginxCache.invalidate();
    }
    const pem = (host: string): CertificatePair | undefined => {
      const entry = table.tls.get(host);
      const secret = entry && this.secrets.store.get(key(entry.secret));
      const crt = secret?.data?.['tls.crt'];
      const k = secret?.data?.['tls.key'];
      if (!secret || !crt || !k || !contexts.has(host)) return undefined;
      let pair = this.pems.get(secret);
      if (!pair)
        this.pems.set(
          secret,
          (pair = {
            cert: Buffer.from(crt, 'base64').toString('utf8'),
            key: Buffer.from(k, 'base64').toString('utf8'),
          }),
        );
      return pair;
    };
    return renderNginxConfig({
      table,
      passthrough: served.passthrough,
      // The certificate the JS proxy would pick for the name: its own, else its wildcard's.
      certificate: (name) => {
        if (contexts.has(name)) return pem(name);
        const dot = name.indexOf('.');
        return !name.startsWith('*.') && dot > 0 ? pem('*.' + name.slice(dot + 1)) : undefined;
      },
      endpoints: (b) => {
        const eps = this.backends.endpoints(b);
        return Array.isArray(eps) ? eps : [];
      },
      defaultCertificate: this.defaultCertificate ?? { cert: '', key: '' },
      bindAddress: this.o.bindAddress,
      httpPort: this.o.httpPort,
      httpsPort: this.o.httpsPort,
      jsHttpPort: this.proxy?.ports.http ?? 0,
      jsHttpsPort: this.proxy?.ports.https ?? 0,
      token: this.nginxToken,
      dir: this.nginx?.dir ?? '',
      streamModule: STREAM_MODULE,
      workers: this.o.nginxWorkers ?? 1,
      relay: this.o.nginxRelay,
      user: process.getuid?.() === 0 ? 'root' : undefined,
      // Requests NGINX serves are recorded from its log (the JS proxy records its own).
      logPort: this.nginxLog?.port ?? 0,
      cache: this.nginxCache,
      users: served.users,
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.rebuildTimer);
    clearTimeout(this.nginxTimer);
    await this.status?.stop();
    await this.sources.stop();
    await this.listenerSync;
    await this.nginx?.stop();
    this.nginxLog?.close();
    await this.proxy?.stop();
    await this.gatewayStreams?.stop();
    await this.streams?.stop();
    await this.observer?.stop();
    await this.factory.shutdown();
  }

  /** Ports of Gateway listeners with sockets of their own. */
  get gatewayPorts(): number[] {
    return [...(this.proxy?.listenerPorts ?? []), ...(this.gatewayStreams?.ports ?? [])].sort((a, b) => a - b);
  }

  /** The metrics listener's port (0: none). */
  metricsPort = 0;

  /** Ports of the TCP/UDP services listened on, as `PROTOCOL/port`. */
  get streamPorts(): string[] {
    return this.streams?.ports ?? [];
  }

  /** Listeners for the TCP/UDP services ConfigMaps (updates are serialized: one at a time). */
  private syncStreams(): Promise<void> {
    const run = async () => {
      if (!this.streams || this.stopped) return;
      const mappings: StreamMapping[] = [];
      for (const { protocol, ref, inf } of this.streamMaps) {
        const cm = inf.store.get(ref);
        const parsed = parseStreamServices(cm?.data, protocol);
        for (const message of parsed.problems) this.log.warn({ configMap: ref }, message);
        mappings.push(...parsed.mappings);
      }
      await this.streams.update(mappings);
    };
    return (this.streamSync = this.streamSync.then(run, run));
  }

  /** Creates the `k8ts` IngressClass unless it exists (an admin's edits to it are kept). */
  private async installClass(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.o.client.resource(R.ingressclasses).create(defaultIngressClass());
        return;
      } catch (err) {
        if (isAlreadyExists(err)) return;
        if (attempt % 10 === 0) this.log.warn({ err }, 'ingress: cannot create the IngressClass yet');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private ours(ing: Ingress): boolean {
    return servesIngress(ing, this.classes.store.list());
  }

  private ref(ing: Ingress): Ingress {
    return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: ing.metadata };
  }

  /**
   * Many changes in a burst (a `kubectl apply -f dir/`) make few rebuilds: a change after a quiet
   * spell is applied at once; during a burst changes are gathered for twice what the last rebuild
   * cost (at most 20 ms), so rebuilding never takes more than about a third of the time while a
   * single change is not held back by a fixed delay.
   */
  private scheduleRebuild(): void {
    if (this.rebuildTimer || this.stopped) return;
    const quiet = performance.now() - this.lastRebuild > 100;
    this.rebuildTimer = setTimeout(
      () => {
        this.rebuildTimer = undefined;
        this.rebuild();
      },
      quiet ? 0 : Math.min(20, 2 * this.rebuildCost),
    );
  }

  private rebuild(): void {
    // Until every cache is filled a Secret or Service may merely not have arrived yet.
    if (!this.proxy || !this.synced) return;
    this.lastRebuild = performance.now();
    const classes = this.classes.store.list();
    const ours = this.ingresses.store.list().filter((i) => servesIngress(i, classes));
    const sources = this.sources.compile({
      serviceExists: (ns, name) => !!this.services.store.get(`${ns}/${name}`),
      secretExists: (ns, name) => !!this.secrets.store.get(`${ns}/${name}`),
    });
    const table = this.index.update(ours, sources);
    const problems: IngressProblem[] = [...table.problems];
    const contexts = this.contextsFor(table, problems);
    const users = new Map<string, Map<string, string>>();
    const seenBackends = new Set<string>();
    for (const route of table.routes) {
      const auth = route.options.basicAuth;
      if (auth && !users.has(key(auth.secret))) {
        const secret = this.secrets.store.get(key(auth.secret));
        const file = secret?.data?.auth;
        if (auth.secretType === 'auth-map' && secret?.data) {
          const map = new Map<string, string>();
          for (const [u, h] of Object.entries(secret.data)) map.set(u, Buffer.from(h, 'base64').toString('utf8'));
          users.set(key(auth.secret), map);
        } else if (file) users.set(key(auth.secret), parseHtpasswd(Buffer.from(file, 'base64').toString('utf8')));
        else
          problems.push({
            ingress: route.ingress,
            reason: 'SecretNotFound',
            message: `auth secret ${key(auth.secret)} ${secret ? 'has no "auth" key' : 'not found'}: requests are denied (503)`,
          });
      }
      // HTTPProxy and HTTPRoute report unknown Services in their status.
      if (route.kind && route.kind !== 'Ingress') continue;
      for (const b of [route.backend, ...route.canaries.map((c) => c.backend)]) {
        const id = `${key(route.ingress)}|${b.namespace}/${b.service}`;
        if (seenBackends.has(id)) continue;
        seenBackends.add(id);
        if (!this.services.store.get(`${b.namespace}/${b.service}`))
          problems.push({
            ingress: route.ingress,
            reason: 'ServiceNotFound',
            message: `service ${b.namespace}/${b.service} not found: its routes answer 503`,
          });
      }
    }
    this.table = table;
    this.log.debug(
      { tls: [...contexts.keys()], secrets: this.secrets.store.size, problems },
      'ingress: configuration rebuilt',
    );
    // TLS passthrough hosts on the HTTPS port: Ingresses first, then HTTPProxies and Gateways.
    const passthrough = [...ours.flatMap(sslPassthroughRoutes), ...sources.flatMap((src) => src.passthrough ?? [])];
    this.proxy.update({ table, contexts, users, passthrough });
    this.served = { table, contexts, passthrough, users };
    this.scheduleNginx();
    this.syncListeners(users, problems);
    this.report(ours, problems);
    this.rebuildCost = performance.now() - this.lastRebuild;
  }

  /** SecureContexts by TLS host of a table; a missing or unusable Secret is a problem (default certificate). */
  private contextsFor(table: RouteTable, problems: IngressProblem[]): Map<string, SecureContext> {
    const contexts = new Map<string, SecureContext>();
    for (const [host, entry] of table.tls) {
      const secret = this.secrets.store.get(key(entry.secret));
      if (!secret) {
        problems.push({
          ingress: entry.ingress,
          reason: 'SecretNotFound',
          message: `TLS secret ${key(entry.secret)} for ${host} not found: serving the default certificate`,
        });
        continue;
      }
      // Secrets are immutable objects in the cache: a context is made once per Secret version.
      let made = this.contexts.get(secret);
      if (!made) this.contexts.set(secret, (made = contextFromSecret(secret)));
      if ('error' in made)
        problems.push({
          ingress: entry.ingress,
          reason: 'InvalidSecret',
          message: `TLS secret ${key(entry.secret)} for ${host} ${made.error}: serving the default certificate`,
        });
      else contexts.set(host, made.context);
    }
    return contexts;
  }

  /**
   * Gateway listeners on ports of their own: each HTTP(S) port gets a table of its routes (an
   * index per port, so an unchanged port costs nothing), TLS, TCP and UDP ports their stream routes.
   * Sockets are opened and closed one update at a time; ports that cannot be listened on go
   * back to the Gateway status (PortUnavailable).
   */
  private syncListeners(users: Map<string, Map<string, string>>, problems: IngressProblem[]): void {
    const listeners: ListenerConfig[] = [];
    const streamPorts: StreamPort[] = [];
    const plans = this.sources.ports;
    for (const plan of plans.values()) {
      if (plan.protocol === 'TLS' || plan.protocol === 'TCP' || plan.protocol === 'UDP') {
        streamPorts.push({ port: plan.port, protocol: plan.protocol, routes: plan.streams });
        continue;
      }
      let index = this.portIndexes.get(plan.port);
      if (!index) this.portIndexes.set(plan.port, (index = new RouteIndex()));
      let source = this.portSources.get(plan);
      if (!source)
        this.portSources.set(
          plan,
          (source = { id: 'Gateway', rank: 2, created: '', routes: plan.routes, tls: plan.tls }),
        );
      const table = index.update([], [source]);
      // TLS listeners beside HTTPS ones on this port: their hosts are passed through by SNI.
      const passthrough = plan.streams.length ? plan.streams : undefined;
      const config = { table, contexts: this.contextsFor(table, problems), users, passthrough };
      listeners.push({ port: plan.port, secure: plan.protocol === 'HTTPS', config });
    }
    for (const port of this.portIndexes.keys()) if (!plans.has(port)) this.portIndexes.delete(port);
    const run = async () => {
      if (!this.proxy || !this.gatewayStreams || this.stopped) return;
      const failed = await this.proxy.updateListeners(listeners);
      for (const port of await this.gatewayStreams.update(streamPorts)) failed.add(port);
      this.sources.setUnavailablePorts(failed);
    };
    this.listenerSync = this.listenerSync.then(run, run);
  }

  private report(ours: Ingress[], problems: IngressProblem[]): void {
    const byIngress = new Map<string, IngressProblem[]>();
    for (const p of problems) byIngress.set(key(p.ingress), [...(byIngress.get(key(p.ingress)) ?? []), p]);
    const next = new Map<string, Set<string>>();
    for (const ing of ours) {
      const uid = ing.metadata?.uid ?? '';
      const mine = byIngress.get(`${ing.metadata?.namespace}/${ing.metadata?.name}`) ?? [];
      const before = this.reported.get(uid) ?? new Set<string>();
      const now = new Set<string>();
      for (const p of mine) {
        const id = `${p.reason}|${p.message}`;
        now.add(id);
        if (before.has(id)) continue;
        this.log.warn({ ingress: key(p.ingress), reason: p.reason }, p.message);
        this.recorder.event(this.ref(ing), 'Warning', p.reason, p.message);
      }
      next.set(uid, now);
    }
    this.reported = next;
  }

  private enqueueStatus(ing: Ingress): void {
    this.status?.enqueue(`${ing.metadata?.namespace}/${ing.metadata?.name}`);
  }

  /** status.loadBalancer.ingress of one of our Ingresses: the nodes' addresses (ServiceLB's). */
  private async syncStatus(k: string): Promise<void> {
    const ing = this.ingresses.store.get(k);
    if (!ing || !this.ours(ing) || !this.nodes) return;
    const want = nodeIngressAddresses(this.nodes.store.list()).map((ip) => ({ ip }));
    const have = ing.status?.loadBalancer?.ingress ?? [];
    if (JSON.stringify(have.map((i) => i.ip)) === JSON.stringify(want.map((i) => i.ip))) return;
    const { namespace, name } = splitKey(k);
    try {
      await this.o.client
        .resource(R.ingresses)
        .namespace(namespace)
        .patch(
          name,
          'merge',
          { status: { loadBalancer: { ingress: want.length ? want : null } } },
          { subresource: 'status' },
        );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
