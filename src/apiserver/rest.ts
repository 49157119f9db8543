// The generic REST handlers: one implementation of get/list/watch/create/update/patch/delete/
// deletecollection (and the status and scale subresources) for every resource. Resource-specific
// behaviour comes from the ResourceDef strategy; storage from the Store.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResourceDef, VirtualReader } from '../api/types.js';
import { readVirtual } from './virtual.js';
import * as errors from '../machinery/errors.js';
import { FieldSelector, parseFieldSelector } from '../machinery/fields.js';
import { Selector, parseSelector, formatLabelSelector } from '../machinery/labels.js';
import { deepCopy, getPath, isPlainObject, setPath } from '../machinery/objects.js';
import type { StoredObject } from '../storage/cacher.js';
import { type Backend, StorageError } from '../storage/interface.js';
import { type MaybePromise, type Served, fromServed, isPromise, servedAsStored, then, toServed, toServedMany } from './convert.js';
import { decodeBody, duplicateJSONKeys, mediaTypeOf, negotiate, queryBool, readBody, sendObject, send, warningHeaders } from './http.js';
import type { ResourceRequest } from './requestinfo.js';
import { apiVersionOf, verbsOf } from './resources.js';
import type { DeleteOptions, Store, UserInfo, WriteContext } from './store.js';
import { pause } from './store.js';
import { partialList, partialMetadata, toTable, type IncludeObject } from './table.js';
import { type WatchSink, httpSink, runWatch } from './watch.js';
import { Paginator } from './paginate.js';
import { TypeMismatch, type FieldSchema, type SchemaType } from './fieldschema.js';

export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

export type { FieldSchema, SchemaType } from './fieldschema.js';

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';
export interface PatchContext {
  fieldManager: string;
  force: boolean;
  /** For apply: the kind's schema, the subresource written, and whether status is a subresource. */
  type?: SchemaType;
  subresource?: string;
  statusSubresource?: boolean;
}
export type PatchFn = (type: PatchType, current: any, patch: any, definition: string | undefined, ctx: PatchContext) => any;

export interface RestDeps {
  storeFor(def: ResourceDef): Store;
  /** Stored objects for virtual resources (ResourceDef.virtualList). */
  virtualReader?: VirtualReader;
  backend: Backend;
  schema: FieldSchema;
  patch: PatchFn;
}

export interface RequestScope {
  req: IncomingMessage;
  res: ServerResponse;
  info: ResourceRequest;
  served: Served;
  query: URLSearchParams;
  user: UserInfo;
  /** Warnings gathered while handling, sent as Warning headers. */
  warnings: string[];
}

const PATCH_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
  'application/apply-patch+cbor': 'apply',
};

const DEFAULT_WATCH_TIMEOUT_MS = () => (1800 + Math.floor(Math.random() * 1800)) * 1000;

export class RestHandler {
  private readonly paginator = new Paginator();

  constructor(private readonly deps: RestDeps) {}

  async handle(scope: RequestScope): Promise<void> {
    const { req, info, query, served } = scope;
    const verbs = verbsOf(served.def);
    const method = req.method ?? 'GET';
    const sub = info.subresource;
    const allow = (verb: string) => {
      if (!(verbs as readonly string[]).includes(verb)) throw errors.methodNotSupported({ group: served.def.group, resource: served.def.plural }, verb);
    };
    if (served.def.namespaced && !info.namespace && info.name && method !== 'GET') {
      // e.g. POST /api/v1/pods/x: namespaced resources need a namespace to write.
      throw errors.notFound({ group: served.def.group, resource: served.def.plural }, info.name);
    }
    if (served.def.answerCreate) {
      if (method !== 'POST' || info.name || sub) throw errors.methodNotSupported({ group: served.def.group, resource: served.def.plural }, method.toLowerCase());
      return this.answer(scope);
    }
    if (served.def.virtualList) {
      if (method !== 'GET' || sub || queryBool(query, 'watch')) throw errors.methodNotSupported({ group: served.def.group, resource: served.def.plural }, queryBool(query, 'watch') ? 'watch' : method.toLowerCase());
      return this.virtual(scope);
    }
    if (sub) return this.subresource(scope);
    if (method === 'GET' && info.name) return allow('get'), this.get(scope);
    if (method === 'GET') {
      if (queryBool(query, 'watch')) return allow('watch'), this.watch(scope, () => httpSink(scope.res));
      return allow('list'), this.list(scope);
    }
    if (method === 'POST' && !info.name) return allow('create'), this.create(scope);
    if (method === 'PUT' && info.name) return allow('update'), this.update(scope);
    if (method === 'PATCH' && info.name) return allow('patch'), this.patchObject(scope);
    if (method === 'DELETE' && info.name) return allow('delete'), this.delete(scope);
    if (method === 'DELETE') return allow('deletecollection'), this.deleteCollection(scope);
    throw errors.methodNotSupported({ group: served.def.group, resource: served.def.plural }, method.toLowerCase());
  }

