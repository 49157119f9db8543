// The in-process transport: components inside `k8ts server` call the API server's stores
// directly — no HTTP, no JSON on the request path. Semantics match the REST layer: the same
// strategies, version conversion, selectors, watch event rules (via runWatch) and Status errors.
// Objects handed out are private copies, so a caller can never corrupt the watch cache.
import type { ApiServer } from './server.js';
import type { Store, UserInfo, WriteContext } from './store.js';
import {
  type MaybePromise,
  type Served,
  fromServed,
  isPromise,
  servedAsStored,
  then,
  toServed,
  toServedMany,
} from './convert.js';
import { apiVersionOf, verbsOf } from './resources.js';
import { isObjectSubresource } from '../api/types.js';
import { runWatch, type WatchSink } from './watch.js';
import { decodeToken, encodeToken, indexAfter } from './paginate.js';
import { applyPatch } from './patching.js';
import { getScale, updateScale } from './scale.js';
import * as serverErrors from '../machinery/errors.js';
import { parseFieldSelector } from '../machinery/fields.js';
import { parseSelector } from '../machinery/labels.js';
import { deepCopy, isPlainObject, setOwn } from '../machinery/objects.js';
import { definitionForGVK } from '../machinery/openapi/definitions.js';
import type { StoredObject } from '../storage/cacher.js';
import { ApiError } from '../client/errors.js';
import { Client } from '../client/client.js';
import { readVirtual, storeReader } from './virtual.js';
import { apiVersionOf as apiVersionOfSpec } from '../client/types.js';
import type {
  DeleteOptions,
  DiscoveredResource,
  ListOptions,
  ObjectList,
  PatchOptions,
  PatchType,
  Target,
  Transport,
  Watch,
  WatchEnd,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from '../client/types.js';

export interface InProcessOptions {
  /** The component's name: the field manager of its writes. */
  fieldManager: string;
  user?: UserInfo;
}

const DEFAULT_USER: UserInfo = {
  name: 'system:kube-controller-manager',
  groups: ['system:masters', 'system:authenticated'],
};

/** Run `fn`, turning whatever it throws into a client ApiError. */
async function guarded<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw ApiError.from(err);
  }
}

export class InProcessTransport implements Transport {
  readonly kind = 'in-process';
  readonly fieldManager: string;
  private readonly user: UserInfo;

