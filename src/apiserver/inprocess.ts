// The in-process transport: components inside `k8ts server` call the API server's verb handlers
// (handlers/) directly — the same pipeline as HTTP requests (options validation, conversion,
// defaulting, field pruning and validation, admission, managedFields, pagination, warnings),
// without HTTP or JSON on the way. Objects handed out are private copies, so a caller can never
// corrupt the watch cache; informers that keep their objects frozen get the cache's own objects
// (deeply frozen: a write throws) instead of a copy each.
import type { ApiServer } from './server.js';
import type { ResourceRequest } from './requestinfo.js';
import { ExcludedLatency } from './excludedlatency.js';
import type { UserInfo } from './store.js';
import { type MaybePromise, servedAsStored, then } from './convert.js';
import { verbsOf } from './resources.js';
import type { WatchSink } from './watch.js';
import {
  type ListOptions as ServerListOptions,
  type DeleteOptionsValue,
  type WriteOptionsKind,
  validateWriteOptions,
} from './options.js';
import * as serverErrors from '../machinery/errors.js';
import { deepCopy, deepFreeze, setOwn, takeOrCopy } from '../machinery/objects.js';
import {
  type StoredObject,
  metadataOf,
  selectableMetadataOf,
  sharedMetadata,
  sharedObject,
  headOf,
} from '../storage/cacher.js';
import { ownCopy } from '../storage/sharedtext.js';
import {
  type ApiRequest,
  type ObjectResult,
  newRequest,
  resourceRef,
  servedApiVersion,
  servedObject,
  servedObjects,
  writeContext,
} from './handlers/request.js';
import { get } from './handlers/get.js';
import { list } from './handlers/list.js';
import { watch } from './handlers/watch.js';
import { create } from './handlers/create.js';
import { update } from './handlers/update.js';
import { patch } from './handlers/patch.js';
import { deleteCollection, deleteObject } from './handlers/delete.js';
import { ApiError } from '../client/errors.js';
import { beginInProcessAudit } from './audit/inprocess.js';
import { type AuthorizationResult, attributes, forbiddenError } from './authz/index.js';
import { nameFromFieldSelector } from './authz/request.js';
import type { ListParams } from './flowcontrol/workestimate.js';
import { Client } from '../client/client.js';
import { restClientRequest } from '../machinery/componentmetrics.js';
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
  /** Who the calls come from: they are authorized (and admitted, and audited) as this user. */
  user?: UserInfo;
  /** Called with each warning a request raised (the Warning headers of an HTTP answer). */
  onWarning?: (message: string) => void;
}

/** A client given no user (a library user's test client, envtest's admin): trusted, as system:masters. */
const DEFAULT_USER: UserInfo = {
  name: 'system:kube-controller-manager',
  groups: ['system:masters', 'system:authenticated'],
};

/** The HTTP method of each verb, as client-go's request metrics name calls. */
const VERB_METHODS: Record<string, string> = {
  get: 'GET',
  list: 'GET',
  watch: 'GET',
  create: 'POST',
  update: 'PUT',
  patch: 'PATCH',
  delete: 'DELETE',
  deletecollection: 'DELETE',
};

/** Run `fn`, turning whatever it throws into a client ApiError; counted as client-go counts requests. */
async function guarded<T>(method: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    const result = await fn();
    restClientRequest(method, '', method === 'POST' ? 201 : 200);
    return result;
  } catch (err) {
    const e = ApiError.from(err);
    restClientRequest(method, '', e.code);
    throw e;
  }
}

/** The object a call is about, as requestAttributes names it (a list or watch: the one its field selector names). */
function objectName(verb: string, t: Target, fieldSelector: string | undefined): string {
  if (verb === 'list' || verb === 'watch') return fieldSelector ? nameFromFieldSelector(fieldSelector) : '';
  return verb === 'deletecollection' ? '' : (t.name ?? '');
}

export class InProcessTransport implements Transport {
  readonly kind = 'in-process';
  readonly fieldManager: string;
  private readonly user: UserInfo;
  private readonly onWarning?: (message: string) => void;

