// A resource definition is data: the generic REST flow (src/apiserver) reads one of these per
// resource and never branches on a resource's name. A CustomResourceDefinition becomes one more
// ResourceDef at run time.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { FieldError } from '../machinery/fielderrors.js';
import type { Projection } from '../machinery/jsonprojection.js';

/** Any stored Kubernetes object. Strategies treat it structurally. */
export interface KObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';
export const ALL_VERBS: readonly Verb[] = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
];

export interface TableColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  /** 'name' marks the NAME column, as upstream does. */
  format?: string;
  description?: string;
  /** 0: always shown; 1 and more: only with `-o wide`. */
  priority?: number;
  /** The cell for one object. `now` (ms since epoch) is passed so ages are computed once per table. */
  cell(obj: any, now: number): unknown;
  /**
   * The parts of the object `cell` reads, when it reads no others: a table whose columns all say
   * so is made from those parts of each stored object's text, without parsing the rest.
   */
  reads?: Projection;
}

/** Paths (dotted, leading dot as in CRDs: ".spec.replicas") for the scale subresource. */
export interface ScaleDef {
  specReplicasPath: string;
  statusReplicasPath: string;
  /** Path to a string selector in status (CRD style)… */
  labelSelectorPath?: string;
  /** …or a function computing the selector string (built-ins derive it from spec.selector). */
  selector?(obj: any): string;
}

/** What strategies may consult: cluster settings and allocators live behind this. */
export interface StrategyContext {
  /** 'create' | 'update' and which subresource, when relevant. */
  operation: 'create' | 'update' | 'delete';
  subresource?: string;
  cluster: ClusterSettings;
  /** Per-request warnings returned to the client in Warning headers. */
  warnings: string[];
  /** Allocators for things that must be unique cluster-wide (cluster IPs, node ports). */
  allocators: Allocators;
}

export interface ClusterSettings {
  serviceCIDR: string;
  nodePortRange: [number, number];
  clusterDomain: string;
}

export interface Allocators {
  /** Returns a free IP in the service CIDR, or checks & reserves a requested one (throws ApiError 422 on conflict). */
  clusterIP(requested: string | undefined, family: 'IPv4' | 'IPv6', fieldPath: string): string;
  releaseClusterIP(ip: string): void;
  nodePort(requested: number | undefined, fieldPath: string): number;
  releaseNodePort(port: number): void;
}

import type { NameRule } from '../machinery/validation.js';
export type { NameRule };

export interface VersionDef {
  name: string;
  /** Served in discovery and on the wire (default true). */
  served?: boolean;
  deprecated?: boolean;
  deprecationWarning?: string;
  /**
   * Converters between this version's shape and the storage version's shape. Absent means the
   * shapes are the same and only apiVersion changes. Built-in conversions are synchronous and
   * return the object; a conversion that must call out (a CRD's conversion webhook) returns a
   * Promise, and the REST flow awaits it — only then, so synchronous conversions stay on the
   * fast path. `fromStorage` receives a private copy it may modify.
   */
  toStorage?(obj: KObject): KObject | Promise<KObject>;
  fromStorage?(obj: KObject): KObject | Promise<KObject>;
  /**
   * Optional: convert many stored objects at once (a list, the initial events of a watch), as
   * upstream sends one ConversionReview per list. Without it, fromStorage runs per object.
   */
  fromStorageMany?(objs: KObject[]): KObject[] | Promise<KObject[]>;
  /** Printer columns if they differ from the resource's. */
  table?: TableColumn[];
}

