// Informers in the manner of client-go's tools/cache: a reflector lists and then watches a
// resource into a local indexed store; handlers hear about adds, updates and deletes; a relist
// happens on 410 Gone or a failed watch (with backoff); hasSynced() turns true after the first
// list. A SharedInformerFactory gives every controller the same informer per resource.
//
// Objects in the cache are shared between all handlers and readers: never mutate them (copy
// with structuredClone first). Informers made with `frozen` enforce it: their objects are deeply
// frozen (a write throws), and over the in-process transport they are the watch cache's own.
import type { Logger } from 'pino';
import { ResourceClient } from './client.js';
import { MetadataTransport } from './metadata.js';
import type { ApiError } from './errors.js';
import type { ResourceSpec, Stored, Watch, WatchEvent } from './types.js';
import { copyWith, deepFreeze, keyOf } from '../machinery/objects.js';

export type IndexFunc = (obj: any) => string[];

export const NAMESPACE_INDEX = 'namespace';

// (Defined with the object helpers, so that light modules can use it without loading a client.)
export { keyOf };

export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export const namespaceIndexFunc: IndexFunc = (obj) => [obj?.metadata?.namespace ?? ''];

/** A thread-safe-store-like map of objects by key, with secondary indexes. */
/**
 * An index: value → the keys of the objects with it. One key is kept as the string itself, a
 * Set only for values shared by several objects: most indexed values (an IP, a node's pod, an
 * owner) belong to one object, and an empty Set alone costs more than a small object.
 */
type Index = Map<string, string | Set<string>>;

export class Indexer<T = any> {
  private readonly items = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunc>();
  private readonly indices = new Map<string, Index>();

  constructor(indexers: Record<string, IndexFunc> = { [NAMESPACE_INDEX]: namespaceIndexFunc }) {
    for (const [name, fn] of Object.entries(indexers)) this.indexers.set(name, fn);
    for (const name of this.indexers.keys()) this.indices.set(name, new Map());
  }

  addIndexers(indexers: Record<string, IndexFunc>): void {
    for (const [name, fn] of Object.entries(indexers)) {
      if (this.indexers.has(name)) throw new Error(`indexer ${name} already exists`);
      this.indexers.set(name, fn);
      const index: Index = new Map();
      this.indices.set(name, index);
      for (const [key, obj] of this.items) this.indexInto(index, fn, key, obj);
    }
  }

