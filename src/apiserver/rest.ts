// The generic REST handlers: one implementation of get/list/watch/create/update/patch/delete/
// deletecollection (and the status and scale subresources) for every resource. Resource-specific
// behaviour comes from the ResourceDef strategy; storage from the Store.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ResourceDef, type VirtualReader, isObjectSubresource } from '../api/types.js';
import { readVirtual } from './virtual.js';
import * as errors from '../machinery/errors.js';
import { FieldSelector, parseFieldSelector } from '../machinery/fields.js';
import { Selector, parseSelector, formatLabelSelector } from '../machinery/labels.js';
import { deepCopy, getPath, isPlainObject, setPath } from '../machinery/objects.js';
import type { StoredObject } from '../storage/cacher.js';
import { type Backend, StorageError } from '../storage/interface.js';
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
import { decodeMismatch, isBuiltinKind, unrecognizedBody } from './decodeerrors.js';
import {
  type Negotiated,
  BodySyntaxError,
  decodeBody,
  duplicateJSONKeys,
  looksLikeJSON,
  mediaTypeOf,
  negotiate,
  queryBool,
  readBody,
  sendNegotiated,
  sendObject,
  send,
  warningHeaders,
} from './http.js';
import {
  PROTOBUF,
  decodeProtobufBody,
  encodeProtobufList,
  encodeStoredProtobuf,
  hasProtobuf,
  isProtobuf,
  protobufWatchSink,
} from './protobuf.js';
import type { ResourceRequest } from './requestinfo.js';
import { apiVersionOf, verbsOf } from './resources.js';
import type { DeleteOptions, Store, UserInfo, WriteContext } from './store.js';
import { checkStorableBody, checkStorableSize, pause } from './store.js';
import { partialList, partialMetadata, toTable, type IncludeObject } from './table.js';
import { type WatchSink, httpSink, runWatch } from './watch.js';
import { Paginator } from './paginate.js';
import { TypeMismatch, type FieldSchema, type SchemaType } from './fieldschema.js';
import { scaleReplicas } from './scale.js';
import {
  type DeleteOptionsValue,
  type ListOptions,
  type WriteOptionsKind,
  deleteOptionsFromBody,
  deleteOptionsFromQuery,
  listOptions,
  validateDeleteOptions,
  writeOptions,
} from './options.js';

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
/** Returns the patched object; a Promise when the work went off the event loop (a big server-side apply). */
export type PatchFn = (
  type: PatchType,
  current: any,
  patch: any,
  definition: string | undefined,
  ctx: PatchContext,
) => any;

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

