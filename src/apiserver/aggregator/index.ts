// API aggregation (kube-aggregator inside the API server): APIServices registered with a
// Service are remote group versions, proxied (proxy.ts) with the user in front-proxy headers
// (frontproxy.ts), listed in discovery (discovery.ts) and OpenAPI (openapi.ts), with their
// Available condition kept by available.ts; Local APIServices are registered for everything this
// server serves (autoregister.ts). The server asks `remoteFor` for each request path and passes
// the request here when a remote group version owns it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { type APIService, GROUP } from '../../api/apiregistration/v1/index.js';
import type { ServedDocument } from '../../machinery/openapi/documents.js';
import type { ResourceRegistry } from '../resources.js';
import type { StoreLookup } from '../admission/webhook/service.js';
import type { Discovery } from '../discovery.js';
import type { UserInfo } from '../user.js';
import type { RequestHeaderOptions } from '../authn/requestheader.js';
import { AutoRegistration } from './autoregister.js';
import { AvailableConditionController } from './available.js';
import { RemoteDiscovery } from './discovery.js';
import { type FrontProxy, authenticationConfigData, publishAuthenticationConfig } from './frontproxy.js';
import { RemoteOpenAPI } from './openapi.js';
import { proxyToRemote } from './proxy.js';
import { type FetchResult, type RemoteAPIService, locate, remoteOf } from './remote.js';

export interface AggregatorHost {
  readonly registry: ResourceRegistry;
  readonly log: Logger;
  tryStore: StoreLookup;
}

export interface AggregatorOptions {
  frontProxy: FrontProxy;
  /** The cluster CA (client-ca-file in extension-apiserver-authentication). */
  clientCAPem: string;
  /** The request-header settings in force (published beside it). */
  requestHeader: RequestHeaderOptions;
}

export class Aggregator {
  /** Remote APIServices by `group/version`. */
  private remotes = new Map<string, RemoteAPIService>();
  readonly discovery: RemoteDiscovery;
  readonly openapi = new RemoteOpenAPI();
  readonly available: AvailableConditionController;
  readonly autoRegistration: AutoRegistration;
  private unwatch?: () => void;

  constructor(
    private readonly host: AggregatorHost,
    private readonly options: AggregatorOptions,
  ) {
    const stores = (g: string, p: string) => host.tryStore(g, p);
    this.discovery = new RemoteDiscovery(() => this.remotes.values());
    this.available = new AvailableConditionController({
      stores,
      client: options.frontProxy.client,
      log: host.log,
      discovered: (name, doc) => this.discovered(name, doc),
    });
    this.autoRegistration = new AutoRegistration(host.registry, stores, host.log);
  }

  /** Joins discovery, publishes the front-proxy trust, follows APIServices and registers the Local ones. */
  async start(discovery: Discovery): Promise<void> {
    discovery.extra = this.discovery;
    const configMaps = this.host.tryStore('', 'configmaps');
    if (configMaps)
      await publishAuthenticationConfig(configMaps, (existing) =>
        authenticationConfigData(this.options.clientCAPem, this.options.requestHeader, existing),
      );
    const store = this.host.tryStore(GROUP, 'apiservices');
    if (!store) return;
    const cache = store.cache;
    this.unwatch = cache.watch(cache.revision, {
      onEvent: (ev) => {
        this.rebuild();
        if (ev.type === 'DELETED') this.autoRegistration.schedule();
      },
    });
    this.rebuild();
    await this.autoRegistration.start();
    this.available.start();
  }

  stop(): void {
    this.unwatch?.();
    this.autoRegistration.stop();
    this.available.stop();
  }

  private rebuild(): void {
    const next = new Map<string, RemoteAPIService>();
    for (const { obj } of this.host.tryStore(GROUP, 'apiservices')?.cache.list() ?? []) {
      const r = remoteOf(obj as APIService);
      if (r) next.set(`${r.group}/${r.version}`, r);
    }
    const before = JSON.stringify([...this.remotes]);
    const names = new Set([...next.values()].map((r) => r.name));
    for (const r of this.remotes.values()) {
      if (names.has(r.name)) continue;
      this.discovery.forget(r.name);
      this.openapi.forget(r.name);
    }
    this.remotes = next;
    if (JSON.stringify([...next]) !== before) this.discovery.changed();
  }

  private byName(name: string): RemoteAPIService | undefined {
    for (const r of this.remotes.values()) if (r.name === name) return r;
    return undefined;
  }

  /** A check passed (or failed): its discovery document is current (or stale); OpenAPI is read again. */
  private discovered(name: string, doc: FetchResult | undefined): void {
    const r = this.byName(name);
    if (!r) return;
    this.discovery.update(r, doc);
    if (doc) this.refreshOpenAPI(r);
  }

  /** The remote group version owning a request path (`/apis/<group>/<version>[/...]`), if any. */
  remoteFor(pathname: string): RemoteAPIService | undefined {
    if (!this.remotes.size) return undefined;
    const m = /^\/apis\/([^/]+)\/([^/]+)(?:\/|$)/.exec(pathname);
    return m ? this.remotes.get(`${m[1]}/${m[2]}`) : undefined;
  }

  proxy(
    r: RemoteAPIService,
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: string,
    user: UserInfo,
  ): Promise<void> {
    return proxyToRemote(
      {
        stores: (g, p) => this.host.tryStore(g, p),
        client: this.options.frontProxy.client,
        unreachable: (remote) => this.available.enqueue(remote.name),
      },
      r,
      req,
      res,
      path,
      query,
      user,
    );
  }

  /** /openapi/v2 with the remote paths and definitions. */
  openapiV2(local: ServedDocument): ServedDocument {
    return this.openapi.v2(local);
  }

  /** /openapi/v3 with the remote group versions listed. */
  openapiV3Index(local: ServedDocument): string {
    return this.openapi.index(local);
  }

  openapiV3(path: string): ServedDocument | undefined {
    return this.openapi.document(path);
  }

  /** Read a remote's OpenAPI after a passed check (failures are only logged: discovery does not depend on it). */
  refreshOpenAPI(r: RemoteAPIService): void {
    let addr;
    try {
      addr = locate(r, (g, p) => this.host.tryStore(g, p));
    } catch {
      return;
    }
    this.openapi
      .refresh(r, addr, this.options.frontProxy.client)
      .catch((err: unknown) => this.host.log.debug({ err, apiservice: r.name }, 'reading remote OpenAPI failed'));
  }
}