  private indexInto(index: Index, fn: IndexFunc, key: string, obj: T): void {
    for (const v of fn(obj)) {
      const keys = index.get(v);
      if (keys === undefined) index.set(v, key);
      else if (typeof keys !== 'string') keys.add(key);
      else if (keys !== key) index.set(v, new Set([keys, key]));
    }
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      for (const v of fn(obj)) {
        const keys = index.get(v);
        if (keys === undefined) continue;
        if (typeof keys === 'string') {
          if (keys === key) index.delete(v);
          continue;
        }
        keys.delete(key);
        if (keys.size === 1) index.set(v, keys.values().next().value!);
        else if (!keys.size) index.delete(v);
      }
    }
  }

  set(key: string, obj: T): T | undefined {
    const old = this.items.get(key);
    if (old !== undefined) this.unindex(key, old);
    // A key made as `${namespace}/${name}` is a pair of strings (the first a copy of the
    // namespace and slash) until read: one flat string instead, as it is kept (≈ 40 bytes less).
    else key.charCodeAt(0);
    this.items.set(key, obj);
    for (const [name, fn] of this.indexers) this.indexInto(this.indices.get(name)!, fn, key, obj);
    return old;
  }

  delete(key: string): T | undefined {
    const old = this.items.get(key);
    if (old === undefined) return undefined;
    this.unindex(key, old);
    this.items.delete(key);
    return old;
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  /** By namespace and name (name alone for cluster-scoped objects). */
  getByName(namespace: string | undefined, name: string): T | undefined {
    return this.items.get(namespace ? `${namespace}/${name}` : name);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  listKeys(): string[] {
    return [...this.items.keys()];
  }

  get size(): number {
    return this.items.size;
  }

  byIndex(indexName: string, value: string): T[] {
    const index = this.indices.get(indexName);
    if (!index) throw new Error(`no indexer ${indexName}`);
    const keys = index.get(value);
    if (keys === undefined) return [];
    if (typeof keys === 'string') return [this.items.get(keys)!];
    const out: T[] = [];
    for (const k of keys) out.push(this.items.get(k)!);
    return out;
  }

  indexKeys(indexName: string, value: string): string[] {
    const index = this.indices.get(indexName);
    if (!index) throw new Error(`no indexer ${indexName}`);
    const keys = index.get(value);
    return keys === undefined ? [] : typeof keys === 'string' ? [keys] : [...keys];
  }

  /** Objects in a namespace (through the namespace index). */
  listByNamespace(namespace: string): T[] {
    return this.byIndex(NAMESPACE_INDEX, namespace);
  }
}

export interface EventHandler<T = any> {
  add?(obj: T, isInInitialList: boolean): void;
  update?(oldObj: T, newObj: T): void;
  /** `finalStateUnknown`: the deletion was inferred by a relist; `obj` is the last state seen. */
  delete?(obj: T, finalStateUnknown: boolean): void;
}

export interface InformerOptions<T = any> {
  /** Watch one namespace only (default: all). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Call update(obj, obj) for every object this often (ms; 0: never). */
  resyncPeriodMs?: number;
  indexers?: Record<string, IndexFunc>;
  logger?: Logger;
  /** Relist backoff after failures: initial and maximum delay (ms). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Page size of lists (0: one list). */
  pageSize?: number;
  /** Server-side watch timeout (s); a random value in [min, 2·min) as client-go (default 300). */
  watchTimeoutSeconds?: number;
  /**
   * Keep objects without metadata.managedFields, as kube-controller-manager's and the scheduler's
   * informers do: they are often the largest part of metadata and no controller reads them. (An
   * update of such an object leaves the stored managedFields as they are.)
   */
  dropManagedFields?: boolean;
  /**
   * Applied to each object before it is stored or handed to handlers (client-go's SetTransform):
   * keeps only what the informer's users read, so the cache takes less memory. It must keep
   * metadata.name, namespace and resourceVersion.
   */
  transform?: (obj: Stored<T>) => Stored<T>;
  /**
   * Keep objects deeply frozen (client-go's "never mutate cache objects", enforced): a handler or
   * reader that changes one throws instead of changing it for everyone. Over the in-process
   * transport the informer then holds the watch cache's own objects instead of a copy of each.
   */
  frozen?: boolean;
}

export class SharedIndexInformer<T = any> {
  readonly indexer: Indexer<Stored<T>>;
  private readonly handlers = new Set<EventHandler<Stored<T>>>();
  private readonly client: ResourceClient<T>;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private running = false;
  private stopped = false;
  private watch?: Watch;
  private timers = new Set<NodeJS.Timeout>();
  private lastResourceVersion = '';
  private failures = 0;
  private loop?: Promise<void>;
  private wakeUp?: () => void;

  constructor(
    client: ResourceClient<T> | { resource(spec: ResourceSpec): ResourceClient<any> },
    readonly spec: ResourceSpec<T>,
    private readonly opts: InformerOptions<T> = {},
  ) {
    const rc = client instanceof ResourceClient ? client : client.resource(spec);
    this.client = opts.namespace ? rc.namespace(opts.namespace) : rc;
    this.indexer = new Indexer<Stored<T>>({ [NAMESPACE_INDEX]: namespaceIndexFunc, ...(opts.indexers ?? {}) });
  }

  /** Add a handler; once running, it hears add() for every object already in the cache. */
  addEventHandler(h: EventHandler<Stored<T>>): () => void {
    this.handlers.add(h);
    if (this.synced) for (const obj of this.indexer.list()) safe(() => h.add?.(obj, true));
    return () => this.handlers.delete(h);
  }

  /** How many handlers listen (a factory stops an informer nobody listens to any more). */
  get handlerCount(): number {
    return this.handlers.size;
  }

  addIndexers(indexers: Record<string, IndexFunc>): void {
    this.indexer.addIndexers(indexers);
  }

  get store(): Indexer<Stored<T>> {
    return this.indexer;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list is in the cache (false if the informer stopped first). */
  waitForSync(timeoutMs?: number): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        resolve(this.synced);
      };
      this.syncWaiters.push(done);
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
    });
  }

  get lastSyncResourceVersion(): string {
    return this.lastResourceVersion;
  }

  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.loop = this.run();
    const resync = this.opts.resyncPeriodMs ?? 0;
    if (resync > 0) {
      const t = setInterval(() => {
        if (!this.synced) return;
        for (const obj of this.indexer.list()) this.emitUpdate(obj, obj);
      }, resync);
      t.unref?.();
      this.timers.add(t);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) {
      clearInterval(t);
      clearTimeout(t);
    }
    this.timers.clear();
    this.watch?.stop();
    this.wakeUp?.();
    for (const w of this.syncWaiters.splice(0)) w();
    await this.loop;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.timers.add(t);
      this.wakeUp = () => {
        clearTimeout(t);
        this.timers.delete(t);
        resolve();
      };
    });
  }

  private backoffMs(): number {
    const initial = this.opts.backoffInitialMs ?? 800;
    const max = this.opts.backoffMaxMs ?? 30_000;
    const d = Math.min(max, initial * Math.pow(2, Math.max(0, this.failures - 1)));
    return d * (1 + Math.random() * 0.2);
  }

  /** List, then watch until the watch fails; relist on 410 Gone or errors. */
  private async run(): Promise<void> {
    let needList = true;
    while (!this.stopped) {
      if (needList) {
        try {
          await this.list();
          this.failures = 0;
          needList = false;
        } catch (err) {
          this.failures++;
          this.opts.logger?.warn({ err, resource: this.spec.plural }, 'informer list failed');
          await this.sleep(this.backoffMs());
          continue;
        }
      }
      // stop() may have come while listing: there is no watch for it to end yet.
      if (this.stopped) break;
      const end = await this.watchOnce();
      if (this.stopped) break;
      if (!end.error) {
        this.failures = 0;
        continue; // a clean end (timeout): resume from the last resourceVersion
      }
      if (end.error.isGone()) {
        // Too old: what happened in between is lost, so list again at once.
        this.opts.logger?.debug(
          { resource: this.spec.plural, rv: this.lastResourceVersion },
          'watch expired; relisting',
        );
        needList = true;
        continue;
      }
      this.failures++;
      this.opts.logger?.debug({ err: end.error, resource: this.spec.plural }, 'watch failed; relisting after backoff');
      await this.sleep(this.backoffMs());
      needList = true;
    }
  }

  private async list(): Promise<void> {
    const listOpts = {
      labelSelector: this.opts.labelSelector,
      fieldSelector: this.opts.fieldSelector,
      omitManagedFields: this.opts.dropManagedFields,
      shared: this.opts.frozen,
    };
    const pageSize = this.opts.pageSize ?? (this.client.transport.kind === 'in-process' ? 0 : 500);
    const list = pageSize > 0 ? await this.client.listAll(listOpts, pageSize) : await this.client.list(listOpts);
    if (this.stopped) return;
    this.replace(
      list.items.map((obj) => this.prepare(obj)),
      list.metadata.resourceVersion ?? '',
    );
  }

  /** Make the cache equal `items`, telling handlers what changed. */
  private replace(items: Stored<T>[], rv: string): void {
    const initial = !this.synced;
    const seen = new Set<string>();
    for (const obj of items) {
      const key = keyOf(obj);
      seen.add(key);
      const old = this.indexer.set(key, obj);
      if (old === undefined) this.emitAdd(obj, initial);
      else if (rvOf(old) !== rvOf(obj)) this.emitUpdate(old, obj);
    }
    for (const key of this.indexer.listKeys()) {
      if (seen.has(key)) continue;
      const old = this.indexer.delete(key)!;
      this.emitDelete(old, true);
    }
    this.lastResourceVersion = rv;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private watchOnce(): Promise<{ error?: ApiError }> {
    const min = this.opts.watchTimeoutSeconds ?? 300;
    const w = this.client.watch(
      {
        resourceVersion: this.lastResourceVersion,
        allowWatchBookmarks: true,
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
        timeoutSeconds: Math.floor(min * (1 + Math.random())),
        omitManagedFields: this.opts.dropManagedFields,
        shared: this.opts.frozen,
      },
      (ev) => this.onWatchEvent(ev),
    );
    this.watch = w;
    return w.done;
  }

  private onWatchEvent(ev: WatchEvent<Stored<T>>): void {
    if (this.stopped) return;
    const obj: any = ev.type === 'ERROR' ? ev.object : this.prepare(ev.object);
    const rv = obj?.metadata?.resourceVersion;
    switch (ev.type) {
      case 'ADDED':
      case 'MODIFIED': {
        const key = keyOf(obj);
        const old = this.indexer.set(key, obj);
        if (old === undefined) this.emitAdd(obj, false);
        else this.emitUpdate(old, obj);
        break;
      }
      case 'DELETED': {
        const key = keyOf(obj);
        const old = this.indexer.delete(key);
        this.emitDelete(obj ?? old, false);
        break;
      }
      case 'BOOKMARK':
        break;
      case 'ERROR':
        return;
    }
    if (rv) this.lastResourceVersion = rv;
  }

  /** An object as the cache keeps it (without managedFields, transformed, frozen), when asked. */
  private prepare(obj: Stored<T>): Stored<T> {
    if (this.opts.dropManagedFields) obj = withoutManagedFields(obj);
    if (this.opts.transform && obj) obj = this.opts.transform(obj);
    return this.opts.frozen ? deepFreeze(obj) : obj;
  }

  private emitAdd(obj: Stored<T>, initial: boolean): void {
    for (const h of this.handlers) safe(() => h.add?.(obj, initial));
  }

  private emitUpdate(old: Stored<T>, obj: Stored<T>): void {
    for (const h of this.handlers) safe(() => h.update?.(old, obj));
  }

  private emitDelete(obj: Stored<T>, unknown: boolean): void {
    for (const h of this.handlers) safe(() => h.delete?.(obj, unknown));
  }
}