/** The longest delay a Node timer takes (longer ones fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A body's apiVersion and kind, where given, must be those the URL addresses. */
function checkTypeMeta(obj: any, kind: string, apiVersion: string, group?: string): void {
  // Upstream decodes a built-in body as the type it names first: a type that doesn't convert
  // into the resource's fails there, before the API version is compared.
  if (group !== undefined) {
    const mismatch = decodeMismatch(obj.apiVersion, obj.kind, apiVersion, group, kind);
    if (mismatch) throw mismatch;
  }
  if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) {
    throw errors.badRequest(
      `the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersion})`,
    );
  }
  if (obj.kind !== undefined && obj.kind !== kind) {
    throw errors.badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${kind})`);
  }
}

/** Upstream's cap on the operations of one JSON patch (413 past it). */
const MAX_JSON_PATCH_OPERATIONS = 10_000;

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
      if (!(verbs as readonly string[]).includes(verb))
        throw errors.methodNotSupported({ group: served.def.group, resource: served.def.plural }, verb);
    };
    if (served.def.answerCreate) {
      if (method !== 'POST' || info.name || sub)
        throw errors.methodNotSupported({ group: served.def.group, resource: served.def.plural }, method.toLowerCase());
      return this.answer(scope);
    }
    if (served.def.virtualList) {
      if (method !== 'GET' || sub || queryBool(query, 'watch'))
        throw errors.methodNotSupported(
          { group: served.def.group, resource: served.def.plural },
          queryBool(query, 'watch') ? 'watch' : method.toLowerCase(),
        );
      return this.virtual(scope);
    }
    if (sub) return this.subresource(scope);
    if (method === 'GET' && info.name) return (allow('get'), this.get(scope));
    if (method === 'GET') {
      if (queryBool(query, 'watch'))
        return (
          allow('watch'),
          this.watch(scope, () => (this.negotiateFor(scope).protobuf ? protobufWatchSink : httpSink)(scope.res))
        );
      return (allow('list'), this.list(scope));
    }
    if (method === 'POST' && !info.name) return (allow('create'), this.create(scope));
    if (method === 'PUT' && info.name) return (allow('update'), this.update(scope));
    if (method === 'PATCH' && info.name) return (allow('patch'), this.patchObject(scope));
    if (method === 'DELETE' && info.name) return (allow('delete'), this.delete(scope));
    if (method === 'DELETE') return (allow('deletecollection'), this.deleteCollection(scope));
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

  /** The options of a create, update or patch (a 422 when invalid, as upstream), as a WriteContext. */
  private writeContext(scope: RequestScope, kind: WriteOptionsKind, subresource?: string, apply = false): WriteContext {
    const opts = writeOptions(scope.query, kind, apply);
    return this.context(scope, opts.dryRun, subresource);
  }

  private context(scope: RequestScope, dryRun: boolean, subresource?: string): WriteContext {
    const manager = scope.query.get('fieldManager') || defaultFieldManager(scope.req.headers['user-agent']);
    // The body's size decides whether the write's steps yield to other requests (see pause()).
    const declared = Number(scope.req.headers['content-length']);
    return {
      dryRun,
      fieldManager: manager,
      user: scope.user,
      warnings: [],
      subresource,
      bodyBytes: declared > 0 ? declared : undefined,
    };
  }

  /** Validated with the other write options (writeContext); unset means Warn. */
  private fieldValidation(scope: RequestScope): FieldValidation {
    return (scope.query.get('fieldValidation') || 'Warn') as FieldValidation;
  }

  /** Read a body object and check it is addressed to this resource. */
  private async readObject(
    scope: RequestScope,
    kindExpected: string,
    apiVersionExpected: string,
    opts: { validate?: boolean } = {},
  ): Promise<any> {
    const bytes = await readBody(scope.req);
    const protobuf = isProtobuf(mediaTypeOf(scope.req.headers['content-type']));
    const raw = protobuf ? undefined : bytes.toString('utf8');
    const { def, version } = scope.served;
    const builtin = isBuiltinKind(def.group, def.kind, version.name);
    // JSON (or YAML written as JSON) and protobuf bodies too big to store go no further.
    const textual = ['application/json', 'application/yaml', ''].includes(
      mediaTypeOf(scope.req.headers['content-type']),
    );
    const measured = protobuf || (textual && looksLikeJSON(raw!));
    if (measured) checkStorableBody(raw ?? bytes);
    let obj: any;
    try {
      obj = protobuf
        ? decodeProtobufBody(bytes, { apiVersion: apiVersionExpected, kind: kindExpected })
        : await decodeBody(raw!, scope.req.headers['content-type']);
    } catch (err) {
      if (builtin && err instanceof BodySyntaxError) throw unrecognizedBody(kindExpected, err.upstreamCause, bytes);
      throw err;
    }
    await pause(bytes.length);
    if (!isPlainObject(obj)) throw errors.badRequest('the request body must be a JSON or YAML object');
    checkTypeMeta(obj, kindExpected, apiVersionExpected, builtin ? def.group : undefined);
    if (obj.metadata !== undefined && !isPlainObject(obj.metadata))
      throw errors.badRequest('metadata: must be an object');
    obj.apiVersion = apiVersionExpected;
    obj.kind = kindExpected;
    // A body the decoder refuses: upstream's transformDecodeError names the kind and version.
    const kind = scope.served.def.kind;
    const decodeError = `${kind} in version ${JSON.stringify(scope.served.version.name)} cannot be handled as a ${kind}: `;
    // An object too big to store is refused before the walks below (bounded work; see checkStorableSize).
    if (!measured) checkStorableSize(obj);
    if (opts.validate !== false) {
      // Protobuf has no unknown or duplicate fields to report (upstream: no strict decoding for
      // it); fields newer than this server's schema are still dropped.
      this.validateFields(scope, obj, raw, undefined, decodeError, protobuf ? 'Ignore' : undefined);
      await pause(bytes.length);
    }
    return obj;
  }

  /**
   * Unknown and duplicate fields: dropped always; reported per fieldValidation. Values the
   * decoder can't take (wrong JSON type, malformed time) are a 400, prefixed with `decodeError`.
   */
  private validateFields(
    scope: RequestScope,
    obj: any,
    raw?: string,
    warnings?: string[],
    decodeError = '',
    modeOverride?: FieldValidation,
  ): void {
    // The parameter is checked even when overridden (a bad value is a 400 either way).
    const asked = this.fieldValidation(scope);
    const mode = modeOverride ?? asked;
    const { def, version } = scope.served;
    let pruned: string[];
    try {
      pruned = this.deps.schema.prune(def.group, version.name, def.kind, obj);
    } catch (err) {
      // The schema's walk already says "<Kind> in version ... cannot be handled as ...".
      if (err instanceof TypeMismatch) throw errors.badRequest(raw ? err.quoting(raw) : err.message);
      throw err;
    }
    const problems = pruned.map((p) => `unknown field "${p}"`);
    if (raw && !mediaTypeOf(scope.req.headers['content-type']).includes('yaml')) {
      for (const k of duplicateJSONKeys(raw)) problems.push(`duplicate field "${k}"`);
    }
    if (!problems.length || mode === 'Ignore') return;
    if (mode === 'Strict') throw errors.badRequest(`${decodeError}strict decoding error: ${problems.join(', ')}`);
    (warnings ?? scope.warnings).push(...problems);
  }

  private reply(scope: RequestScope, code: number, obj: any, ctx?: WriteContext): void {
    const neg = this.negotiateFor(scope);
    const headers = warningHeaders([...(ctx?.warnings ?? []), ...scope.warnings, ...this.deprecation(scope)]);
    if (neg.kind === 'table') return sendObject(scope.res, code, this.table(scope, [obj], {}), neg.yaml, headers);
    if (neg.kind === 'partial') return sendNegotiated(scope.res, code, partialMetadata(obj), neg, headers);
    sendNegotiated(scope.res, code, obj, neg, headers);
  }

  /** Negotiate the response: protobuf is offered for built-in types (and object metadata). */
  private negotiateFor(scope: RequestScope): Negotiated {
    return negotiate(scope.req.headers.accept, {
      protobuf: hasProtobuf(this.apiVersion(scope), scope.served.def.kind) ? 'objects' : 'metadata',
    });
  }

  private deprecation(scope: RequestScope): string[] {
    const v = scope.served.version;
    if (!v.deprecated) return [];
    return [v.deprecationWarning ?? `${this.apiVersion(scope)} ${scope.served.def.kind} is deprecated`];
  }

  private table(scope: RequestScope, objs: any[], listMeta: Record<string, unknown>): any {
    const include = (scope.query.get('includeObject') ?? 'Metadata') as IncludeObject;
    if (!['None', 'Metadata', 'Object'].includes(include))
      throw errors.badRequest(`includeObject: Unsupported value: ${JSON.stringify(include)}`);
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
    const neg = this.negotiateFor(scope);
    const items = r.items.map(typed);
    const headers = warningHeaders(this.deprecation(scope));
    if (neg.kind === 'table') return sendObject(scope.res, 200, this.table(scope, items, {}), neg.yaml, headers);
    if (neg.kind === 'partial') return sendNegotiated(scope.res, 200, partialList(items, {}), neg, headers);
    sendNegotiated(
      scope.res,
      200,
      { kind: def.listKind ?? `${def.kind}List`, apiVersion: this.apiVersion(scope), metadata: {}, items },
      neg,
      headers,
    );
  }

  private get(scope: RequestScope): void | Promise<void> {
    const stored = this.store(scope).get(scope.info.namespace, scope.info.name!);
    return this.replyStored(scope, stored);
  }

  private replyStored(scope: RequestScope, stored: StoredObject, code = 200): void | Promise<void> {
    const neg = this.negotiateFor(scope);
    const dep = this.deprecation(scope);
    if (
      neg.kind === 'object' &&
      !neg.yaml &&
      servedAsStored(scope.served, this.store(scope).storageApiVersion) &&
      !dep.length
    ) {
      return neg.protobuf
        ? send(scope.res, code, encodeStoredProtobuf(stored.obj), PROTOBUF)
        : send(scope.res, code, stored.json);
    }
    return this.replyOut(scope, code, stored.obj);
  }

  private selectors(
    scope: RequestScope,
    opts: ListOptions,
  ): { labels: Selector; fields: FieldSelector; matches: (obj: any) => boolean } {
    const labels = parseSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector);
    const def = this.store(scope).def;
    const getters = def.fieldSelectors ?? {};
    for (const f of fields.fields()) {
      if (f !== 'metadata.name' && f !== 'metadata.namespace' && !getters[f]) {
        throw errors.badRequest(`field label not supported: ${f}`);
      }
    }
    const fieldOf = (obj: any) => (f: string) =>
      f === 'metadata.name'
        ? obj.metadata?.name
        : f === 'metadata.namespace'
          ? (obj.metadata?.namespace ?? '')
          : getters[f](obj);
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
    const opts = listOptions(query, false);
    const sel = this.selectors(scope, opts);
    // A limit of zero or less lists everything, as upstream's storage does.
    const limit = Math.max(0, opts.limit);
    const rv = opts.resourceVersion;
    const match = opts.resourceVersionMatch;
    if (rv && !/^\d+$/.test(rv))
      throw errors.badRequest(`resourceVersion: Invalid value: ${JSON.stringify(rv)}: must be a non-negative integer`);
    const cont = opts.continue;
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
    const neg = this.negotiateFor(scope);
    const { def } = scope.served;
    const store = this.store(scope);
    const headers = warningHeaders(this.deprecation(scope));
    if (neg.kind === 'table') {
      return then(
        this.outMany(
          scope,
          items.map((s) => s.obj),
        ),
        (objs) => sendObject(scope.res, 200, this.table(scope, objs, meta), neg.yaml, headers),
      );
    }
    if (neg.kind === 'partial')
      return sendNegotiated(
        scope.res,
        200,
        partialList(
          items.map((s) => s.obj),
          meta,
        ),
        neg,
        headers,
      );
    const listKind = def.listKind ?? `${def.kind}List`;
    if (neg.protobuf && servedAsStored(scope.served, store.storageApiVersion)) {
      // Each item's message bytes are kept with the stored object: encoded once, like its JSON.
      return send(
        scope.res,
        200,
        encodeProtobufList(
          this.apiVersion(scope),
          listKind,
          meta,
          items.map((s) => s.obj),
          true,
        ),
        PROTOBUF,
        headers,
      );
    }
    if (!neg.yaml && !neg.protobuf && servedAsStored(scope.served, store.storageApiVersion)) {
      // Fast path: each object's JSON was rendered once, when it was stored.
      const head = `{"kind":${JSON.stringify(listKind)},"apiVersion":${JSON.stringify(this.apiVersion(scope))},"metadata":${JSON.stringify(meta)},"items":[`;
      return send(scope.res, 200, head + items.map((s) => s.json).join(',') + ']}', 'application/json', headers);
    }
    return then(
      this.outMany(
        scope,
        items.map((s) => s.obj),
      ),
      (objs) =>
        sendNegotiated(
          scope.res,
          200,
          { kind: listKind, apiVersion: this.apiVersion(scope), metadata: meta, items: objs },
          neg,
          headers,
        ),
    );
  }

  /** Start a watch; the sink (and with it the 200 response) opens only once the request is valid. */
  watch(scope: RequestScope, openSink: () => WatchSink): void {
    const { query, served, info } = scope;
    const store = this.store(scope);
    const opts = listOptions(query, true);
    const sel = this.selectors(scope, opts);
    const rv = opts.resourceVersion;
    const sendInitialEvents = opts.sendInitialEvents === true;
    if (rv && !/^\d+$/.test(rv))
      throw errors.badRequest(`resourceVersion: Invalid value: ${JSON.stringify(rv)}: must be a non-negative integer`);
    // As upstream: no timeout (or 0) means the server's randomised default; a negative one ends at once.
    const timeoutMs = opts.timeoutSeconds
      ? Math.min(Math.max(0, opts.timeoutSeconds) * 1000, MAX_TIMER_MS)
      : DEFAULT_WATCH_TIMEOUT_MS();
    const neg = this.negotiateFor(scope);
    const fast = neg.kind === 'object' && servedAsStored(served, store.storageApiVersion);
    const listKind = served.def.kind;
    const apiVersion = this.apiVersion(scope);
    const include = (query.get('includeObject') ?? 'Metadata') as IncludeObject;
    const renderObj = (obj: any): string => {
      if (neg.kind === 'table')
        return JSON.stringify(
          toTable(
            served.version.table ?? served.def.table,
            [obj],
            { resourceVersion: obj.metadata?.resourceVersion },
            { includeObject: include },
          ),
        );
      if (neg.kind === 'partial') return JSON.stringify(partialMetadata(obj));
      return JSON.stringify(obj);
    };
    // Synchronous unless a conversion webhook converts: then runWatch keeps events in order.
    const render = (s: StoredObject): MaybePromise<string> => {
      if (fast) return s.json;
      const obj = this.out(scope, s.obj);
      return isPromise(obj) ? obj.then(renderObj) : renderObj(obj);
    };
    const renderMany = fast
      ? undefined
      : (items: StoredObject[]): MaybePromise<string[]> =>
          then(
            this.outMany(
              scope,
              items.map((s) => s.obj),
            ),
            (objs) => objs.map(renderObj),
          );
    const bookmark = (r: number, end: boolean) => {
      const meta: any = { resourceVersion: String(r) };
      if (end) meta.annotations = { 'k8s.io/initial-events-end': 'true' };
      return JSON.stringify({
        kind: neg.kind === 'partial' ? 'PartialObjectMetadata' : listKind,
        apiVersion: neg.kind === 'partial' ? 'meta.k8s.io/v1' : apiVersion,
        metadata: meta,
      });
    };
    const nameSel = sel.fields.requirements.find((r) => r.field === 'metadata.name' && r.op === '=');
    const keyPrefix = store.keyPrefix(served.def.namespaced ? info.namespace : undefined);
    const exactKey =
      nameSel && (info.namespace || !served.def.namespaced) ? store.key(info.namespace, nameSel.value) : undefined;
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
        bookmarks: opts.allowWatchBookmarks,
        timeoutMs,
        asStored: fast,
      },
      openSink(),
    );
  }

  // ---- write ---------------------------------------------------------------------------------

  /** Create-only reviews: answered from the request, nothing stored. */
  private async answer(scope: RequestScope): Promise<void> {
    this.writeContext(scope, 'CreateOptions');
    const obj = await this.readObject(scope, scope.served.def.kind, this.apiVersion(scope));
    const answer = scope.served.def.answerCreate!(obj, scope.user);
    sendNegotiated(
      scope.res,
      201,
      { ...answer, apiVersion: this.apiVersion(scope), kind: scope.served.def.kind },
      this.negotiateFor(scope),
    );
  }

  private async create(scope: RequestScope): Promise<void> {
    const { served, info } = scope;
    const store = this.store(scope);
    const ctx = this.writeContext(scope, 'CreateOptions');
    const obj = await this.readObject(scope, served.def.kind, this.apiVersion(scope));
    const meta = (obj.metadata ??= {});
    if (served.def.namespaced) {
      if (!info.namespace)
        throw errors.badRequest('the server could not find the requested resource: a namespace is required');
      if (meta.namespace && meta.namespace !== info.namespace) {
        throw errors.badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
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

  private replyWritten(
    scope: RequestScope,
    stored: StoredObject,
    code: number,
    ctx: WriteContext,
  ): void | Promise<void> {
    if (!ctx.warnings.length && !scope.warnings.length) return this.replyStored(scope, stored, code);
    return this.replyOut(scope, code, stored.obj, ctx);
  }

  private async update(scope: RequestScope): Promise<void> {
    const { served, info } = scope;
    const store = this.store(scope);
    const ctx = this.writeContext(scope, 'UpdateOptions');
    const obj = await this.readObject(scope, served.def.kind, this.apiVersion(scope));
    this.checkNameAndNamespace(scope, obj);
    const stored = await store.update(
      info.namespace,
      info.name!,
      () => fromServed(served, obj, store.storageApiVersion, store.def.kind),
      ctx,
    );
    return this.replyWritten(scope, stored, 200, ctx);
  }

  private checkNameAndNamespace(scope: RequestScope, obj: any): void {
    checkObjectAddress(obj, scope.info.name!, scope.served.def.namespaced ? scope.info.namespace : undefined);
  }

  /** The patch type named by the Content-Type (415 for another), checked before anything else. */
  private patchType(scope: RequestScope): PatchType {
    const mt = mediaTypeOf(scope.req.headers['content-type']);
    const type = PATCH_TYPES[mt];
    if (!type) throw errors.unsupportedMediaType(mt, Object.keys(PATCH_TYPES));
    return type;
  }

  /** A patch request's options (PatchOptions, validated) and body. */
  private async readPatch(
    scope: RequestScope,
    subresource?: string,
  ): Promise<{ type: PatchType; body: any; force: boolean; ctx: WriteContext }> {
    const type = this.patchType(scope);
    const ctx = this.writeContext(scope, 'PatchOptions', subresource, type === 'apply');
    const raw = await readBody(scope.req);
    // An applied configuration ends up in the object whole: one too big to store goes no further.
    const text = type === 'apply' ? raw.toString('utf8') : undefined;
    const measured = text !== undefined && looksLikeJSON(text);
    if (measured) checkStorableBody(text);
    const body: any = await decodeBody(text ?? raw, type === 'apply' ? 'application/yaml' : 'application/json');
    await pause(raw.length);
    if (type === 'json' ? !Array.isArray(body) : !isPlainObject(body)) {
      throw errors.badRequest(
        type === 'json' ? 'the JSON patch must be a list of operations' : 'the patch must be a JSON object',
      );
    }
    if (type === 'json' && body.length > MAX_JSON_PATCH_OPERATIONS) {
      throw errors.entityTooLargeMessage(
        `The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${body.length}`,
      );
    }
    if (type === 'apply' && !measured) checkStorableSize(body);
    return { type, body, force: queryBool(scope.query, 'force') === true, ctx };
  }

  private async patchObject(scope: RequestScope, subresource?: string): Promise<void> {
    const { served, info } = scope;
    const store = this.store(scope);
    const { type, body, force, ctx } = await this.readPatch(scope, subresource);
    const definition = this.deps.schema.definitionFor(served.def.group, served.version.name, served.def.kind);
    if (type === 'strategic' && !definition) {
      throw errors.unsupportedMediaType('application/strategic-merge-patch+json', [
        'application/json-patch+json',
        'application/merge-patch+json',
        'application/apply-patch+yaml',
      ]);
    }
    if (type === 'apply') {
      ctx.operation = 'Apply';
      // An applied configuration is a whole object of the URL's kind (it is typed by its kind).
      if (body.kind !== served.def.kind) {
        throw errors.badRequest(
          `the kind in the apply patch (${body.kind ?? ''}) does not match the expected kind (${served.def.kind})`,
        );
      }
    }
    const schemaType =
      type === 'apply' ? this.deps.schema.typeFor?.(served.def.group, served.version.name, served.def.kind) : undefined;
    const patchCtx: PatchContext = {
      fieldManager: ctx.fieldManager,
      force,
      type: schemaType,
      subresource,
      statusSubresource: !!served.def.subresources?.status,
    };
    const apply = (current: any): MaybePromise<any> =>
      then(this.deps.patch(type, current, body, definition, patchCtx), (patched) => {
        if (!isPlainObject(patched)) throw errors.badRequest('the patch produced something that is not an object');
        // A patch may not turn the object into another kind (the result is decoded as this one).
        checkTypeMeta(patched, served.def.kind, this.apiVersion(scope));
        patched.apiVersion = this.apiVersion(scope);
        patched.kind = served.def.kind;
        this.validateFields(scope, patched, undefined, ctx.warnings);
        this.checkNameAndNamespace(scope, patched);
        return fromServed(served, patched as any, store.storageApiVersion, store.def.kind);
      });
    if (type === 'apply' && !store.tryGet(info.namespace, info.name!) && !subresource) {
      let created = apply({
        apiVersion: this.apiVersion(scope),
        kind: served.def.kind,
        metadata: { name: info.name, namespace: info.namespace },
      });
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

  /**
   * DeleteOptions as upstream's delete handler reads them: from the body when there is one (the
   * query is then ignored), else from the query; then ValidateDeleteOptions (422).
   */
  private async deleteOptions(scope: RequestScope): Promise<DeleteOptions & { dryRun: boolean }> {
    const raw = await readBody(scope.req);
    let decoded: DeleteOptionsValue;
    if (raw.length && raw.toString('utf8').trim()) {
      decoded = deleteOptionsFromBody(await decodeBody(raw, scope.req.headers['content-type'] ?? 'application/json'));
    } else {
      decoded = deleteOptionsFromQuery(scope.query);
    }
    validateDeleteOptions(decoded);
    const opts: DeleteOptions & { dryRun: boolean } = { dryRun: (decoded.dryRun?.length ?? 0) > 0 };
    if (decoded.gracePeriodSeconds !== undefined) opts.gracePeriodSeconds = decoded.gracePeriodSeconds;
    if (decoded.orphanDependents !== undefined)
      opts.propagationPolicy = decoded.orphanDependents ? 'Orphan' : 'Background';
    else if (decoded.propagationPolicy !== undefined)
      opts.propagationPolicy = decoded.propagationPolicy as DeleteOptions['propagationPolicy'];
    if (decoded.preconditions) opts.preconditions = decoded.preconditions;
    return opts;
  }

  private async delete(scope: RequestScope): Promise<void> {
    const { info, served } = scope;
    const store = this.store(scope);
    const opts = await this.deleteOptions(scope);
    const ctx = this.context(scope, opts.dryRun);
    const result = await store.delete(info.namespace, info.name!, opts, ctx);
    if (!result.deleted || served.def.gracefulDelete) return this.replyOut(scope, 200, result.obj, ctx);
    const details: errors.StatusDetails = { name: info.name };
    if (served.def.group) details.group = served.def.group;
    details.kind = served.def.plural;
    details.uid = result.obj.metadata.uid;
    sendNegotiated(
      scope.res,
      200,
      errors.successStatus(details),
      this.negotiateFor(scope),
      warningHeaders(ctx.warnings),
    );
  }

  private async deleteCollection(scope: RequestScope): Promise<void> {
    const { info, served } = scope;
    const store = this.store(scope);
    const sel = this.selectors(scope, listOptions(scope.query, false));
    const opts = await this.deleteOptions(scope);
    const ctx = this.context(scope, opts.dryRun);
    const targets = store.cache
      .list(store.keyPrefix(served.def.namespaced ? info.namespace : undefined))
      .filter((s) => sel.matches(s.obj));
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
    sendNegotiated(
      scope.res,
      200,
      {
        kind: listKind,
        apiVersion: this.apiVersion(scope),
        metadata: { resourceVersion: String(store.cache.revision) },
        items,
      },
      this.negotiateFor(scope),
    );
  }

  // ---- subresources --------------------------------------------------------------------------

  private async subresource(scope: RequestScope): Promise<void> {
    const { info, served, req } = scope;
    const method = req.method ?? 'GET';
    const sub = info.subresource!;
    const ref = this.ref(scope);
    if (isObjectSubresource(served.def, sub)) {
      if (method === 'GET') return this.get(scope);
      if (method === 'PUT') {
        const store = this.store(scope);
        const ctx = this.writeContext(scope, 'UpdateOptions', sub);
        const obj = await this.readObject(scope, served.def.kind, this.apiVersion(scope));
        this.checkNameAndNamespace(scope, obj);
        const stored = await store.update(
          info.namespace,
          info.name!,
          () => fromServed(served, obj, store.storageApiVersion, store.def.kind),
          ctx,
        );
        return this.replyWritten(scope, stored, 200, ctx);
      }
      if (method === 'PATCH') return this.patchObject(scope, sub);
      throw errors.methodNotSupported(ref, method.toLowerCase());
    }
    if (sub === 'scale' && served.def.subresources?.scale) return this.scale(scope);
    throw errors.notFound(ref, `${info.name}/${sub}`);
  }

  private toScale(scope: RequestScope, obj: any): any {
    const scale = scope.served.def.subresources!.scale!;
    const selector = scale.selector
      ? scale.selector(obj)
      : scale.labelSelectorPath
        ? getPath(obj, scale.labelSelectorPath)
        : undefined;
    const status: any = { replicas: Number(getPath(obj, scale.statusReplicasPath) ?? 0) };
    if (selector) status.selector = typeof selector === 'string' ? selector : formatLabelSelector(selector);
    const m = obj.metadata;
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        resourceVersion: m.resourceVersion,
        creationTimestamp: m.creationTimestamp,
      },
      spec: { replicas: Number(getPath(obj, scale.specReplicasPath) ?? 0) },
      status,
    };
  }

  private async scale(scope: RequestScope): Promise<void> {
    const { info, served, req } = scope;
    const method = req.method ?? 'GET';
    const store = this.store(scope);
    const scaleDef = served.def.subresources!.scale!;
    const neg = negotiate(scope.req.headers.accept, { protobuf: 'objects' });
    if (method === 'GET')
      return then(this.out(scope, store.get(info.namespace, info.name!).obj), (obj) =>
        sendNegotiated(scope.res, 200, this.toScale(scope, obj), neg),
      );
    let ctx: WriteContext;
    let mutateScale: (scale: any) => any;
    let conditional: boolean;
    if (method === 'PUT') {
      ctx = this.writeContext(scope, 'UpdateOptions', 'scale');
      const body = await this.readObject(scope, 'Scale', 'autoscaling/v1', { validate: false });
      this.checkNameAndNamespace(scope, body);
      mutateScale = () => body;
      conditional = !!body.metadata?.resourceVersion;
    } else if (method === 'PATCH') {
      const patch = await this.readPatch(scope, 'scale');
      const { type, body, force } = patch;
      ctx = patch.ctx;
      mutateScale = (scale) =>
        this.deps.patch(type, scale, body, 'io.k8s.api.autoscaling.v1.Scale', {
          fieldManager: ctx.fieldManager,
          force,
        });
      conditional = patchSetsResourceVersion(type, body);
    } else {
      throw errors.methodNotSupported(this.ref(scope), method.toLowerCase());
    }
    const stored = await store.update(
      info.namespace,
      info.name!,
      (cur) =>
        then(this.out(scope, cur.obj), (served_) => {
          const obj = deepCopy(served_);
          const scale = mutateScale(this.toScale(scope, obj));
          const replicas = scaleReplicas(scale, info.name!);
          if (scale?.metadata?.resourceVersion && scale.metadata.resourceVersion !== obj.metadata.resourceVersion) {
            throw errors.conflict(this.ref(scope), info.name!, errors.OBJECT_MODIFIED);
          }
          setPath(obj, scaleDef.specReplicasPath, replicas ?? 0);
          return fromServed(served, obj, store.storageApiVersion, store.def.kind);
        }),
      ctx,
      conditional,
    );
    let out = this.out(scope, stored.obj);
    if (isPromise(out)) out = await out;
    sendNegotiated(scope.res, 200, this.toScale(scope, out), neg, warningHeaders(ctx.warnings));
  }
}

/** Does a patch itself name a resourceVersion (a precondition), rather than inherit the current one? */
function patchSetsResourceVersion(type: PatchType, body: any): boolean {
  if (type === 'json')
    return (
      Array.isArray(body) && body.some((op: any) => op?.path === '/metadata/resourceVersion' && op.op !== 'remove')
    );
  const rv = body?.metadata?.resourceVersion;
  return rv !== undefined && rv !== null && rv !== '';
}

/** No route upstream: go-restful's 404, as the generic API server renders it. */
const noRoute = () => new errors.ApiError(404, 'NotFound', 'the server could not find the requested resource', {});

/**
 * The routes upstream installs for a resource: a cluster-scoped one has none under
 * /namespaces/{ns}/, and a namespaced one is reached without a namespace only to list or watch
 * across namespaces (another method there is a 405, any object path a 404).
 */
export function checkRoute(def: ResourceDef, info: ResourceRequest, method: string): void {
  if (!def.namespaced && info.namespace !== undefined) throw noRoute();
  if (def.namespaced && info.namespace === undefined) {
    if (info.name !== undefined) throw noRoute();
    if (method !== 'GET')
      throw new errors.ApiError(
        405,
        'MethodNotAllowed',
        'the server does not allow this method on the requested resource',
        {},
      );
  }
}

/**
 * Upstream's checks of an update body against the URL (EnsureObjectNamespaceMatchesRequestNamespace,
 * then checkName): the namespace must match the request's (filled in when missing, cleared for a
 * cluster-scoped resource: `namespace` undefined), and the name must be given and match.
 */
export function checkObjectAddress(obj: any, name: string, namespace: string | undefined): void {
  const meta = (obj.metadata ??= {});
  if (namespace === undefined) delete meta.namespace;
  else if (!meta.namespace) meta.namespace = namespace;
  else if (meta.namespace !== namespace)
    throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
  if (!meta.name)
    throw errors.badRequest(`the name of the object (${name} based on URL) was undeterminable: name must be provided`);
  if (meta.name !== name)
    throw errors.badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
}

/** Upstream's default field manager: the user agent's program name. */
export function defaultFieldManager(userAgent: string | undefined): string {
  if (!userAgent) return 'unknown';
  return userAgent.split('/')[0].slice(0, 128) || 'unknown';
}

export { StorageError };
