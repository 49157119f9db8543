// A metadata-only view of a transport (the garbage collector and counting-only informers): lists and watches
// ask for PartialObjectMetadata where the transport supports it (HTTPS) and every object is cut
// down to apiVersion, kind and the metadata the graph needs, so caching every object of every
// resource costs little.
import type {
  DeleteOptions,
  ListOptions,
  ObjectList,
  PatchOptions,
  PatchType,
  Target,
  Transport,
  Watch,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from './types.js';
import { apiVersionOf } from './types.js';

export function toMetadata(obj: any, apiVersion: string, kind: string): any {
  const m = obj?.metadata ?? {};
  // In process, a frozen informer is handed the watch cache's own metadata (frozen, without
  // managedFields), which the cache keeps anyway: a cut-down copy per object would only add to it
  // (≈ 90 bytes for each of 100,000 ConfigMaps). It is what upstream's PartialObjectMetadata holds.
  if (Object.isFrozen(m) && m.managedFields === undefined) return { apiVersion, kind, metadata: m };
  const meta: any = { name: m.name, uid: m.uid, resourceVersion: m.resourceVersion };
  if (m.namespace) meta.namespace = m.namespace;
  if (m.deletionTimestamp) meta.deletionTimestamp = m.deletionTimestamp;
  if (m.finalizers?.length) meta.finalizers = m.finalizers;
  if (m.ownerReferences?.length) meta.ownerReferences = m.ownerReferences;
  return { apiVersion, kind, metadata: meta };
}

export class MetadataTransport implements Transport {
  readonly kind: string;
  readonly fieldManager: string;

  constructor(private readonly inner: Transport) {
    this.kind = inner.kind;
    this.fieldManager = inner.fieldManager;
  }

  private shape(t: Target) {
    return { apiVersion: apiVersionOf(t.resource), kind: t.resource.kind ?? '' };
  }

  async list(t: Target, opts: ListOptions = {}): Promise<ObjectList> {
    const list = await this.inner.list(t, { ...opts, asMetadata: true });
    const { apiVersion, kind } = this.shape(t);
    return { ...list, items: list.items.map((o) => toMetadata(o, apiVersion, kind)) };
  }

  watch(t: Target, opts: WatchOptions, onEvent: (ev: WatchEvent) => void): Watch {
    const { apiVersion, kind } = this.shape(t);
    return this.inner.watch(t, { ...opts, asMetadata: true }, (ev) => {
      if (ev.type === 'ADDED' || ev.type === 'MODIFIED' || ev.type === 'DELETED')
        onEvent({ type: ev.type, object: toMetadata(ev.object, apiVersion, kind) });
      else onEvent(ev);
    });
  }

  get(t: Target) {
    return this.inner.get(t);
  }
  create(t: Target, body: any, opts?: WriteOptions) {
    return this.inner.create(t, body, opts);
  }
  update(t: Target, body: any, opts?: WriteOptions) {
    return this.inner.update(t, body, opts);
  }
  patch(t: Target, type: PatchType, patch: any, opts?: PatchOptions) {
    return this.inner.patch(t, type, patch, opts);
  }
  delete(t: Target, opts?: DeleteOptions) {
    return this.inner.delete(t, opts);
  }
  deleteCollection(t: Target, opts?: ListOptions & DeleteOptions) {
    return this.inner.deleteCollection(t, opts);
  }
  discover() {
    return this.inner.discover();
  }
  async close(): Promise<void> {}
}