export interface ResourceDef {
  group: string;
  /** Served versions, preferred first. */
  versions: VersionDef[];
  /** The version objects are stored at (default: the first). */
  storageVersion?: string;
  kind: string;
  listKind?: string;
  plural: string;
  singular: string;
  shortNames?: string[];
  categories?: string[];
  namespaced: boolean;
  /** How metadata.name is validated (default 'dns1123-subdomain'), as upstream's per-type name rules. */
  nameRule?: NameRule;
  /** Default: ALL_VERBS. */
  verbs?: readonly Verb[];
  subresources?: {
    status?: boolean;
    scale?: ScaleDef;
    /**
     * Further subresources that, like status, read and write the whole object (get, update,
     * patch), e.g. pods/ephemeralcontainers: what such a write may change is the strategy's
     * to decide (prepareForUpdate and validateUpdate see it as ctx.subresource).
     */
    object?: readonly string[];
    /**
     * Those of `object` that write status too (certificatesigningrequests/approval): the store
     * keeps the body's status and the strategy's prepareForUpdate decides what of it may change.
     */
    writesStatus?: readonly string[];
  };
  /**
   * Storage prefix override, for two resources that share storage (core/v1 events and
   * events.k8s.io/v1 events). Default: `/<group or core>/<plural>/`.
   */
  storagePrefix?: string;
  /**
   * Whether the resource has metadata.generation: 1 on create, bumped by every change outside
   * metadata and status (default false, as for upstream ConfigMaps, Services, ...).
   */
  generationTracksSpec?: boolean;
  /** Fill defaults in place, as upstream's SetDefaults_* do (called on create and update). */
  defaults?(obj: any): void;
  /** Upstream validation of a whole object (create, and update before validateUpdate). */
  validate?(obj: any, ctx: StrategyContext): FieldError[];
  /** Extra checks on update: immutable fields and transitions. */
  validateUpdate?(obj: any, old: any, ctx: StrategyContext): FieldError[];
  /** Adjust a new object before validation: clear status, allocate IPs, set computed fields. */
  prepareForCreate?(obj: any, ctx: StrategyContext): void;
  /** Adjust an updated object before validation (e.g. carry over allocated fields). */
  prepareForUpdate?(obj: any, old: any, ctx: StrategyContext): void;
  /** Called after an object is gone for good (release allocations). */
  afterDelete?(obj: any, ctx: StrategyContext): void;
  /** Server-side printing columns (kubectl get). Without them, NAME and AGE are printed. */
  table?: TableColumn[];
  /** Supported field selectors beyond metadata.name / metadata.namespace. */
  fieldSelectors?: Record<string, (obj: any) => string | undefined>;
  /**
   * Besides metadata.finalizers, is something still holding this object back from deletion
   * (namespaces wait for spec.finalizers)?
   */
  deletionHeld?(obj: any): boolean;
  /**
   * Admission on delete: throw an ApiError to refuse the deletion (namespaces: the system ones
   * may not be deleted, as upstream's NamespaceLifecycle plugin).
   */
  admitDelete?(obj: any, ctx: StrategyContext): void;
  /** Adjust an object being marked for deletion (namespaces: status.phase Terminating). */
  onMarkedForDeletion?(obj: any): void;
  /**
   * Create-only resources that are answered, not stored (SelfSubjectReview, access reviews):
   * the response to a create of `obj` by `user` (or its promise). Such resources have no storage.
   */
  answerCreate?(
    obj: any,
    user: { name: string; groups: string[]; uid?: string; extra?: Record<string, string[]> },
  ): any;
  /**
   * Read-only resources computed on request instead of stored (metrics.k8s.io NodeMetrics and
   * PodMetrics): only get and list are served, from the objects this returns (in the served
   * version, namespace-filtered); `read` gives the stored objects of other resources. The REST
   * layer applies names and label/field selectors (metadata.name, metadata.namespace).
   */
  virtualList?(read: VirtualReader, namespace: string | undefined): KObject[] | Promise<KObject[]>;
  /** Pods: delete gracefully (deletionGracePeriodSeconds) instead of at once. */
  gracefulDelete?(obj: any, requestedGrace: number | undefined): number | undefined;
}

/** Read access to stored objects, for resources computed from others (ResourceDef.virtualList). */
export interface VirtualReader {
  /** Live objects of a resource (storage version), in one namespace or all; [] if not served. */
  list(group: string, plural: string, namespace?: string): any[];
  get(group: string, plural: string, namespace: string | undefined, name: string): any;
}

/** Whether `sub` is a subresource of `def` that serves the whole object (status and `object` ones). */
export function isObjectSubresource(def: ResourceDef, sub: string | undefined): boolean {
  if (!sub) return false;
  return (sub === 'status' && !!def.subresources?.status) || !!def.subresources?.object?.includes(sub);
}