/** The object without metadata.managedFields: in place, or a shallow copy of a frozen one. */
function withoutManagedFields<T>(obj: T): T {
  const o = obj as any;
  if (o?.metadata?.managedFields === undefined) return obj;
  if (!Object.isFrozen(o.metadata)) {
    delete o.metadata.managedFields;
    return obj;
  }
  const { managedFields: _dropped, ...metadata } = o.metadata;
  return copyWith(o, 'metadata', metadata) as T;
}

function rvOf(obj: any): string | undefined {
  return obj?.metadata?.resourceVersion;
}

function safe(fn: () => void): void {
  try {
    fn();
  } catch {
    // A handler's exception must not break the informer.
  }
}

export type SharedInformerOptions = Pick<InformerOptions, 'namespace' | 'labelSelector' | 'fieldSelector'> & {
  /** Objects cut down to apiVersion, kind and the metadata the garbage collector keeps (PartialObjectMetadata). */
  metadataOnly?: boolean;
};

/** One informer per resource (and namespace/selector), shared by every controller. */
export class SharedInformerFactory {
  private readonly informers = new Map<string, SharedIndexInformer>();
  private started = false;

  constructor(
    readonly client: { resource(spec: ResourceSpec): ResourceClient },
    private readonly defaults: Omit<InformerOptions, 'indexers'> = {},
  ) {}