  constructor(
    private readonly api: ApiServer,
    opts: InProcessOptions,
  ) {
    this.fieldManager = opts.fieldManager;
    this.user = opts.user ?? DEFAULT_USER;
    this.onWarning = opts.onWarning;
  }

  // ---- requests ------------------------------------------------------------------------------

  /**
   * Authorize a call as the component's user, with the attributes an HTTP request to the same
   * URL would have (upstream's components are clients of their API server: RBAC and the Node
   * authorizer decide what they may do). No authorizer configured: allowed.
   */
  private authorize(verb: string, t: Target, namespace: string | undefined, fieldSelector?: string) {
    const authorization = this.api.authorization;
    if (!authorization) return undefined;
    const name = objectName(verb, t, fieldSelector);
    const a = attributes({
      user: this.user,
      verb,
      // /api/v1/namespaces/{name} is in the namespace it names.
      namespace: namespace ?? (t.resource.plural === 'namespaces' && !t.resource.group ? name : ''),
      apiGroup: t.resource.group,
      apiVersion: t.resource.version,
      resource: t.resource.plural,
      subresource: t.subresource ?? '',
      name,
    });
    const result: AuthorizationResult = authorization.authorize(a);
    return { result, error: result.decision === 'Allow' ? undefined : ApiError.from(forbiddenError(a, result.reason)) };
  }

  /** Run a call, authorized and with its audit events (as an HTTP request gets them). */
  private audited<T>(
    verb: string,
    t: Target,
    /**
     * `audited`: an audit record keeps the request's body (it must stay as the caller sent it).
     * `excluded`: the call's time its latency SLI leaves out (a write's admission webhooks add theirs).
     */
    run: (audited: boolean, excluded: ExcludedLatency) => Promise<T>,
    body?: unknown,
    namespace = t.namespace,
    fieldSelector?: string,
    /** A list's options, for the seats it takes. */
    list?: ListParams,
  ) {
    const { observed, excluded } = this.timed(verb, t, namespace);
    const authz = this.authorize(verb, t, namespace, fieldSelector);
    const record = beginInProcessAudit(this.api.audit, {
      user: this.user,
      verb,
      group: t.resource.group,
      version: t.resource.version,
      resource: t.resource.plural,
      namespace,
      name: verb === 'list' || verb === 'watch' || verb === 'deletecollection' ? undefined : t.name,
      subresource: t.subresource,
      userAgent: this.fieldManager,
      body,
      authorization: authz?.result,
    });
    if (authz?.error) {
      record?.complete({ error: authz.error });
      restClientRequest(VERB_METHODS[verb] ?? verb.toUpperCase(), '', 403);
      return observed(Promise.reject(authz.error));
    }
    // API Priority and Fairness: the call takes a seat of its priority level, as an HTTP request would.
    const fc = this.api.flowControl;
    const call = fc
      ? (audited: boolean) => {
          const queued = process.hrtime.bigint();
          return fc.runInProcess(
            this.user,
            verb,
            t,
            namespace ?? '',
            () => {
              excluded.since(queued);
              return run(audited, excluded);
            },
            objectName(verb, t, fieldSelector),
            list,
          );
        }
      : (audited: boolean) => run(audited, excluded);
    if (!record) return observed(call(false));
    return observed(
      call(true).then(
        (response) => {
          record.complete({ response });
          return response;
        },
        (error: unknown) => {
          record.complete({ error });
          throw error;
        },
      ),
    );
  }

  /**
   * Times a call into the API server's request metrics (apiserver_request_duration_seconds and
   * its SLI variant), as the same call over HTTP would be: from its start, flow control's
   * queueing included in the one, left out (`excluded`) of the other.
   */
  private timed(verb: string, t: Target, namespace: string | undefined) {
    const excluded = new ExcludedLatency();
    // (A watch is no call the request metrics time.)
    const method = verb === 'watch' ? undefined : VERB_METHODS[verb];
    if (!method) return { excluded, observed: <T>(p: Promise<T>) => p };
    const started = process.hrtime.bigint();
    const info: ResourceRequest = {
      kind: 'resource',
      group: t.resource.group,
      version: t.resource.version,
      resource: t.resource.plural,
      namespace,
      // (A create names no object in its URL, unless it is a subresource's: pods/binding.)
      name:
        verb === 'list' || verb === 'deletecollection' || (verb === 'create' && !t.subresource) ? undefined : t.name,
      subresource: t.subresource,
    };
    const metrics = this.api.metrics;
    const observed = <T>(p: Promise<T>) =>
      p.then(
        (response) => {
          metrics.observeCall(method, info, verb === 'create' ? 201 : 200, started, excluded);
          return response;
        },
        (error: unknown) => {
          metrics.observeCall(method, info, ApiError.from(error).code, started, excluded);
          throw error;
        },
      );
    return { excluded, observed };
  }

