// The API server's proxy subresources, at upstream's paths:
//   /api/v1/namespaces/{ns}/pods/[scheme:]{name}[:port]/proxy/{path}
//   /api/v1/namespaces/{ns}/services/[scheme:]{name}[:port]/proxy/{path}
//   /api/v1/nodes/[scheme:]{name}[:port]/proxy/{path}
// for every HTTP method and for upgrades (WebSocket). location.ts finds the backend, forward.ts
// passes the request on. Authorization is what the server does for other subresources.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { KubeletClientConfig } from '../nodeproxy.js';
import type { ResourceRequest } from '../requestinfo.js';
import { splitRequestTarget } from '../requestinfo.js';
import type { RequestScope } from '../rest.js';
import type { ServingApi } from '../serving.js';
import { forwardRequest, forwardUpgrade, type ProxyTarget } from './forward.js';
import { nodeLocation, podLocation, serviceLocation, type ProxyLocation } from './location.js';

const VERBS = ['create', 'delete', 'get', 'patch', 'update'];
const KINDS: Record<string, string> = {
  pods: 'PodProxyOptions',
  services: 'ServiceProxyOptions',
  nodes: 'NodeProxyOptions',
};

/**
 * Splits the raw request path at the proxy subresource: what comes before (…/proxy) and after it,
 * both still escaped as the client sent them (a trailing slash matters to the backend).
 */
export function splitProxyPath(rawPath: string, info: ResourceRequest): { prefix: string; path: string } {
  const segments = rawPath.replace(/^\/+/, '').split('/');
  // api/v1 (or apis/group/version), [namespaces/ns], resource, name, proxy
  const count = (info.group ? 3 : 2) + (info.namespace !== undefined ? 2 : 0) + 3;
  const rest = segments.slice(count);
  return { prefix: `/${segments.slice(0, count).join('/')}`, path: rest.length ? `/${rest.join('/')}` : '' };
}

export class ApiProxy {
  constructor(
    private readonly api: ServingApi,
    private readonly kubeletClient?: KubeletClientConfig,
  ) {}

  register(): void {
    for (const resource of Object.keys(KINDS)) {
      this.api.extraSubresources.set(`/${resource}/proxy`, {
        info: { name: 'proxy', kind: KINDS[resource], verbs: VERBS },
        handle: (scope) => this.serve(scope),
      });
    }
  }

  /** Whether an upgrade request is for one of the proxies (the server routes it to upgrade()). */
  handles(info: ResourceRequest): boolean {
    return info.group === '' && info.subresource === 'proxy' && !!info.name && info.resource in KINDS;
  }

  private locate(info: ResourceRequest): ProxyLocation {
    const name = info.name!;
    if (info.resource === 'pods') return podLocation(this.api, info.namespace!, name);
    if (info.resource === 'services') return serviceLocation(this.api, info.namespace!, name);
    return nodeLocation(this.api, name, this.kubeletClient);
  }

  private target(info: ResourceRequest, rawUrl: string | undefined): ProxyTarget {
    const location = this.locate(info);
    const raw = rawUrl ?? '/';
    const q = raw.indexOf('?');
    const { prefix, path } = splitProxyPath(splitRequestTarget(raw).path, info);
    return { location, prefix, path, query: q < 0 ? '' : raw.slice(q + 1) };
  }

  private serve(scope: RequestScope): Promise<void> {
    return forwardRequest(scope.req, scope.res, this.target(scope.info, scope.req.url));
  }

  /** An upgrade through a proxy: errors before the backend is contacted are thrown (answered as a Status). */
  upgrade(info: ResourceRequest, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    forwardUpgrade(req, socket, head, this.target(info, req.url), this.api.log);
  }
}

/** Serve pods/proxy, services/proxy and nodes/proxy on a server. */
export function registerApiProxy(api: ServingApi, kubeletClient?: KubeletClientConfig): ApiProxy {
  const proxy = new ApiProxy(api, kubeletClient);
  proxy.register();
  return proxy;
}