  /** The shared informer of a resource (created on first use; started by start()). */
  forResource<T = any>(spec: ResourceSpec<T>, opts: SharedInformerOptions = {}): SharedIndexInformer<T> {
    const key = this.keyOf(spec, opts);
    let inf = this.informers.get(key);
    if (!inf) {
      const { metadataOnly, ...rest } = opts;
      const client = metadataOnly
        ? new ResourceClient(new MetadataTransport(this.client.resource(spec).transport), spec)
        : this.client;
      inf = new SharedIndexInformer(client, spec, { ...this.defaults, ...rest });
      this.informers.set(key, inf);
      if (this.started) inf.start();
    }
    return inf as SharedIndexInformer<T>;
  }

  /** Stop and forget a resource's informer once no handler listens to it (the resource went away). */
  async releaseIfUnused(spec: ResourceSpec, opts: SharedInformerOptions = {}): Promise<void> {
    const key = this.keyOf(spec, opts);
    const inf = this.informers.get(key);
    if (!inf || inf.handlerCount > 0) return;
    this.informers.delete(key);
    await inf.stop();
  }

  private keyOf(spec: ResourceSpec, opts: SharedInformerOptions): string {
    const o = { ...this.defaults, ...opts };
    return `${spec.group}/${spec.version}/${spec.plural}|${o.namespace ?? ''}|${o.labelSelector ?? ''}|${o.fieldSelector ?? ''}${opts.metadataOnly ? '|metadata' : ''}`;
  }

  start(): void {
    this.started = true;
    for (const inf of this.informers.values()) inf.start();
  }

  /** Wait until every informer created so far has synced. */
  async waitForCacheSync(timeoutMs?: number): Promise<boolean> {
    const results = await Promise.all([...this.informers.values()].map((i) => i.waitForSync(timeoutMs)));
    return results.every(Boolean);
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    this.informers.clear();
    this.started = false;
  }
}