  /**
   * The handlers' view of a call, as the HTTP layer makes it from a URL: the resource served at
   * the target's version (404 otherwise) and, for `named` verbs, an object address.
   */
  private request(t: Target, named: boolean, namespace = t.namespace, excluded?: ExcludedLatency): ApiRequest {
    const r = t.resource;
    const served = this.api.registry.lookup(r.group, r.version, r.plural);
    if (!served) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
    if (named) {
      if (!t.name) throw serverErrors.badRequest('resource name may not be empty');
      if (served.def.namespaced && !namespace)
        throw serverErrors.notFound({ group: served.def.group, resource: served.def.plural }, t.name);
    }
    return newRequest({
      served,
      namespace: served.def.namespaced ? namespace : undefined,
      name: named ? t.name : undefined,
      subresource: t.subresource,
      user: this.user,
      defaultFieldManager: this.fieldManager,
      excluded,
    });
  }

  /** Hand a finished request's warnings to the caller's handler. */
  private done<T>(req: ApiRequest, value: T): T {
    if (this.onWarning) for (const w of req.warnings) this.onWarning(w);
    return value;
  }

  /** Write options as the HTTPS transport sends them, validated as upstream does. */
  private writeOptions(opts: PatchOptions | undefined, kind: WriteOptionsKind, apply = false) {
    return validateWriteOptions(
      {
        dryRun: opts?.dryRun ? ['All'] : [],
        fieldManager: opts?.fieldManager ?? this.fieldManager,
        fieldValidation: opts?.fieldValidation ?? '',
        force: opts?.force || undefined,
      },
      kind,
      apply,
    );
  }

  /**
   * A handler's object, in the served version: a private copy, or (`shared`: the caller never
   * changes it) the watch cache's own object, deeply frozen, as shared informers get it.
   */
  private out(req: ApiRequest, result: ObjectResult, shared = false): MaybePromise<any> {
    if (!('stored' in result)) return deepCopy(result.object);
    const store = this.api.storeFor(req.served.def);
    if (servedAsStored(req.served, store.storageApiVersion))
      return shared ? deepFreeze(result.stored.obj) : deepCopy(result.stored.obj);
    // A converted object is this call's own.
    return then(servedObject(this.api.handlers, req, result.stored.obj), (o) => (shared ? deepFreeze(o) : deepCopy(o)));
  }

  /**
   * The body a write hands to the handlers, which write into it: the caller's own object when it
   * handed it over (markUnshared: nothing else references it) and no audit record keeps it as the
   * request it was, else a copy.
   */
  private body(body: any, audited: boolean): any {
    return audited ? deepCopy(body) : takeOrCopy(body);
  }

  /** A subresource with its own semantics (pods/binding, pods/eviction, namespaces/finalize). */
  private extra(req: ApiRequest) {
    const { def } = req.served;
    return this.api.extraSubresources.get(`${def.group}/${def.plural}/${req.subresource}`)?.call;
  }

  // ---- reads ---------------------------------------------------------------------------------

  get(t: Target): Promise<any> {
    return this.audited('get', t, () =>
      guarded('GET', async () => {
        const req = this.request(t, true);
        const result = await get(this.api.handlers, req);
        return this.done(req, await this.out(req, result));
      }),
    );
  }

