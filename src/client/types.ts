// The contract between typed clients and the transports under them (in-process or HTTPS).
// A Transport speaks in resources and objects; it never exposes HTTP or storage.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { ApiError } from './errors.js';

/**
 * Which resource a client addresses (a GroupVersionResource plus its scope). `T` is the object type
 * its clients and informers carry (a kubernetes-types interface); it exists only for the compiler.
 */
export interface ResourceSpec<T = any> {
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
  /** Optional: the Kind, filled in on objects sent without one. */
  kind?: string;
  /** Never set: carries `T` so that `client.resource(spec)` is typed without a type argument. */
  readonly __object?: T;
}

/** What every Kubernetes object has (its type and metadata); the rest is the resource's own. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

/** The metadata the API server sets on every object it returns. */
export type StoredMeta = ObjectMeta & { name: string; uid: string; resourceVersion: string; creationTimestamp: string };

/**
 * An object as read from the API (a client's result, an informer's cache): kubernetes-types marks
 * all metadata optional because a request may omit it, but a stored object always has these.
 */
export type Stored<T> = T & { metadata: StoredMeta };

/** One request's target: a collection, an object or an object's subresource. */
export interface Target {
  resource: ResourceSpec;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: 'Exact' | 'NotOlderThan';
  /** Ask for PartialObjectMetadata (metadata only) where the transport can; items keep full shape otherwise. */
  asMetadata?: boolean;
  /** Leave metadata.managedFields out where the transport can (in-process); it may still come. */
  omitManagedFields?: boolean;
  /**
   * The caller never changes what it gets (an informer whose objects are frozen): the in-process
   * transport hands out the watch cache's own objects, deeply frozen, instead of private copies.
   */
  shared?: boolean;
}

export interface WatchOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Start after this resourceVersion; empty or '0': synthetic ADDED events for the current state first. */
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  sendInitialEvents?: boolean;
  timeoutSeconds?: number;
  /** As ListOptions.asMetadata. */
  asMetadata?: boolean;
  /** As ListOptions.omitManagedFields. */
  omitManagedFields?: boolean;
  /** As ListOptions.shared. */
  shared?: boolean;
}

export interface WriteOptions {
  /** Default: the transport's fieldManager (the component's name). */
  fieldManager?: string;
  dryRun?: boolean;
  fieldValidation?: 'Ignore' | 'Warn' | 'Strict';
  /**
   * The caller never changes the object it gets back (or ignores it): the in-process transport
   * answers with the watch cache's own object, deeply frozen, instead of a private copy.
   */
  shared?: boolean;
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export interface PatchOptions extends WriteOptions {
  /** Server-side apply: take over conflicting fields. */
  force?: boolean;
}

export interface DeleteOptions extends WriteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface ObjectList<T = any> {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T = any> {
  type: WatchEventType;
  /** The object; for ERROR a metav1.Status. */
  object: T;
}

export interface WatchEnd {
  /** Why the watch ended early: an ERROR event (e.g. 410 Gone) or a transport failure. */
  error?: ApiError;
}

export interface Watch {
  /** Stop watching; `done` resolves. */
  stop(): void;
  /** Resolves when the stream ends: stopped, timed out, closed by the server or failed. */
  readonly done: Promise<WatchEnd>;
}

/** A served resource, as discovery reports it (preferred version of its group). */
export interface DiscoveredResource extends ResourceSpec {
  kind: string;
  verbs: string[];
}

export interface Transport {
  /** 'in-process' or 'https', for logs. */
  readonly kind: string;
  /** The field manager written on behalf of this client (the component's name). */
  readonly fieldManager: string;
  get(t: Target): Promise<any>;
  list(t: Target, opts?: ListOptions): Promise<ObjectList>;
  /** Events are delivered in order, asynchronously to the caller of watch(). */
  watch(t: Target, opts: WatchOptions, onEvent: (ev: WatchEvent) => void): Watch;
  /** POST: a new object, or a subresource action (pods/binding, pods/eviction). */
  create(t: Target, body: any, opts?: WriteOptions): Promise<any>;
  /** PUT: the object, or a subresource (status, finalize). */
  update(t: Target, body: any, opts?: WriteOptions): Promise<any>;
  patch(t: Target, type: PatchType, patch: any, opts?: PatchOptions): Promise<any>;
  /** The object (marked for deletion, or as it was) or a Success Status, as the API returns. */
  delete(t: Target, opts?: DeleteOptions): Promise<any>;
  deleteCollection(t: Target, opts?: ListOptions & DeleteOptions): Promise<any>;
  /** Every served resource (preferred version per group), subresources excluded. */
  discover(): Promise<DiscoveredResource[]>;
  close(): Promise<void>;
}

export const apiVersionOf = (r: { group: string; version: string }) =>
  r.group ? `${r.group}/${r.version}` : r.version;