  // ---- helpers -------------------------------------------------------------------------------

  private store(scope: RequestScope): Store {
    return this.deps.storeFor(scope.served.def);
  }

  private ref(scope: RequestScope): errors.ResourceRef {
    return { group: scope.served.def.group, resource: scope.served.def.plural };
  }

  private apiVersion(scope: RequestScope): string {
    return apiVersionOf(scope.served.def.group, scope.served.version.name);
  }

  /** A stored object in the served version: a Promise only behind a conversion webhook. */
  private out(scope: RequestScope, stored: any): MaybePromise<any> {
    const store = this.store(scope);
    return toServed(scope.served, stored, store.storageApiVersion);
  }

  /** Many stored objects in the served version, converted in one batch (one ConversionReview). */
  private outMany(scope: RequestScope, stored: any[]): MaybePromise<any[]> {
    return toServedMany(scope.served, stored, this.store(scope).storageApiVersion);
  }

  /** Reply with a stored object converted to the served version. */
  private replyOut(scope: RequestScope, code: number, stored: any, ctx?: WriteContext): void | Promise<void> {
    const obj = this.out(scope, stored);
    if (isPromise(obj)) return obj.then((o) => this.reply(scope, code, o, ctx));
    this.reply(scope, code, obj, ctx);
  }

  private writeContext(scope: RequestScope, subresource?: string): WriteContext {
    const dryRun = scope.query.getAll('dryRun');
    for (const d of dryRun) if (d !== 'All') throw errors.badRequest(`Invalid dry run value: ${JSON.stringify(d)}`);
    const manager = scope.query.get('fieldManager') ?? defaultFieldManager(scope.req.headers['user-agent']);
    if (manager.length > 128) throw errors.badRequest('fieldManager: Too long: may not be more than 128 bytes');
    const declared = Number(scope.req.headers['content-length']);
    return { dryRun: dryRun.length > 0, fieldManager: manager, user: scope.user, warnings: [], subresource, bodyBytes: declared > 0 ? declared : undefined };
  }

  private fieldValidation(scope: RequestScope): FieldValidation {
    const v = scope.query.get('fieldValidation') ?? 'Warn';
    if (v !== 'Ignore' && v !== 'Warn' && v !== 'Strict') {
      throw errors.badRequest(`fieldValidation parameter unsupported value: ${JSON.stringify(v)}; supported values are "Ignore", "Warn", "Strict"`);
    }
    return v;
  }