  list(t: Target, opts: ListOptions = {}): Promise<ObjectList> {
    return this.audited(
      'list',
      t,
      () =>
        guarded('GET', async () => {
          const req = this.request(t, false);
          const result = await list(this.api.handlers, req, listOptions(opts, false));
          const { def } = req.served;
          const page = (items: any[]): ObjectList => ({
            apiVersion: servedApiVersion(req),
            kind: def.listKind ?? `${def.kind}List`,
            metadata: result.meta,
            items,
          });
          if ('objects' in result) return this.done(req, page(deepCopy(result.objects)));
          const store = this.api.storeFor(def);
          if (servedAsStored(req.served, store.storageApiVersion))
            return this.done(req, page(result.stored.map((s) => storedCopy(s, opts))));
          // One conversion for the whole list (one ConversionReview behind a webhook).
          const objs = await servedObjects(
            this.api.handlers,
            req,
            result.stored.map((s) => s.obj),
          );
          return this.done(req, page(objs.map((o) => deepCopy(o))));
        }),
      undefined,
      t.namespace,
      opts.fieldSelector,
      opts,
    );
  }

  watch(t: Target, opts: WatchOptions, onEvent: (ev: WatchEvent) => void): Watch {
    return this.startWatch(t, opts, onEvent, false);
  }

  /**
   * A watch whose events come as their JSON lines (`{"type":...,"object":...}`), with the watch
   * cache's text of each object as HTTP watchers get it, parsed by nobody here: for a transport
   * that passes events on to another thread (client/port.ts). `shared` and `omitManagedFields`
   * do not apply (the text is the object as stored).
   */
  watchLines(t: Target, opts: WatchOptions, onLine: (line: string) => void): Watch {
    return this.startWatch(t, opts, onLine, true);
  }