  constructor(
    private readonly api: ApiServer,
    opts: InProcessOptions,
  ) {
    this.fieldManager = opts.fieldManager;
    this.user = opts.user ?? DEFAULT_USER;
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** get/list of a virtual (computed, read-only) resource; undefined for stored ones. */
  private virtual(t: Target, opts: ListOptions = {}): Promise<{ item?: any; items: any[] }> | undefined {
    const served = this.api.registry.lookup(t.resource.group, t.resource.version, t.resource.plural);
    if (!served?.def.virtualList) return undefined;
    if (t.subresource)
      throw serverErrors.notFound(
        { group: served.def.group, resource: served.def.plural },
        `${t.name}/${t.subresource}`,
      );
    const apiVersion = apiVersionOfSpec(t.resource);
    return readVirtual(
      served.def,
      storeReader((g, p) => this.api.tryStore(g, p)),
      {
        namespace: t.namespace,
        name: t.name,
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
      },
    ).then((r) => {
      const typed = (o: any) => ({ kind: served.def.kind, apiVersion, ...o });
      return { item: r.item ? typed(r.item) : undefined, items: r.items.map(typed) };
    });
  }

  private served(t: Target): { served: Served; store: Store } {
    const r = t.resource;
    const served = this.api.registry.lookup(r.group, r.version, r.plural);
    if (!served) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
    return { served, store: this.api.storeFor(served.def) };
  }

  private allow(served: Served, verb: string): void {
    if (!(verbsOf(served.def) as readonly string[]).includes(verb)) {
      throw serverErrors.methodNotSupported({ group: served.def.group, resource: served.def.plural }, verb);
    }
  }

  /** A private copy of a stored object, in the served version (a Promise behind a conversion webhook). */
  private out(served: Served, store: Store, s: StoredObject): MaybePromise<any> {
    if (servedAsStored(served, store.storageApiVersion)) return deepCopy(s.obj);
    return this.outObj(served, store, s.obj);
  }

  private outObj(served: Served, store: Store, obj: any): MaybePromise<any> {
    return then(toServed(served, obj, store.storageApiVersion), (o) => deepCopy(o));
  }

  private ctx(opts: WriteOptions | undefined, subresource?: string): WriteContext {
    return {
      dryRun: !!opts?.dryRun,
      fieldManager: opts?.fieldManager ?? this.fieldManager,
      user: this.user,
      warnings: [],
      subresource,
    };
  }

  private matcher(served: Served, labelSelector?: string, fieldSelector?: string) {
    const labels = parseSelector(labelSelector ?? '');
    const fields = parseFieldSelector(fieldSelector ?? '');
    const getters = served.def.fieldSelectors ?? {};
    for (const f of fields.fields()) {
      if (f !== 'metadata.name' && f !== 'metadata.namespace' && !getters[f])
        throw serverErrors.badRequest(`field label not supported: ${f}`);
    }
    const fieldOf = (obj: any) => (f: string) =>
      f === 'metadata.name'
        ? obj.metadata?.name
        : f === 'metadata.namespace'
          ? (obj.metadata?.namespace ?? '')
          : getters[f](obj);
    const all = labels.isEmpty() && fields.isEmpty();
    return {
      fields,
      empty: all,
      matches: all ? () => true : (obj: any) => labels.matches(obj.metadata?.labels) && fields.matches(fieldOf(obj)),
    };
  }

  private checkBody(served: Served, body: any): any {
    if (!isPlainObject(body)) throw serverErrors.badRequest('the request body must be a JSON or YAML object');
    const apiVersion = apiVersionOf(served.def.group, served.version.name);
    if (body.apiVersion !== undefined && body.apiVersion !== apiVersion) {
      throw serverErrors.badRequest(
        // eslint-disable-next-line @typescript-eslint/no-base-to-string -- echoes the client's value as upstream's %v does
        `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersion})`,
      );
    }
    if (body.kind !== undefined && body.kind !== served.def.kind) {
      throw serverErrors.badRequest(
        // eslint-disable-next-line @typescript-eslint/no-base-to-string -- echoes the client's value as upstream's %v does
        `the kind in the data (${String(body.kind)}) does not match the expected kind (${served.def.kind})`,
      );
    }
    // Never change the caller's object: a shallow copy with its own metadata.
    return { ...body, apiVersion, kind: served.def.kind, metadata: { ...(body.metadata ?? {}) } };
  }

  private checkNameAndNamespace(served: Served, t: Target, obj: any): void {
    const meta = obj.metadata;
    if (meta.name !== undefined && meta.name !== t.name) {
      throw serverErrors.badRequest(
        `the name of the object (${meta.name}) does not match the name on the URL (${t.name})`,
      );
    }
    meta.name = t.name;
    if (served.def.namespaced) {
      if (meta.namespace && meta.namespace !== t.namespace) {
        throw serverErrors.badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      meta.namespace = t.namespace;
    }
  }

  private requireName(served: Served, t: Target): string {
    if (!t.name) throw serverErrors.badRequest('resource name may not be empty');
    if (served.def.namespaced && !t.namespace)
      throw serverErrors.notFound({ group: served.def.group, resource: served.def.plural }, t.name);
    return t.name;
  }

  private extra(served: Served, sub: string) {
    return this.api.extraSubresources.get(`${served.def.group}/${served.def.plural}/${sub}`)?.call;
  }

  // ---- reads ---------------------------------------------------------------------------------

  get(t: Target): Promise<any> {
    return guarded(() => {
      const v = this.virtual(t);
      if (v) return v.then((r) => deepCopy(r.item));
      const { served, store } = this.served(t);
      this.allow(served, 'get');
      const name = this.requireName(served, t);
      if (t.subresource === 'scale' && served.def.subresources?.scale)
        return getScale(served, store, t.namespace, name);
      if (t.subresource && !isObjectSubresource(served.def, t.subresource)) {
        throw serverErrors.notFound(
          { group: served.def.group, resource: served.def.plural },
          `${name}/${t.subresource}`,
        );
      }
      return this.out(served, store, store.get(t.namespace, name));
    });
  }

  list(t: Target, opts: ListOptions = {}): Promise<ObjectList> {
    return guarded(() => {
      const v = this.virtual(t, opts);
      if (v) {
        const def = this.api.registry.lookup(t.resource.group, t.resource.version, t.resource.plural)!.def;
        return v.then((r) => ({
          kind: def.listKind ?? `${def.kind}List`,
          apiVersion: apiVersionOfSpec(t.resource),
          metadata: {},
          items: deepCopy(r.items),
        }));
      }
      const { served, store } = this.served(t);
      this.allow(served, 'list');
      const m = this.matcher(served, opts.labelSelector, opts.fieldSelector);
      const prefix = store.keyPrefix(served.def.namespaced ? t.namespace : undefined);
      let rv = store.cache.revision;
      const all = store.cache.list(prefix);
      let from = 0;
      if (opts.continue) {
        const token = decodeToken(opts.continue);
        // Served from the live cache: consistent with the token's revision while nothing changed.
        rv = token.rv;
        from = indexAfter(all, token.start);
      }
      const matching: StoredObject[] = [];
      let last: StoredObject | undefined;
      let more = false;
      let matched = 0;
      for (let i = from; i < all.length; i++) {
        const s = all[i];
        if (!m.matches(s.obj)) continue;
        if (opts.limit && opts.limit > 0 && matching.length >= opts.limit) {
          more = true;
          matched++;
          continue;
        }
        matching.push(s);
        last = s;
      }
      const meta: ObjectList['metadata'] = { resourceVersion: String(rv) };
      if (more && last) {
        meta.continue = encodeToken({ rv, start: last.key });
        if (m.empty) meta.remainingItemCount = matched;
      }
      const list = (items: any[]): ObjectList => ({
        apiVersion: apiVersionOf(served.def.group, served.version.name),
        kind: served.def.listKind ?? `${served.def.kind}List`,
        metadata: meta,
        items,
      });
      if (servedAsStored(served, store.storageApiVersion)) return list(matching.map((s) => storedCopy(s, opts)));
      // One conversion for the whole list (one ConversionReview behind a webhook).
      return then(
        toServedMany(
          served,
          matching.map((s) => s.obj),
          store.storageApiVersion,
        ),
        (objs) => list(objs.map((o) => deepCopy(o))),
      );
    });
  }

  watch(t: Target, opts: WatchOptions, onEvent: (ev: WatchEvent) => void): Watch {
    let resolveDone!: (end: WatchEnd) => void;
    const done = new Promise<WatchEnd>((r) => (resolveDone = r));
    let stopped = false;
    let ended = false;
    let endError: ApiError | undefined;
    let buffer: WatchEvent[] = [];
    let scheduled = false;
    const closeCallbacks: (() => void)[] = [];
    const finish = () => {
      if (stopped) return;
      stopped = true;
      for (const cb of closeCallbacks) cb();
      resolveDone(endError ? { error: endError } : {});
    };
    const flush = () => {
      scheduled = false;
      const events = buffer;
      buffer = [];
      for (const ev of events) {
        if (stopped) return;
        try {
          onEvent(ev);
        } catch {
          // A handler's failure is its own; the stream goes on.
        }
      }
      if (ended && !buffer.length) finish();
    };
    const schedule = () => {
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    };
    const sink: WatchSink = {
      write: (line) => {
        if (stopped) return true;
        const ev = JSON.parse(line) as WatchEvent;
        if (ev.type === 'ERROR') endError = ApiError.fromStatus(ev.object);
        buffer.push(ev);
        schedule();
        return true;
      },
      writeObject: (type, object) => {
        if (stopped) return;
        buffer.push({ type, object } as WatchEvent);
        schedule();
      },
      backlog: () => 0,
      end: () => {
        ended = true;
        schedule();
      },
      onClose: (cb) => closeCallbacks.push(cb),
    };
    try {
      const { served, store } = this.served(t);
      this.allow(served, 'watch');
      const m = this.matcher(served, opts.labelSelector, opts.fieldSelector);
      const rv = opts.resourceVersion ?? '';
      if (rv && !/^\d+$/.test(rv))
        throw serverErrors.badRequest(
          `resourceVersion: Invalid value: ${JSON.stringify(rv)}: must be a non-negative integer`,
        );
      const fast = servedAsStored(served, store.storageApiVersion);
      const apiVersion = apiVersionOf(served.def.group, served.version.name);
      const nameSel = m.fields.requirements.find((r) => r.field === 'metadata.name' && r.op === '=');
      const namespace = served.def.namespaced ? t.namespace : undefined;
      const exactKey =
        nameSel && (namespace || !served.def.namespaced) ? store.key(namespace, nameSel.value) : undefined;
      const fromRev = rv === '' || rv === '0' || opts.sendInitialEvents ? undefined : Number(rv);
      const timeoutMs =
        opts.timeoutSeconds !== undefined
          ? Math.max(0, opts.timeoutSeconds) * 1000
          : (1800 + Math.floor(Math.random() * 1800)) * 1000;
      runWatch(
        {
          cache: store.cache,
          keyPrefix: store.keyPrefix(namespace),
          exactKey,
          matches: m.matches,
          // Metadata-only watchers (the garbage collector watches every resource) get no more
          // than they asked for: a full object would be copied only to be cut down.
          render: (s) =>
            fast
              ? opts.asMetadata
                ? JSON.stringify(metadataOnly(s.obj))
                : s.json
              : then(toServed(served, s.obj, store.storageApiVersion), (o) => JSON.stringify(o)),
          // Objects as stored: the event goes to the handler as an object, without wrapping it
          // in an event line to parse again.
          renderObject: fast ? (s) => storedCopy(s, opts) : undefined,
          bookmark: (r, end) => {
            const meta: any = { resourceVersion: String(r) };
            if (end) meta.annotations = { 'k8s.io/initial-events-end': 'true' };
            return JSON.stringify({ kind: served.def.kind, apiVersion, metadata: meta });
          },
          fromRev,
          sendInitialEvents: !!opts.sendInitialEvents,
          bookmarks: !!opts.allowWatchBookmarks,
          timeoutMs,
        },
        sink,
      );
    } catch (err) {
      endError = ApiError.from(err);
      queueMicrotask(finish);
    }
    return { stop: finish, done };
  }

  // ---- writes --------------------------------------------------------------------------------

  create(t: Target, body: any, opts?: WriteOptions): Promise<any> {
    return guarded(async () => {
      const { served, store } = this.served(t);
      if (t.subresource) {
        const call = this.extra(served, t.subresource);
        if (!call)
          throw serverErrors.notFound(
            { group: served.def.group, resource: served.def.plural },
            `${t.name}/${t.subresource}`,
          );
        return deepCopy(await call(t.namespace, this.requireName(served, t), body, this.ctx(opts, t.subresource)));
      }
      this.allow(served, 'create');
      const obj = this.checkBody(served, body);
      if (served.def.namespaced) {
        const ns = t.namespace ?? obj.metadata.namespace;
        if (!ns)
          throw serverErrors.badRequest('the server could not find the requested resource: a namespace is required');
        if (obj.metadata.namespace && obj.metadata.namespace !== ns) {
          throw serverErrors.badRequest(
            'the namespace of the provided object does not match the namespace sent on the request',
          );
        }
        obj.metadata.namespace = ns;
      } else {
        delete obj.metadata.namespace;
      }
      let converted = fromServed(served, obj, store.storageApiVersion, store.def.kind);
      if (isPromise(converted)) converted = await converted;
      const stored = await store.create(converted, this.ctx(opts));
      return this.out(served, store, stored);
    });
  }

  update(t: Target, body: any, opts?: WriteOptions): Promise<any> {
    return guarded(async () => {
      const { served, store } = this.served(t);
      const name = this.requireName(served, t);
      const sub = t.subresource;
      if (sub === 'scale' && served.def.subresources?.scale)
        return updateScale(served, store, t.namespace, name, () => body, this.ctx(opts, sub));
      if (sub && !isObjectSubresource(served.def, sub)) {
        const call = this.extra(served, sub);
        if (!call)
          throw serverErrors.notFound({ group: served.def.group, resource: served.def.plural }, `${name}/${sub}`);
        return deepCopy(await call(t.namespace, name, body, this.ctx(opts, sub)));
      }
      this.allow(served, 'update');
      const obj = this.checkBody(served, body);
      this.checkNameAndNamespace(served, t, obj);
      const stored = await store.update(
        t.namespace,
        name,
        () => fromServed(served, obj, store.storageApiVersion, store.def.kind),
        this.ctx(opts, sub),
      );
      return this.out(served, store, stored);
    });
  }

  patch(t: Target, type: PatchType, patch: any, opts?: PatchOptions): Promise<any> {
    return guarded(async () => {
      const { served, store } = this.served(t);
      const name = this.requireName(served, t);
      const sub = t.subresource;
      if (sub === 'scale' && served.def.subresources?.scale) {
        const ctx = this.ctx(opts, sub);
        return updateScale(
          served,
          store,
          t.namespace,
          name,
          (scale) =>
            applyPatch(type, scale, patch, 'io.k8s.api.autoscaling.v1.Scale', {
              fieldManager: ctx.fieldManager,
              force: !!opts?.force,
            }),
          ctx,
        );
      }
      if (sub && !isObjectSubresource(served.def, sub)) {
        throw serverErrors.notFound({ group: served.def.group, resource: served.def.plural }, `${name}/${sub}`);
      }
      this.allow(served, 'patch');
      if (type === 'json' ? !Array.isArray(patch) : !isPlainObject(patch)) {
        throw serverErrors.badRequest(
          type === 'json' ? 'the JSON patch must be a list of operations' : 'the patch must be a JSON object',
        );
      }
      const ctx = this.ctx(opts, sub);
      const definition = definitionForGVK(served.def.group, served.version.name, served.def.kind);
      if (type === 'strategic' && !definition) {
        throw serverErrors.unsupportedMediaType('application/strategic-merge-patch+json', [
          'application/json-patch+json',
          'application/merge-patch+json',
          'application/apply-patch+yaml',
        ]);
      }
      const apiVersion = apiVersionOf(served.def.group, served.version.name);
      const apply = (current: any) => {
        const patched = applyPatch(type, current, patch, definition, {
          fieldManager: ctx.fieldManager,
          force: !!opts?.force,
        });
        if (!isPlainObject(patched))
          throw serverErrors.badRequest('the patch produced something that is not an object');
        patched.apiVersion = apiVersion;
        patched.kind = served.def.kind;
        patched.metadata ??= {};
        this.checkNameAndNamespace(served, t, patched);
        return fromServed(served, patched as any, store.storageApiVersion, store.def.kind);
      };
      if (type === 'apply' && !sub && !store.tryGet(t.namespace, name)) {
        const created = apply({ apiVersion, kind: served.def.kind, metadata: { name, namespace: t.namespace } });
        return this.out(served, store, await store.create(isPromise(created) ? await created : created, ctx));
      }
      const stored = await store.update(
        t.namespace,
        name,
        (cur) => then(toServed(served, cur.obj, store.storageApiVersion), (c) => apply(deepCopy(c))),
        ctx,
      );
      return this.out(served, store, stored);
    });
  }

  delete(t: Target, opts: DeleteOptions = {}): Promise<any> {
    return guarded(async () => {
      const { served, store } = this.served(t);
      this.allow(served, 'delete');
      const name = this.requireName(served, t);
      const result = await store.delete(t.namespace, name, deleteOpts(opts), this.ctx(opts));
      if (!result.deleted || served.def.gracefulDelete) return this.outObj(served, store, result.obj);
      const details: serverErrors.StatusDetails = { name };
      if (served.def.group) details.group = served.def.group;
      details.kind = served.def.plural;
      details.uid = result.obj.metadata.uid;
      return serverErrors.successStatus(details);
    });
  }

  deleteCollection(t: Target, opts: ListOptions & DeleteOptions = {}): Promise<any> {
    return guarded(async () => {
      const { served, store } = this.served(t);
      this.allow(served, 'deletecollection');
      const m = this.matcher(served, opts.labelSelector, opts.fieldSelector);
      const targets = store.cache
        .list(store.keyPrefix(served.def.namespaced ? t.namespace : undefined))
        .filter((s) => m.matches(s.obj));
      const ctx = this.ctx(opts);
      const items: any[] = [];
      for (const s of targets) {
        try {
          const r = await store.delete(s.obj.metadata.namespace, s.obj.metadata.name, deleteOpts(opts), ctx);
          items.push(await this.outObj(served, store, r.obj));
        } catch (err) {
          if (err instanceof serverErrors.ApiError && err.code === 404) continue;
          throw err;
        }
      }
      return {
        apiVersion: apiVersionOf(served.def.group, served.version.name),
        kind: served.def.listKind ?? `${served.def.kind}List`,
        metadata: { resourceVersion: String(store.cache.revision) },
        items,
      };
    });
  }

  discover(): Promise<DiscoveredResource[]> {
    const out: DiscoveredResource[] = [];
    for (const def of this.api.registry.all()) {
      const v = def.versions.find((x) => x.served !== false);
      if (!v) continue;
      out.push({
        group: def.group,
        version: v.name,
        plural: def.plural,
        namespaced: def.namespaced,
        kind: def.kind,
        verbs: [...verbsOf(def)],
      });
    }
    return Promise.resolve(out);
  }

  async close(): Promise<void> {}
}

/** An object cut down to its type and metadata (PartialObjectMetadata, keeping the object's own apiVersion and kind). */
function metadataOnly(obj: any): any {
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata: obj.metadata };
}

/**
 * A private copy of a stored object for a list or watch: whole, or its metadata-only form (as a
 * JSON round trip would make it); without managedFields when the caller does not want them.
 */
function storedCopy(s: StoredObject, opts: ListOptions | WatchOptions): any {
  if (!opts.asMetadata) {
    const obj = deepCopy(s.obj);
    if (opts.omitManagedFields && obj.metadata) delete obj.metadata.managedFields;
    return obj;
  }
  return jsonCopy({
    apiVersion: s.obj.apiVersion,
    kind: s.obj.kind,
    metadata: opts.omitManagedFields ? withoutManagedFields(s.obj.metadata) : s.obj.metadata,
  });
}

function withoutManagedFields(meta: any): any {
  const { managedFields: _dropped, ...rest } = meta;
  return rest;
}

/** A deep copy of JSON data, equal to JSON.parse(JSON.stringify(v)) for plain objects, arrays and primitives. */
function jsonCopy(v: any): any {
  if (v === null || typeof v !== 'object') return v;
  if (typeof v.toJSON === 'function') return JSON.parse(JSON.stringify(v));
  if (Array.isArray(v)) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const e = v[i];
      out[i] = e === undefined || typeof e === 'function' || typeof e === 'symbol' ? null : jsonCopy(e);
    }
    return out;
  }
  const out: any = {};
  for (const k in v) {
    if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
    const e = v[k];
    if (e === undefined || typeof e === 'function' || typeof e === 'symbol') continue;
    setOwn(out, k, jsonCopy(e));
  }
  return out;
}

function deleteOpts(o: DeleteOptions) {
  return {
    gracePeriodSeconds: o.gracePeriodSeconds,
    propagationPolicy: o.propagationPolicy,
    preconditions: o.preconditions,
  };
}

/** A client calling the API server's stores directly (components inside `k8ts server`). */
export function inProcessClient(api: ApiServer, opts: InProcessOptions): Client {
  return new Client(new InProcessTransport(api, opts));
}
