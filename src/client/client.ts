// Typed access to any resource over a Transport, in the manner of client-go's dynamic client:
// client.resource(spec).namespace(ns).get(name) / list / watch / create / update / patch / delete.
import type { CustomResourceDefinition } from 'kubernetes-types/apiextensions/v1.js';
import type { ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { HorizontalPodAutoscaler } from 'kubernetes-types/autoscaling/v2.js';
import type { CronJob, Job } from 'kubernetes-types/batch/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type {
  ConfigMap,
  Event as CoreEvent,
  Endpoints,
  LimitRange,
  Namespace,
  Node,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  ReplicationController,
  ResourceQuota,
  Secret,
  Service,
  ServiceAccount,
} from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Ingress, IngressClass } from 'kubernetes-types/networking/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import type { PriorityClass } from 'kubernetes-types/scheduling/v1.js';
import type { RuntimeClass } from 'kubernetes-types/node/v1.js';
import type { FlowSchema, PriorityLevelConfiguration } from 'kubernetes-types/flowcontrol/v1.js';
import type { CSINode, StorageClass, VolumeAttachment } from 'kubernetes-types/storage/v1.js';
import { HttpsTransport } from './https.js';
import type {
  DeleteOptions,
  DiscoveredResource,
  ListOptions,
  ObjectList,
  PatchOptions,
  PatchType,
  ResourceSpec,
  Stored,
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
    return {
      ...obj,
      apiVersion: obj.apiVersion ?? apiVersionOf(this.spec),
      ...(this.spec.kind || obj.kind ? { kind: obj.kind ?? this.spec.kind } : {}),
    };
  }

  get(name: string): Promise<Stored<T>> {
    return this.transport.get(this.target(name));
  }

  list(opts?: ListOptions): Promise<ObjectList<Stored<T>>> {
    return this.transport.list(this.target(), opts);
  }

  /** Every page of a list (following continue tokens). */
  async listAll(opts: ListOptions = {}, pageSize = 500): Promise<ObjectList<Stored<T>>> {
    let page = await this.list({ ...opts, limit: opts.limit ?? pageSize });
    const items = [...page.items];
    while (page.metadata.continue) {
      page = await this.list({ ...opts, limit: opts.limit ?? pageSize, continue: page.metadata.continue });
      items.push(...page.items);
    }
    return { ...page, metadata: { resourceVersion: page.metadata.resourceVersion }, items };
  }

  watch(opts: WatchOptions, onEvent: (ev: WatchEvent<Stored<T>>) => void): Watch {
    return this.transport.watch(this.target(), opts, onEvent);
  }

  create(obj: T, opts?: WriteOptions): Promise<Stored<T>> {
    return this.transport.create(this.target(undefined, undefined, obj), this.withType(obj), opts);
  }

  update(obj: T, opts?: WriteOptions): Promise<Stored<T>> {
    return this.transport.update(this.target((obj as any).metadata?.name, undefined, obj), this.withType(obj), opts);
  }

  updateStatus(obj: T, opts?: WriteOptions): Promise<Stored<T>> {
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

  patch(name: string, type: PatchType, patch: any, opts?: PatchOptions & { subresource?: string }): Promise<Stored<T>> {
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

  /** A client over HTTPS with the identity of a kubeconfig file. */
  static fromKubeconfig(
    path: string,
    opts: {
      fieldManager: string;
      context?: string;
      timeoutMs?: number;
      onWarning?: (message: string) => void;
      maxConnections?: number;
    },
  ): Client {
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

/** Resources components use often, each typed with its kubernetes-types interface. */
export const R = {
  namespaces: spec<Namespace>({ group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' }),
  pods: spec<Pod>({ group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' }),
  nodes: spec<Node>({ group: '', version: 'v1', plural: 'nodes', namespaced: false, kind: 'Node' }),
  services: spec<Service>({ group: '', version: 'v1', plural: 'services', namespaced: true, kind: 'Service' }),
  endpoints: spec<Endpoints>({ group: '', version: 'v1', plural: 'endpoints', namespaced: true, kind: 'Endpoints' }),
  configmaps: spec<ConfigMap>({ group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' }),
  secrets: spec<Secret>({ group: '', version: 'v1', plural: 'secrets', namespaced: true, kind: 'Secret' }),
  serviceaccounts: spec<ServiceAccount>({
    group: '',
    version: 'v1',
    plural: 'serviceaccounts',
    namespaced: true,
    kind: 'ServiceAccount',
  }),
  events: spec<CoreEvent>({ group: '', version: 'v1', plural: 'events', namespaced: true, kind: 'Event' }),
  persistentvolumes: spec<PersistentVolume>({
    group: '',
    version: 'v1',
    plural: 'persistentvolumes',
    namespaced: false,
    kind: 'PersistentVolume',
  }),
  persistentvolumeclaims: spec<PersistentVolumeClaim>({
    group: '',
    version: 'v1',
    plural: 'persistentvolumeclaims',
    namespaced: true,
    kind: 'PersistentVolumeClaim',
  }),
  replicationcontrollers: spec<ReplicationController>({
    group: '',
    version: 'v1',
    plural: 'replicationcontrollers',
    namespaced: true,
    kind: 'ReplicationController',
  }),
  resourcequotas: spec<ResourceQuota>({
    group: '',
    version: 'v1',
    plural: 'resourcequotas',
    namespaced: true,
    kind: 'ResourceQuota',
  }),
  limitranges: spec<LimitRange>({
    group: '',
    version: 'v1',
    plural: 'limitranges',
    namespaced: true,
    kind: 'LimitRange',
  }),
  deployments: spec<Deployment>({
    group: 'apps',
    version: 'v1',
    plural: 'deployments',
    namespaced: true,
    kind: 'Deployment',
  }),
  replicasets: spec<ReplicaSet>({
    group: 'apps',
    version: 'v1',
    plural: 'replicasets',
    namespaced: true,
    kind: 'ReplicaSet',
  }),
  statefulsets: spec<StatefulSet>({
    group: 'apps',
    version: 'v1',
    plural: 'statefulsets',
    namespaced: true,
    kind: 'StatefulSet',
  }),
  daemonsets: spec<DaemonSet>({
    group: 'apps',
    version: 'v1',
    plural: 'daemonsets',
    namespaced: true,
    kind: 'DaemonSet',
  }),
  controllerrevisions: spec<ControllerRevision>({
    group: 'apps',
    version: 'v1',
    plural: 'controllerrevisions',
    namespaced: true,
    kind: 'ControllerRevision',
  }),
  jobs: spec<Job>({ group: 'batch', version: 'v1', plural: 'jobs', namespaced: true, kind: 'Job' }),
  cronjobs: spec<CronJob>({ group: 'batch', version: 'v1', plural: 'cronjobs', namespaced: true, kind: 'CronJob' }),
  leases: spec<Lease>({
    group: 'coordination.k8s.io',
    version: 'v1',
    plural: 'leases',
    namespaced: true,
    kind: 'Lease',
  }),
  endpointslices: spec<EndpointSlice>({
    group: 'discovery.k8s.io',
    version: 'v1',
    plural: 'endpointslices',
    namespaced: true,
    kind: 'EndpointSlice',
  }),
  ingresses: spec<Ingress>({
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'ingresses',
    namespaced: true,
    kind: 'Ingress',
  }),
  ingressclasses: spec<IngressClass>({
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'ingressclasses',
    namespaced: false,
    kind: 'IngressClass',
  }),
  storageclasses: spec<StorageClass>({
    group: 'storage.k8s.io',
    version: 'v1',
    plural: 'storageclasses',
    namespaced: false,
    kind: 'StorageClass',
  }),
  csinodes: spec<CSINode>({
    group: 'storage.k8s.io',
    version: 'v1',
    plural: 'csinodes',
    namespaced: false,
    kind: 'CSINode',
  }),
  volumeattachments: spec<VolumeAttachment>({
    group: 'storage.k8s.io',
    version: 'v1',
    plural: 'volumeattachments',
    namespaced: false,
    kind: 'VolumeAttachment',
  }),
  horizontalpodautoscalers: spec<HorizontalPodAutoscaler>({
    group: 'autoscaling',
    version: 'v2',
    plural: 'horizontalpodautoscalers',
    namespaced: true,
    kind: 'HorizontalPodAutoscaler',
  }),
  poddisruptionbudgets: spec<PodDisruptionBudget>({
    group: 'policy',
    version: 'v1',
    plural: 'poddisruptionbudgets',
    namespaced: true,
    kind: 'PodDisruptionBudget',
  }),
  priorityclasses: spec<PriorityClass>({
    group: 'scheduling.k8s.io',
    version: 'v1',
    plural: 'priorityclasses',
    namespaced: false,
    kind: 'PriorityClass',
  }),
  flowschemas: spec<FlowSchema>({
    group: 'flowcontrol.apiserver.k8s.io',
    version: 'v1',
    plural: 'flowschemas',
    namespaced: false,
    kind: 'FlowSchema',
  }),
  prioritylevelconfigurations: spec<PriorityLevelConfiguration>({
    group: 'flowcontrol.apiserver.k8s.io',
    version: 'v1',
    plural: 'prioritylevelconfigurations',
    namespaced: false,
    kind: 'PriorityLevelConfiguration',
  }),
  runtimeclasses: spec<RuntimeClass>({
    group: 'node.k8s.io',
    version: 'v1',
    plural: 'runtimeclasses',
    namespaced: false,
    kind: 'RuntimeClass',
  }),
  customresourcedefinitions: spec<CustomResourceDefinition>({
    group: 'apiextensions.k8s.io',
    version: 'v1',
    plural: 'customresourcedefinitions',
    namespaced: false,
    kind: 'CustomResourceDefinition',
  }),
} as const satisfies Record<string, ResourceSpec>;
