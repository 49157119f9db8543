// Typed access to any resource over a Transport, in the manner of client-go's dynamic client:
// client.resource(spec).namespace(ns).get(name) / list / watch / create / update / patch / delete.
import type { ApiServer } from '../apiserver/server.js';
import type { UserInfo } from '../apiserver/store.js';
import { HttpsTransport } from './https.js';
import { InProcessTransport } from './inprocess.js';
import type {
  DeleteOptions,
  DiscoveredResource,
  ListOptions,
  ObjectList,
  PatchOptions,
  PatchType,
  ResourceSpec,
  Target,
  Transport,
  Watch,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from './types.js';
import { apiVersionOf } from './types.js';

/** A resource spec whose clients and informers carry `T` (a kubernetes-types interface). */
export function spec<T>(s: ResourceSpec): ResourceSpec<T> {
  return s as ResourceSpec<T>;
}

export class ResourceClient<T = any> {
  constructor(
    readonly transport: Transport,
    readonly spec: ResourceSpec<T>,
    /** The namespace this client is scoped to (undefined: all namespaces / cluster-scoped). */
    readonly ns?: string,
  ) {}

  /** The same resource, scoped to one namespace. */
  namespace(ns: string | undefined): ResourceClient<T> {
    return new ResourceClient<T>(this.transport, this.spec, ns);
  }

  private target(name?: string, subresource?: string, obj?: any): Target {
    const namespace = this.spec.namespaced ? (this.ns ?? obj?.metadata?.namespace) : undefined;
    return { resource: this.spec, namespace, name, subresource };
  }

  private withType(obj: any): any {
    if (obj.apiVersion && obj.kind) return obj;
    return { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(this.spec), ...(this.spec.kind || obj.kind ? { kind: obj.kind ?? this.spec.kind } : {}) };
  }

  get(name: string): Promise<T> {
    return this.transport.get(this.target(name));
  }

  list(opts?: ListOptions): Promise<ObjectList<T>> {
    return this.transport.list(this.target(), opts);
  }

  /** Every page of a list (following continue tokens). */
  async listAll(opts: ListOptions = {}, pageSize = 500): Promise<ObjectList<T>> {
    let page = await this.list({ ...opts, limit: opts.limit ?? pageSize });
    const items = [...page.items];
    while (page.metadata.continue) {
      page = await this.list({ ...opts, limit: opts.limit ?? pageSize, continue: page.metadata.continue });
      items.push(...page.items);
    }
    return { ...page, metadata: { resourceVersion: page.metadata.resourceVersion }, items };
  }

  watch(opts: WatchOptions, onEvent: (ev: WatchEvent<T>) => void): Watch {
    return this.transport.watch(this.target(), opts, onEvent);
  }

  create(obj: T, opts?: WriteOptions): Promise<T> {
    return this.transport.create(this.target(undefined, undefined, obj), this.withType(obj), opts);
  }

  update(obj: T, opts?: WriteOptions): Promise<T> {
    return this.transport.update(this.target((obj as any).metadata?.name, undefined, obj), this.withType(obj), opts);
  }

  updateStatus(obj: T, opts?: WriteOptions): Promise<T> {
    return this.transport.update(this.target((obj as any).metadata?.name, 'status', obj), this.withType(obj), opts);
  }

  /** PUT to another subresource (namespaces/finalize, ...). */
  updateSubresource(subresource: string, obj: any, opts?: WriteOptions): Promise<any> {
    return this.transport.update(this.target(obj.metadata?.name, subresource, obj), obj, opts);
  }

  /** POST to an object's subresource (pods/binding, pods/eviction). */
  createSubresource(name: string, subresource: string, body: any, opts?: WriteOptions): Promise<any> {
    return this.transport.create(this.target(name, subresource, body), body, opts);
  }

  patch(name: string, type: PatchType, patch: any, opts?: PatchOptions & { subresource?: string }): Promise<T> {
    return this.transport.patch(this.target(name, opts?.subresource), type, patch, opts);
  }

  /** The object (marked for deletion, or its last state) or a Success Status, as the API returns. */
  delete(name: string, opts?: DeleteOptions): Promise<any> {
    return this.transport.delete(this.target(name), opts);
  }

  deleteCollection(opts?: ListOptions & DeleteOptions): Promise<any> {
    return this.transport.deleteCollection(this.target(), opts);
  }
}

export class Client {
  constructor(readonly transport: Transport) {}

  /** A client calling the API server's stores directly (inside `k8ts server`). */
  static inProcess(api: ApiServer, opts: { fieldManager: string; user?: UserInfo }): Client {
    return new Client(new InProcessTransport(api, opts));
  }

  /** A client over HTTPS with the identity of a kubeconfig file. */
  static fromKubeconfig(path: string, opts: { fieldManager: string; context?: string; timeoutMs?: number }): Client {
    return new Client(HttpsTransport.fromKubeconfig(path, opts));
  }

  get fieldManager(): string {
    return this.transport.fieldManager;
  }

  resource<T = any>(spec: ResourceSpec<T>): ResourceClient<T> {
    return new ResourceClient<T>(this.transport, spec);
  }

  discover(): Promise<DiscoveredResource[]> {
    return this.transport.discover();
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}

/** Resources components use often. */
export const R = {
  namespaces: { group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' },
  pods: { group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' },
  nodes: { group: '', version: 'v1', plural: 'nodes', namespaced: false, kind: 'Node' },
  services: { group: '', version: 'v1', plural: 'services', namespaced: true, kind: 'Service' },
  endpoints: { group: '', version: 'v1', plural: 'endpoints', namespaced: true, kind: 'Endpoints' },
  configmaps: { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' },
  secrets: { group: '', version: 'v1', plural: 'secrets', namespaced: true, kind: 'Secret' },
  serviceaccounts: { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true, kind: 'ServiceAccount' },
  events: { group: '', version: 'v1', plural: 'events', namespaced: true, kind: 'Event' },
  deployments: { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true, kind: 'Deployment' },
  replicasets: { group: 'apps', version: 'v1', plural: 'replicasets', namespaced: true, kind: 'ReplicaSet' },
  statefulsets: { group: 'apps', version: 'v1', plural: 'statefulsets', namespaced: true, kind: 'StatefulSet' },
  daemonsets: { group: 'apps', version: 'v1', plural: 'daemonsets', namespaced: true, kind: 'DaemonSet' },
  jobs: { group: 'batch', version: 'v1', plural: 'jobs', namespaced: true, kind: 'Job' },
  cronjobs: { group: 'batch', version: 'v1', plural: 'cronjobs', namespaced: true, kind: 'CronJob' },
  leases: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true, kind: 'Lease' },
} as const satisfies Record<string, ResourceSpec>;