  /** Read a body object and check it is addressed to this resource. */
  private async readObject(scope: RequestScope, kindExpected: string, apiVersionExpected: string, opts: { validate?: boolean } = {}): Promise<any> {
    const raw = (await readBody(scope.req)).toString('utf8');
    const obj = decodeBody(raw, scope.req.headers['content-type']);
    await pause(raw.length);
    if (!isPlainObject(obj)) throw errors.badRequest('the request body must be a JSON or YAML object');
    if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersionExpected) {
      throw errors.badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersionExpected})`);
    }
    if (obj.kind !== undefined && obj.kind !== kindExpected) {
      throw errors.badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${kindExpected})`);
    }
    if (obj.metadata !== undefined && !isPlainObject(obj.metadata)) throw errors.badRequest('metadata: must be an object');
    obj.apiVersion = apiVersionExpected;
    obj.kind = kindExpected;
    if (opts.validate !== false) {
      this.validateFields(scope, obj, raw);
      await pause(raw.length);
    }
    return obj;
  }

  /** Unknown and duplicate fields: dropped always; reported per fieldValidation. */
  private validateFields(scope: RequestScope, obj: any, raw?: string, warnings?: string[]): void {
    const mode = this.fieldValidation(scope);
    const { def, version } = scope.served;
    let pruned: string[];
    try {
      pruned = this.deps.schema.prune(def.group, version.name, def.kind, obj);
    } catch (err) {
      if (err instanceof TypeMismatch) throw errors.badRequest(err.message);
      throw err;
    }
    const problems = pruned.map((p) => `unknown field "${p}"`);
    if (raw && !mediaTypeOf(scope.req.headers['content-type']).includes('yaml')) {
      for (const k of duplicateJSONKeys(raw)) problems.push(`duplicate field "${k}"`);
    }
    if (!problems.length || mode === 'Ignore') return;
    if (mode === 'Strict') throw errors.badRequest(`strict decoding error: ${problems.join(', ')}`);
    (warnings ?? scope.warnings).push(...problems);
  }

  private reply(scope: RequestScope, code: number, obj: any, ctx?: WriteContext): void {
    const neg = negotiate(scope.req.headers.accept);
    const headers = warningHeaders([...(ctx?.warnings ?? []), ...scope.warnings, ...this.deprecation(scope)]);
    if (neg.kind === 'table') return sendObject(scope.res, code, this.table(scope, [obj], {}), neg.yaml, headers);
    if (neg.kind === 'partial') return sendObject(scope.res, code, partialMetadata(obj), neg.yaml, headers);
    sendObject(scope.res, code, obj, neg.yaml, headers);
  }

  private deprecation(scope: RequestScope): string[] {
    const v = scope.served.version;
    if (!v.deprecated) return [];
    return [v.deprecationWarning ?? `${this.apiVersion(scope)} ${scope.served.def.kind} is deprecated`];
  }

  private table(scope: RequestScope, objs: any[], listMeta: Record<string, unknown>): any {
    const include = (scope.query.get('includeObject') ?? 'Metadata') as IncludeObject;
    if (!['None', 'Metadata', 'Object'].includes(include)) throw errors.badRequest(`includeObject: Unsupported value: ${JSON.stringify(include)}`);
    const columns = scope.served.version.table ?? scope.served.def.table;
    return toTable(columns, objs, listMeta, { includeObject: include });
  }

  // ---- read ----------------------------------------------------------------------------------

  /** get/list of a virtual resource (computed on request, nothing stored). */
  private async virtual(scope: RequestScope): Promise<void> {
    const { def } = scope.served;
    const reader = this.deps.virtualReader ?? { list: () => [], get: () => undefined };
    const r = await readVirtual(def, reader, {
      namespace: scope.info.namespace,
      name: scope.info.name,
      labelSelector: scope.query.get('labelSelector') ?? undefined,
      fieldSelector: scope.query.get('fieldSelector') ?? undefined,
    });
    const typed = (o: any) => ({ kind: def.kind, apiVersion: this.apiVersion(scope), ...o });
    if (r.item) return this.reply(scope, 200, typed(r.item));
    const neg = negotiate(scope.req.headers.accept);
    const items = r.items.map(typed);
    if (neg.kind === 'table') return sendObject(scope.res, 200, this.table(scope, items, {}), neg.yaml);
    if (neg.kind === 'partial') return sendObject(scope.res, 200, partialList(items, {}), neg.yaml);
    sendObject(scope.res, 200, { kind: def.listKind ?? `${def.kind}List`, apiVersion: this.apiVersion(scope), metadata: {}, items }, neg.yaml);
  }

  private get(scope: RequestScope): void | Promise<void> {
    const stored = this.store(scope).get(scope.info.namespace, scope.info.name!);
    return this.replyStored(scope, stored);
  }

  private replyStored(scope: RequestScope, stored: StoredObject, code = 200): void | Promise<void> {
    const neg = negotiate(scope.req.headers.accept);
    const dep = this.deprecation(scope);
    if (neg.kind === 'object' && !neg.yaml && servedAsStored(scope.served, this.store(scope).storageApiVersion) && !dep.length) {
      return send(scope.res, code, stored.json);
    }
    return this.replyOut(scope, code, stored.obj);
  }

  private selectors(scope: RequestScope): { labels: Selector; fields: FieldSelector; matches: (obj: any) => boolean } {
    const labels = parseSelector(scope.query.get('labelSelector') ?? '');
    const fields = parseFieldSelector(scope.query.get('fieldSelector') ?? '');
    const def = this.store(scope).def;
    const getters = def.fieldSelectors ?? {};
    for (const f of fields.fields()) {
      if (f !== 'metadata.name' && f !== 'metadata.namespace' && !getters[f]) {
        throw errors.badRequest(`field label not supported: ${f}`);
      }
    }
    const fieldOf = (obj: any) => (f: string) =>
      f === 'metadata.name' ? obj.metadata?.name : f === 'metadata.namespace' ? (obj.metadata?.namespace ?? '') : getters[f](obj);
    const matchAll = labels.isEmpty() && fields.isEmpty();
    return {
      labels,
      fields,
      matches: matchAll ? () => true : (obj) => labels.matches(obj.metadata?.labels) && fields.matches(fieldOf(obj)),
    };
  }

  private async list(scope: RequestScope): Promise<void> {
    const { query, served } = scope;
    const store = this.store(scope);
    const sel = this.selectors(scope);
    const limitText = query.get('limit');
    const limit = limitText ? Number(limitText) : 0;
    if (limitText && (!Number.isInteger(limit) || limit < 0)) throw errors.badRequest(`limit: Invalid value: ${JSON.stringify(limitText)}`);
    const rv = query.get('resourceVersion') ?? '';
    const match = query.get('resourceVersionMatch') ?? '';
    if (match && !['Exact', 'NotOlderThan'].includes(match)) {
      throw errors.badRequest(`resourceVersionMatch: Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan"`);
    }
    if (match && !rv) throw errors.badRequest('resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided');
    if (rv && !/^\d+$/.test(rv)) throw errors.badRequest(`resourceVersion: Invalid value: ${JSON.stringify(rv)}: must be a non-negative integer`);
    const cont = query.get('continue') ?? '';
    if (cont && rv) throw errors.badRequest('specifying resource version is not allowed when using continue');
    const page = await this.paginator.page({
      store,
      backend: this.deps.backend,
      keyPrefix: store.keyPrefix(served.def.namespaced ? scope.info.namespace : undefined),
      matches: sel.matches,
      selectorKey: `${sel.labels.toString()}|${query.get('fieldSelector') ?? ''}`,
      hasSelector: !(sel.labels.isEmpty() && sel.fields.isEmpty()),
      limit,
      continueToken: cont,
      resourceVersion: rv,
      exact: match === 'Exact' || (!!rv && rv !== '0' && limit > 0 && !match),
    });
    return this.sendList(scope, page.items, page.meta);
  }

  private sendList(scope: RequestScope, items: StoredObject[], meta: Record<string, unknown>): void | Promise<void> {
    const neg = negotiate(scope.req.headers.accept);
    const { def } = scope.served;
    const store = this.store(scope);
    const headers = warningHeaders(this.deprecation(scope));
    if (neg.kind === 'table') {
      return then(this.outMany(scope, items.map((s) => s.obj)), (objs) => sendObject(scope.res, 200, this.table(scope, objs, meta), neg.yaml, headers));
    }
    if (neg.kind === 'partial') return sendObject(scope.res, 200, partialList(items.map((s) => s.obj), meta), neg.yaml, headers);
    const listKind = def.listKind ?? `${def.kind}List`;
    if (!neg.yaml && servedAsStored(scope.served, store.storageApiVersion)) {
      // Fast path: each object's JSON was rendered once, when it was stored.
      const head = `{"kind":${JSON.stringify(listKind)},"apiVersion":${JSON.stringify(this.apiVersion(scope))},"metadata":${JSON.stringify(meta)},"items":[`;
      return send(scope.res, 200, head + items.map((s) => s.json).join(',') + ']}', 'application/json', headers);
    }
    return then(this.outMany(scope, items.map((s) => s.obj)), (objs) =>
      sendObject(scope.res, 200, { kind: listKind, apiVersion: this.apiVersion(scope), metadata: meta, items: objs }, neg.yaml, headers),
    );
  }

  /** Start a watch; the sink (and with it the 200 response) opens only once the request is valid. */
  watch(scope: RequestScope, openSink: () => WatchSink): void {
    const { query, served, info } = scope;
    const store = this.store(scope);
    const sel = this.selectors(scope);
    const rv = query.get('resourceVersion') ?? '';
    const sendInitialEvents = queryBool(query, 'sendInitialEvents') === true;
    if (rv && !/^\d+$/.test(rv)) throw errors.badRequest(`resourceVersion: Invalid value: ${JSON.stringify(rv)}: must be a non-negative integer`);
    const timeoutText = query.get('timeoutSeconds');
    const timeoutMs = timeoutText ? Math.max(0, Number(timeoutText)) * 1000 : DEFAULT_WATCH_TIMEOUT_MS();
    const neg = negotiate(scope.req.headers.accept);
    const fast = neg.kind === 'object' && servedAsStored(served, store.storageApiVersion);
    const listKind = served.def.kind;
    const apiVersion = this.apiVersion(scope);
    const include = (query.get('includeObject') ?? 'Metadata') as IncludeObject;
    const renderObj = (obj: any): string => {
      if (neg.kind === 'table') return JSON.stringify(toTable(served.version.table ?? served.def.table, [obj], { resourceVersion: obj.metadata?.resourceVersion }, { includeObject: include }));
      if (neg.kind === 'partial') return JSON.stringify(partialMetadata(obj));
      return JSON.stringify(obj);
    };
    // Synchronous unless a conversion webhook converts: then runWatch keeps events in order.
    const render = (s: StoredObject): MaybePromise<string> => {
      if (fast) return s.json;
      const obj = this.out(scope, s.obj);
      return isPromise(obj) ? obj.then(renderObj) : renderObj(obj);
    };
    const renderMany = fast ? undefined : (items: StoredObject[]): MaybePromise<string[]> => then(this.outMany(scope, items.map((s) => s.obj)), (objs) => objs.map(renderObj));
    const bookmark = (r: number, end: boolean) => {
      const meta: any = { resourceVersion: String(r) };
      if (end) meta.annotations = { 'k8s.io/initial-events-end': 'true' };
      return JSON.stringify({ kind: neg.kind === 'partial' ? 'PartialObjectMetadata' : listKind, apiVersion: neg.kind === 'partial' ? 'meta.k8s.io/v1' : apiVersion, metadata: meta });
    };
    const nameSel = sel.fields.requirements.find((r) => r.field === 'metadata.name' && r.op === '=');
    const keyPrefix = store.keyPrefix(served.def.namespaced ? info.namespace : undefined);
    const exactKey = nameSel && (info.namespace || !served.def.namespaced) ? store.key(info.namespace, nameSel.value) : undefined;
    let fromRev: number | undefined;
    if (rv === '' || rv === '0') fromRev = undefined;
    else fromRev = Number(rv);
    if (sendInitialEvents) fromRev = undefined;
    runWatch(
      {
        cache: store.cache,
        keyPrefix,
        exactKey,
        matches: sel.matches,
        render,
        renderMany,
        bookmark,
        fromRev,
        sendInitialEvents,
        bookmarks: queryBool(query, 'allowWatchBookmarks') === true,
        timeoutMs,
        asStored: fast,
      },
      openSink(),
    );
  }

  // ---- write ---------------------------------------------------------------------------------

  /** Create-only reviews: answered from the request, nothing stored. */
  private async answer(scope: RequestScope): Promise<void> {
    const obj = await this.readObject(scope, scope.served.def.kind, this.apiVersion(scope));
    const answer = scope.served.def.answerCreate!(obj, scope.user);
    sendObject(scope.res, 201, { ...answer, apiVersion: this.apiVersion(scope), kind: scope.served.def.kind });
  }

  private async create(scope: RequestScope): Promise<void> {
    const { served, info } = scope;
    const store = this.store(scope);
    const ctx = this.writeContext(scope);
    const obj = await this.readObject(scope, served.def.kind, this.apiVersion(scope));
    const meta = (obj.metadata ??= {});
    if (served.def.namespaced) {
      if (!info.namespace) throw errors.badRequest('the server could not find the requested resource: a namespace is required');
      if (meta.namespace && meta.namespace !== info.namespace) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = info.namespace;
    } else {
      delete meta.namespace;
    }
    let converted = fromServed(served, obj, store.storageApiVersion, store.def.kind);
    if (isPromise(converted)) converted = await converted;
    // The decoded body is this request's own: the store needn't copy it.
    const stored = await store.create(converted, ctx, true);
    return this.replyWritten(scope, stored, 201, ctx);
  }

  private replyWritten(scope: RequestScope, stored: StoredObject, code: number, ctx: WriteContext): void | Promise<void> {
    if (!ctx.warnings.length && !scope.warnings.length) return this.replyStored(scope, stored, code);
    return this.replyOut(scope, code, stored.obj, ctx);
  }

  private async update(scope: RequestScope): Promise<void> {
    const { served, info } = scope;
    const store = this.store(scope);
    const ctx = this.writeContext(scope);
    const obj = await this.readObject(scope, served.def.kind, this.apiVersion(scope));
    this.checkNameAndNamespace(scope, obj);
    const stored = await store.update(info.namespace, info.name!, () => fromServed(served, obj, store.storageApiVersion, store.def.kind), ctx);
    return this.replyWritten(scope, stored, 200, ctx);
  }

  private checkNameAndNamespace(scope: RequestScope, obj: any): void {
    const meta = (obj.metadata ??= {});
    const { info, served } = scope;
    if (meta.name !== undefined && meta.name !== info.name) {
      throw errors.badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${info.name})`);
    }
    meta.name = info.name;
    if (served.def.namespaced) {
      if (meta.namespace && meta.namespace !== info.namespace) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = info.namespace;
    }
  }

  private async readPatch(scope: RequestScope): Promise<{ type: PatchType; body: any; force: boolean }> {
    const mt = mediaTypeOf(scope.req.headers['content-type']);
    const type = PATCH_TYPES[mt];
    if (!type) throw errors.unsupportedMediaType(mt, Object.keys(PATCH_TYPES));
    const raw = await readBody(scope.req);
    const body = decodeBody(raw, type === 'apply' ? 'application/yaml' : 'application/json');
    await pause(raw.length);
    if (type === 'json' ? !Array.isArray(body) : !isPlainObject(body)) {
      throw errors.badRequest(type === 'json' ? 'the JSON patch must be a list of operations' : 'the patch must be a JSON object');
    }
    const forceText = scope.query.get('force');
    if (forceText && type !== 'apply') throw errors.badRequest('force: Forbidden: may not be specified for non-apply patch');
    if (type === 'apply' && !scope.query.get('fieldManager')) {
      throw errors.badRequest('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
    }
    return { type, body, force: queryBool(scope.query, 'force') === true };
  }

  private async patchObject(scope: RequestScope, subresource?: string): Promise<void> {
    const { served, info } = scope;
    const store = this.store(scope);
    const ctx = this.writeContext(scope, subresource);
    const { type, body, force } = await this.readPatch(scope);
    const definition = this.deps.schema.definitionFor(served.def.group, served.version.name, served.def.kind);
    if (type === 'strategic' && !definition) {
      throw errors.unsupportedMediaType('application/strategic-merge-patch+json', ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml']);
    }
    if (type === 'apply') ctx.operation = 'Apply';
    const schemaType = type === 'apply' ? this.deps.schema.typeFor?.(served.def.group, served.version.name, served.def.kind) : undefined;
    const patchCtx: PatchContext = { fieldManager: ctx.fieldManager, force, type: schemaType, subresource, statusSubresource: !!served.def.subresources?.status };
    const apply = (current: any): MaybePromise<any> => {
      const patched = this.deps.patch(type, current, body, definition, patchCtx);
      if (!isPlainObject(patched)) throw errors.badRequest('the patch produced something that is not an object');
      patched.apiVersion = this.apiVersion(scope);
      patched.kind = served.def.kind;
      this.validateFields(scope, patched, undefined, ctx.warnings);
      this.checkNameAndNamespace(scope, patched);
      return fromServed(served, patched as any, store.storageApiVersion, store.def.kind);
    };
    if (type === 'apply' && !store.tryGet(info.namespace, info.name!) && !subresource) {
      let created = apply({ apiVersion: this.apiVersion(scope), kind: served.def.kind, metadata: { name: info.name, namespace: info.namespace } });
      if (isPromise(created)) created = await created;
      const stored = await store.create(created, ctx);
      return this.replyWritten(scope, stored, 201, ctx);
    }
    const stored = await store.update(
      info.namespace,
      info.name!,
      // A patch computes its result from a copy; the current object is shared with the cache.
      (cur) => then(this.out(scope, cur.obj), (current) => apply(deepCopy(current))),
      ctx,
      patchSetsResourceVersion(type, body),
    );
    return this.replyWritten(scope, stored, 200, ctx);
  }

  private async deleteOptions(scope: RequestScope): Promise<DeleteOptions & { dryRun: boolean }> {
    const { query } = scope;
    let body: any = {};
    const raw = await readBody(scope.req);
    if (raw.length && raw.toString('utf8').trim()) {
      body = decodeBody(raw, scope.req.headers['content-type'] ?? 'application/json');
      if (!isPlainObject(body)) throw errors.badRequest('DeleteOptions must be an object');
    }
    const opts: DeleteOptions & { dryRun: boolean } = { dryRun: false };
    const grace = query.get('gracePeriodSeconds') ?? body.gracePeriodSeconds;
    if (grace !== undefined && grace !== null) {
      const g = Number(grace);
      if (!Number.isInteger(g)) throw errors.badRequest(`gracePeriodSeconds: Invalid value: ${JSON.stringify(grace)}`);
      opts.gracePeriodSeconds = g;
    }
    let policy = query.get('propagationPolicy') ?? body.propagationPolicy;
    const orphan = queryBool(query, 'orphanDependents') ?? body.orphanDependents;
    if (orphan !== undefined && orphan !== null) {
      if (policy) throw errors.badRequest('DeleteOptions "" is invalid: propagationPolicy: Invalid value: "": orphanDependents and deletionPropagation cannot be both set');
      policy = String(orphan) === 'true' ? 'Orphan' : 'Background';
    }
    if (policy !== undefined && policy !== null) {
      if (!['Orphan', 'Background', 'Foreground'].includes(policy)) {
        throw errors.badRequest(`DeleteOptions "" is invalid: propagationPolicy: Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan", "nil"`);
      }
      opts.propagationPolicy = policy;
    }
    if (body.preconditions) opts.preconditions = body.preconditions;
    const dry = [...query.getAll('dryRun'), ...(Array.isArray(body.dryRun) ? body.dryRun : [])];
    for (const d of dry) if (d !== 'All') throw errors.badRequest(`Invalid dry run value: ${JSON.stringify(d)}`);
    opts.dryRun = dry.length > 0;
    return opts;
  }

  private async delete(scope: RequestScope): Promise<void> {
    const { info, served } = scope;
    const store = this.store(scope);
    const opts = await this.deleteOptions(scope);
    const ctx = { ...this.writeContext(scope), dryRun: opts.dryRun };
    const result = await store.delete(info.namespace, info.name!, opts, ctx);
    if (!result.deleted || served.def.gracefulDelete) return this.replyOut(scope, 200, result.obj, ctx);
    const details: errors.StatusDetails = { name: info.name };
    if (served.def.group) details.group = served.def.group;
    details.kind = served.def.plural;
    details.uid = result.obj.metadata.uid;
    sendObject(scope.res, 200, errors.successStatus(details), false, warningHeaders(ctx.warnings));
  }

  private async deleteCollection(scope: RequestScope): Promise<void> {
    const { info, served } = scope;
    const store = this.store(scope);
    const opts = await this.deleteOptions(scope);
    const ctx = { ...this.writeContext(scope), dryRun: opts.dryRun };
    const sel = this.selectors(scope);
    const targets = store.cache.list(store.keyPrefix(served.def.namespaced ? info.namespace : undefined)).filter((s) => sel.matches(s.obj));
    const deleted: any[] = [];
    for (const t of targets) {
      try {
        const r = await store.delete(t.obj.metadata.namespace, t.obj.metadata.name, opts, ctx);
        deleted.push(r.obj);
      } catch (err) {
        if (err instanceof errors.ApiError && err.code === 404) continue;
        throw err;
      }
    }
    const listKind = served.def.listKind ?? `${served.def.kind}List`;
    let items = this.outMany(scope, deleted);
    if (isPromise(items)) items = await items;
    sendObject(scope.res, 200, { kind: listKind, apiVersion: this.apiVersion(scope), metadata: { resourceVersion: String(store.cache.revision) }, items });
  }

  // ---- subresources --------------------------------------------------------------------------

  private async subresource(scope: RequestScope): Promise<void> {
    const { info, served, req } = scope;
    const method = req.method ?? 'GET';
    const sub = info.subresource!;
    const ref = this.ref(scope);
    if (sub === 'status' && served.def.subresources?.status) {
      if (method === 'GET') return this.get(scope);
      if (method === 'PUT') {
        const store = this.store(scope);
        const ctx = this.writeContext(scope, 'status');
        const obj = await this.readObject(scope, served.def.kind, this.apiVersion(scope));
        this.checkNameAndNamespace(scope, obj);
        const stored = await store.update(info.namespace, info.name!, () => fromServed(served, obj, store.storageApiVersion, store.def.kind), ctx);
        return this.replyWritten(scope, stored, 200, ctx);
      }
      if (method === 'PATCH') return this.patchObject(scope, 'status');
      throw errors.methodNotSupported(ref, method.toLowerCase());
    }
    if (sub === 'scale' && served.def.subresources?.scale) return this.scale(scope);
    throw errors.notFound(ref, `${info.name}/${sub}`);
  }

  private toScale(scope: RequestScope, obj: any): any {
    const scale = scope.served.def.subresources!.scale!;
    const selector = scale.selector ? scale.selector(obj) : scale.labelSelectorPath ? getPath(obj, scale.labelSelectorPath) : undefined;
    const status: any = { replicas: Number(getPath(obj, scale.statusReplicasPath) ?? 0) };
    if (selector) status.selector = typeof selector === 'string' ? selector : formatLabelSelector(selector as any);
    const m = obj.metadata;
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
      spec: { replicas: Number(getPath(obj, scale.specReplicasPath) ?? 0) },
      status,
    };
  }

  private async scale(scope: RequestScope): Promise<void> {
    const { info, served, req } = scope;
    const method = req.method ?? 'GET';
    const store = this.store(scope);
    const scaleDef = served.def.subresources!.scale!;
    if (method === 'GET') return then(this.out(scope, store.get(info.namespace, info.name!).obj), (obj) => sendObject(scope.res, 200, this.toScale(scope, obj)));
    const ctx = this.writeContext(scope, 'scale');
    let mutateScale: (scale: any) => any;
    let conditional: boolean;
    if (method === 'PUT') {
      const body = await this.readObject(scope, 'Scale', 'autoscaling/v1', { validate: false });
      mutateScale = () => body;
      conditional = !!body.metadata?.resourceVersion;
    } else if (method === 'PATCH') {
      const { type, body, force } = await this.readPatch(scope);
      mutateScale = (scale) => this.deps.patch(type, scale, body, 'io.k8s.api.autoscaling.v1.Scale', { fieldManager: ctx.fieldManager, force });
      conditional = patchSetsResourceVersion(type, body);
    } else {
      throw errors.methodNotSupported(this.ref(scope), method.toLowerCase());
    }
    const stored = await store.update(info.namespace, info.name!, (cur) => then(this.out(scope, cur.obj), (served_) => {
      const obj = deepCopy(served_);
      const scale = mutateScale(this.toScale(scope, obj));
      const replicas = scale?.spec?.replicas;
      if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 0)) {
        throw errors.invalid('autoscaling', 'Scale', info.name!, [{ type: 'FieldValueInvalid', field: 'spec.replicas', detail: `Invalid value: ${replicas}: must be greater than or equal to 0` }]);
      }
      if (scale?.metadata?.resourceVersion && scale.metadata.resourceVersion !== obj.metadata.resourceVersion) {
        throw errors.conflict(this.ref(scope), info.name!, errors.OBJECT_MODIFIED);
      }
      setPath(obj, scaleDef.specReplicasPath, replicas ?? 0);
      return fromServed(served, obj, store.storageApiVersion, store.def.kind);
    }), ctx, conditional);
    let out = this.out(scope, stored.obj);
    if (isPromise(out)) out = await out;
    sendObject(scope.res, 200, this.toScale(scope, out), false, warningHeaders(ctx.warnings));
  }
}

/** Does a patch itself name a resourceVersion (a precondition), rather than inherit the current one? */
function patchSetsResourceVersion(type: PatchType, body: any): boolean {
  if (type === 'json') return Array.isArray(body) && body.some((op: any) => op?.path === '/metadata/resourceVersion' && op.op !== 'remove');
  const rv = body?.metadata?.resourceVersion;
  return rv !== undefined && rv !== null && rv !== '';
}

/** Upstream's default field manager: the user agent's program name. */
export function defaultFieldManager(userAgent: string | undefined): string {
  if (!userAgent) return 'unknown';
  return userAgent.split('/')[0].slice(0, 128) || 'unknown';
}

export { StorageError };