  private startWatch(t: Target, opts: WatchOptions, deliver: (ev: any) => void, lines: boolean): Watch {
    let resolveDone!: (end: WatchEnd) => void;
    const done = new Promise<WatchEnd>((r) => (resolveDone = r));
    let stopped = false;
    let ended = false;
    let endError: ApiError | undefined;
    let buffer: (WatchEvent | string)[] = [];
    let scheduled = false;
    const closeCallbacks: (() => void)[] = [];
    const authz = this.authorize('watch', t, t.namespace, opts.fieldSelector);
    const audit = beginInProcessAudit(this.api.audit, {
      user: this.user,
      verb: 'watch',
      group: t.resource.group,
      version: t.resource.version,
      resource: t.resource.plural,
      namespace: t.namespace,
      userAgent: this.fieldManager,
      authorization: authz?.result,
    });
    const finish = () => {
      if (stopped) return;
      stopped = true;
      for (const cb of closeCallbacks) cb();
      audit?.complete(endError ? { error: endError } : {});
      resolveDone(endError ? { error: endError } : {});
    };
    const flush = () => {
      scheduled = false;
      const events = buffer;
      buffer = [];
      for (const ev of events) {
        if (stopped) return;
        try {
          deliver(ev);
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
        if (lines) {
          if (line.startsWith('{"type":"ERROR"'))
            endError = ApiError.fromStatus((JSON.parse(line) as WatchEvent).object);
          buffer.push(line);
          schedule();
          return true;
        }
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
      if (authz?.error) throw authz.error;
      const req = this.request(t, false);
      const { served } = req;
      const store = this.api.storeFor(served.def);
      const fast = servedAsStored(served, store.storageApiVersion);
      const apiVersion = servedApiVersion(req);
      watch(
        this.api.handlers,
        req,
        listOptions(opts, true),
        {
          // Metadata-only watchers (the garbage collector watches every resource) get no more
          // than they asked for: a full object would be copied only to be cut down.
          render: (s) =>
            fast
              ? opts.asMetadata
                ? JSON.stringify(metadataOnly(s.obj))
                : s.json
              : then(servedObject(this.api.handlers, req, s.obj), (o) => JSON.stringify(o)),
          // Objects as stored: the event goes to the handler as an object, without wrapping it
          // in an event line to parse again.
          renderObject: fast && !lines ? (s) => storedCopy(s, opts) : undefined,
          bookmark: (r, end) => {
            const meta: any = { resourceVersion: String(r) };
            if (end) meta.annotations = { 'k8s.io/initial-events-end': 'true' };
            return JSON.stringify({ kind: served.def.kind, apiVersion, metadata: meta });
          },
        },
        () => sink,
      );
      // Counted among the watchers a write notifies (its extra seats), as an HTTP watch is.
      const fc = this.api.flowControl;
      if (fc)
        closeCallbacks.push(
          fc.watchers.register(
            t.resource.group,
            t.resource.plural,
            t.resource.namespaced ? (t.namespace ?? '') : '',
            opts.fieldSelector ? nameFromFieldSelector(opts.fieldSelector) : '',
            opts.fieldSelector,
          ),
        );
      audit?.started();
      this.done(req, undefined);
    } catch (err) {
      endError = ApiError.from(err);
      queueMicrotask(finish);
    }
    return { stop: finish, done };
  }

  // ---- writes --------------------------------------------------------------------------------

  create(t: Target, body: any, opts?: WriteOptions): Promise<any> {
    return this.audited(
      'create',
      t,
      (audited, excluded) =>
        guarded('POST', async () => {
          if (t.subresource) {
            // POST to an object's subresource: an action with its own semantics (pods/binding, ...).
            const req = this.request(t, true, t.namespace, excluded);
            const call = this.extra(req);
            if (!call) throw serverErrors.notFound(resourceRef(req), `${t.name}/${t.subresource}`);
            const ctx = writeContext(req, this.writeOptions(opts, 'CreateOptions'), t.subresource);
            return this.done(req, deepCopy(await call(req.namespace, req.name!, body, ctx)));
          }
          // A client names the namespace with the object; the URL of an HTTP request carries it.
          const req = this.request(t, false, t.namespace ?? body?.metadata?.namespace, excluded);
          const validated = this.writeOptions(opts, 'CreateOptions');
          const result = await create(this.api.handlers, req, { object: this.body(body, audited) }, validated);
          return this.done(req, await this.out(req, result, opts?.shared));
        }),
      body,
      t.namespace ?? body?.metadata?.namespace,
    );
  }

  update(t: Target, body: any, opts?: WriteOptions): Promise<any> {
    return this.audited(
      'update',
      t,
      (audited, excluded) =>
        guarded('PUT', async () => {
          const req = this.request(t, true, t.namespace, excluded);
          const validated = this.writeOptions(opts, 'UpdateOptions');
          const call = req.subresource ? this.extra(req) : undefined;
          if (call) {
            const ctx = writeContext(req, validated, req.subresource);
            return this.done(req, deepCopy(await call(req.namespace, req.name!, body, ctx)));
          }
          const result = await update(this.api.handlers, req, { object: this.body(body, audited) }, validated);
          return this.done(req, await this.out(req, result, opts?.shared));
        }),
      body,
    );
  }

  patch(t: Target, type: PatchType, body: any, opts?: PatchOptions): Promise<any> {
    return this.audited(
      'patch',
      t,
      (audited, excluded) =>
        guarded('PATCH', async () => {
          const req = this.request(t, true, t.namespace, excluded);
          const validated = this.writeOptions(opts, 'PatchOptions', type === 'apply');
          // The patch's values end up in the stored object: the caller's own stay untouched.
          const result = await patch(this.api.handlers, req, { type, body: this.body(body, audited) }, validated);
          return this.done(req, await this.out(req, result, opts?.shared));
        }),
      body,
    );
  }

  delete(t: Target, opts: DeleteOptions = {}): Promise<any> {
    return this.audited('delete', t, (_audited, excluded) =>
      guarded('DELETE', async () => {
        const req = this.request(t, true, t.namespace, excluded);
        const result = await deleteObject(this.api.handlers, req, deleteOptions(opts));
        return this.done(req, await this.out(req, result));
      }),
    );
  }

  deleteCollection(t: Target, opts: ListOptions & DeleteOptions = {}): Promise<any> {
    return this.audited('deletecollection', t, (_audited, excluded) =>
      guarded('DELETE', async () => {
        const req = this.request({ ...t, name: undefined }, false, t.namespace, excluded);
        const result = await deleteCollection(this.api.handlers, req, listOptions(opts, false), deleteOptions(opts));
        return this.done(req, deepCopy(result));
      }),
    );
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

/** A client's list or watch options as the HTTPS transport puts them in the query. */
function listOptions(o: ListOptions & WatchOptions, watching: boolean): ServerListOptions {
  return {
    labelSelector: o.labelSelector ?? '',
    fieldSelector: o.fieldSelector ?? '',
    watch: watching,
    allowWatchBookmarks: !!o.allowWatchBookmarks,
    resourceVersion: o.resourceVersion ?? '',
    resourceVersionMatch: o.resourceVersionMatch ?? (o.sendInitialEvents ? 'NotOlderThan' : ''),
    timeoutSeconds: o.timeoutSeconds,
    limit: o.limit ?? 0,
    continue: o.continue ?? '',
    sendInitialEvents: o.sendInitialEvents || undefined,
  };
}

/** A client's DeleteOptions as the HTTPS transport sends them (a DeleteOptions body). */
function deleteOptions(o: DeleteOptions): DeleteOptionsValue {
  const out: DeleteOptionsValue = {};
  if (o.gracePeriodSeconds !== undefined) out.gracePeriodSeconds = o.gracePeriodSeconds;
  if (o.propagationPolicy) out.propagationPolicy = o.propagationPolicy;
  if (o.preconditions) out.preconditions = o.preconditions;
  if (o.dryRun) out.dryRun = ['All'];
  return out;
}

/** An object cut down to its type and metadata (PartialObjectMetadata, keeping the object's own apiVersion and kind). */
function metadataOnly(obj: any): any {
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata: obj.metadata };
}

/**
 * A stored object for a list or watch: whole, or its metadata-only form (as a JSON round trip
 * would make it); without managedFields when the caller does not want them. A private copy,
 * unless the caller promised never to change it (`shared`, frozen informers): then the watch
 * cache's own frozen object, so every informer in the process holds the same one.
 */
function storedCopy(s: StoredObject, opts: ListOptions | WatchOptions): any {
  if (opts.shared) {
    if (!opts.asMetadata) return sharedObject(s, !!opts.omitManagedFields);
    const { apiVersion, kind } = typeOf(s);
    return { apiVersion, kind, metadata: sharedMetadata(s, !!opts.omitManagedFields) };
  }
  if (!opts.asMetadata) {
    const obj = deepCopy(s.obj);
    if (opts.omitManagedFields && obj.metadata) delete obj.metadata.managedFields;
    return obj;
  }
  const { apiVersion, kind } = typeOf(s);
  // Without managedFields, the cache's metadata as kept (parsing the object again only for them).
  const metadata = opts.omitManagedFields ? withoutManagedFields(selectableMetadataOf(s)) : metadataOf(s);
  return jsonCopy({ apiVersion, kind, metadata });
}

/**
 * apiVersion and kind of a stored object from the head of its JSON text (stored values begin
 * with them), so a metadata-only reader does not parse the whole object again.
 */
function typeOf(s: StoredObject): { apiVersion: string; kind: string } {
  const m = /^\{"apiVersion":("(?:[^"\\]|\\.)*"),"kind":("(?:[^"\\]|\\.)*"),/.exec(headOf(s));
  if (!m) return { apiVersion: s.obj.apiVersion, kind: s.obj.kind };
  // One pair of strings per type, not per object: metadata-only informers keep one object each.
  let t = knownTypes.get(m[0]);
  if (t === undefined) {
    t = Object.freeze({ apiVersion: JSON.parse(m[1]) as string, kind: JSON.parse(m[2]) as string });
    if (knownTypes.size >= 1024) knownTypes.clear();
    knownTypes.set(ownCopy(m[0]), t);
  }
  return t;
}

/** typeOf's answers by the head of the text they were read from. */
const knownTypes = new Map<string, { readonly apiVersion: string; readonly kind: string }>();

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

/** A client calling the API server's stores directly (components inside `k8ts server`). */
export function inProcessClient(api: ApiServer, opts: InProcessOptions): Client {
  return new Client(new InProcessTransport(api, opts));
}
