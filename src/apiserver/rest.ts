// The HTTP entry to the request pipeline: decode a REST request (URL, query, body by content
// type), call the verb's handler (handlers/), encode its answer (JSON, YAML, protobuf, Table,
// PartialObjectMetadata) with the Warning headers. The in-process transport (inprocess.ts) is
// the other entry to the same handlers.
import type { ExcludedLatency } from './excludedlatency.js';
import { auditAnnotationsFor } from './audit/index.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ResourceDef, isObjectSubresource } from '../api/types.js';
import * as errors from '../machinery/errors.js';
import type { StoredObject } from '../storage/cacher.js';
import { type MaybePromise, isPromise, servedAsStored, then } from './convert.js';
import { isBuiltinKind, unrecognizedBody } from './decodeerrors.js';
import {
  type JSONScan,
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
import { type UserInfo, checkStorableBody, pause } from './store.js';
import type { Served } from './convert.js';
import { partialList, partialMetadata, storedTableText, toTable, type IncludeObject } from './table.js';
import { type WatchSink, httpSink } from './watch.js';
import {
  type DeleteOptionsValue,
  deleteOptionsFromBody,
  deleteOptionsFromQuery,
  listOptionsFromQuery,
  writeOptions,
} from './options.js';
import {
  type ApiRequest,
  type Body,
  type HandlerDeps,
  type ObjectResult,
  type PatchType,
  listKindOf,
  newRequest,
  servedApiVersion,
  servedObject,
  servedObjects,
} from './handlers/request.js';
import { get } from './handlers/get.js';
import { type ListResult, list } from './handlers/list.js';
import { watch } from './handlers/watch.js';
import { create } from './handlers/create.js';
import { update } from './handlers/update.js';
import { patch } from './handlers/patch.js';
import { deleteCollection, deleteObject } from './handlers/delete.js';

export type { FieldSchema, SchemaType } from './fieldschema.js';
export type { PatchContext, PatchFn, PatchType } from './handlers/request.js';

export interface RequestScope {
  req: IncomingMessage;
  res: ServerResponse;
  info: ResourceRequest;
  served: Served;
  query: URLSearchParams;
  user: UserInfo;
  /** Warnings gathered while handling, sent as Warning headers. */
  warnings: string[];
  /** The request's time its latency SLI leaves out (queueing, admission webhooks). */
  excluded?: ExcludedLatency;
}

const PATCH_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
  'application/apply-patch+cbor': 'apply',
};

export class RestHandler {
  constructor(private readonly deps: HandlerDeps) {}

  async handle(scope: RequestScope): Promise<void> {
    const { info, query, served } = scope;
    const method = scope.req.method ?? 'GET';
    const ref = { group: served.def.group, resource: served.def.plural };
    // Resources with a single verb route: other methods are refused by name, as before any decoding.
    if (served.def.answerCreate && (method !== 'POST' || info.name || info.subresource))
      throw errors.methodNotSupported(ref, method.toLowerCase());
    if (served.def.virtualList && (method !== 'GET' || info.subresource || queryBool(query, 'watch')))
      throw errors.methodNotSupported(ref, queryBool(query, 'watch') ? 'watch' : method.toLowerCase());
    const sub = info.subresource;
    if (sub && !isObjectSubresource(served.def, sub) && !(sub === 'scale' && served.def.subresources?.scale))
      throw errors.notFound(ref, `${info.name}/${sub}`);
    if (method === 'GET' && !info.name && queryBool(query, 'watch'))
      return this.watch(scope, () => (this.negotiateFor(scope).protobuf ? protobufWatchSink : httpSink)(scope.res));
    const req = this.request(scope);
    if (method === 'GET' && info.name) return this.replyObject(scope, req, await get(this.deps, req));
    if (method === 'GET')
      return this.replyList(scope, req, await list(this.deps, req, listOptionsFromQuery(query, false)));
    if (method === 'POST' && !info.name && !info.subresource) {
      const opts = writeOptions(query, 'CreateOptions');
      const body = await this.readObject(scope, req);
      return this.replyObject(scope, req, await create(this.deps, req, body, opts));
    }
    if (method === 'PUT' && info.name) {
      const opts = writeOptions(query, 'UpdateOptions');
      const body = await this.readObject(scope, req);
      return this.replyObject(scope, req, await update(this.deps, req, body, opts));
    }
    if (method === 'PATCH' && info.name) return this.patch(scope, req);
    if (method === 'DELETE' && info.name && !info.subresource)
      return this.replyObject(scope, req, await deleteObject(this.deps, req, await this.deleteOptions(scope)));
    if (method === 'DELETE' && !info.name) {
      const listOpts = listOptionsFromQuery(query, false);
      const result = await deleteCollection(this.deps, req, listOpts, await this.deleteOptions(scope));
      return sendNegotiated(scope.res, 200, result, this.negotiateFor(scope), warningHeaders(req.warnings));
    }
    throw errors.methodNotSupported(ref, method.toLowerCase());
  }

  /** The handlers' view of the request. */
  private request(scope: RequestScope): ApiRequest {
    // The body's declared size decides whether the write's steps yield to other requests (see pause()).
    const declared = Number(scope.req.headers['content-length']);
    return newRequest({
      served: scope.served,
      namespace: scope.info.namespace,
      name: scope.info.name,
      subresource: scope.info.subresource,
      user: scope.user,
      defaultFieldManager: defaultFieldManager(scope.req.headers['user-agent']),
      auditAnnotations: auditAnnotationsFor(scope.req),
      bodyBytes: declared > 0 ? declared : undefined,
      excluded: scope.excluded,
    });
  }

  // ---- decoding ------------------------------------------------------------------------------

  /** A request body object, decoded by its Content-Type (JSON, YAML or protobuf). */
  private async readObject(scope: RequestScope, req: ApiRequest): Promise<Body> {
    const bytes = await readBody(scope.req);
    req.bodyBytes = bytes.length;
    const contentType = scope.req.headers['content-type'];
    const mediaType = mediaTypeOf(contentType);
    const { def, version } = scope.served;
    // The scale subresource takes an autoscaling/v1 Scale.
    const scale = scope.info.subresource === 'scale' && !!def.subresources?.scale;
    const kind = scale ? 'Scale' : def.kind;
    const apiVersion = scale ? 'autoscaling/v1' : servedApiVersion(req);
    let body: Body;
    try {
      // A body too big to store goes no further, decided from its text or bytes (checkStorableBody).
      if (isProtobuf(mediaType)) {
        checkStorableBody(bytes);
        body = { object: decodeProtobufBody(bytes, { apiVersion, kind }), protobuf: true, sizeChecked: true };
      } else {
        const text = bytes.toString('utf8');
        const sizeChecked =
          (mediaType === 'application/json' || mediaType === 'application/yaml' || mediaType === '') &&
          looksLikeJSON(text);
        if (sizeChecked) checkStorableBody(text);
        const json = !mediaType.includes('yaml');
        // A JSON text's repeated keys are found while it is decoded (one pass for them and its depth).
        const scan: JSONScan = {};
        body = { object: await decodeBody(text, contentType, json ? scan : undefined), text, json, sizeChecked };
        if (json) body.duplicates = scan.duplicates;
      }
    } catch (err) {
      if (isBuiltinKind(def.group, def.kind, version.name) && err instanceof BodySyntaxError)
        throw unrecognizedBody(kind, err.upstreamCause, bytes);
      throw err;
    }
    await pause(bytes.length);
    // Field validation reports repeated keys; for a big body, looking is a turn of its own.
    if (body.json && body.text !== undefined && !body.duplicates) {
      body.duplicates = duplicateJSONKeys(body.text);
      await pause(bytes.length);
    }
    return body;
  }

  /** A PATCH: its type from the Content-Type (415 for another, checked first), options, then body. */
  private async patch(scope: RequestScope, req: ApiRequest): Promise<void> {
    const mt = mediaTypeOf(scope.req.headers['content-type']);
    const type = PATCH_TYPES[mt];
    if (!type) throw errors.unsupportedMediaType(mt, Object.keys(PATCH_TYPES));
    const opts = writeOptions(scope.query, 'PatchOptions', type === 'apply');
    const raw = await readBody(scope.req);
    req.bodyBytes = raw.length;
    // An applied configuration ends up in the object whole: one too big to store goes no further.
    const text = type === 'apply' ? raw.toString('utf8') : undefined;
    const sizeChecked = text !== undefined && looksLikeJSON(text);
    if (sizeChecked) checkStorableBody(text);
    const body: unknown = await decodeBody(text ?? raw, type === 'apply' ? 'application/yaml' : 'application/json');
    await pause(raw.length);
    return this.replyObject(
      scope,
      req,
      await patch(this.deps, req, { type, body, sizeChecked, text: sizeChecked ? text : undefined }, opts),
    );
  }

  /**
   * DeleteOptions as upstream's delete handler reads them: from the body when there is one (the
   * query is then ignored), else from the query; the handler validates them.
   */
  private async deleteOptions(scope: RequestScope): Promise<DeleteOptionsValue> {
    const raw = await readBody(scope.req);
    if (raw.length && raw.toString('utf8').trim())
      return deleteOptionsFromBody(await decodeBody(raw, scope.req.headers['content-type'] ?? 'application/json'));
    return deleteOptionsFromQuery(scope.query);
  }

  // ---- encoding ------------------------------------------------------------------------------

  /** Negotiate the response: protobuf is offered for built-in types (and object metadata). */
  private negotiateFor(scope: RequestScope): Negotiated {
    return negotiate(scope.req.headers.accept, {
      protobuf: hasProtobuf(servedApiVersion(scope), scope.served.def.kind) ? 'objects' : 'metadata',
    });
  }

  private includeObject(scope: RequestScope): IncludeObject {
    const include = (scope.query.get('includeObject') ?? 'Metadata') as IncludeObject;
    if (!['None', 'Metadata', 'Object'].includes(include))
      throw errors.badRequest(`includeObject: Unsupported value: ${JSON.stringify(include)}`);
    return include;
  }

  private table(scope: RequestScope, objs: any[], listMeta: Record<string, unknown>): any {
    const includeObject = this.includeObject(scope);
    const columns = scope.served.version.table ?? scope.served.def.table;
    return toTable(columns, objs, listMeta, { includeObject });
  }

  private replyObject(scope: RequestScope, req: ApiRequest, result: ObjectResult): void | Promise<void> {
    const code = result.created ? 201 : 200;
    const headers = warningHeaders(req.warnings);
    if ('stored' in result) return this.replyStored(scope, req, result.stored, code);
    if (result.asIs) {
      // A Scale is a built-in type: protobuf is offered for it whatever the resource.
      const neg =
        scope.info.subresource === 'scale'
          ? negotiate(scope.req.headers.accept, { protobuf: 'objects' })
          : this.negotiateFor(scope);
      return sendNegotiated(scope.res, code, result.object, neg, headers);
    }
    const neg = this.negotiateFor(scope);
    if (neg.kind === 'table')
      return sendObject(scope.res, code, this.table(scope, [result.object], {}), neg.yaml, headers);
    if (neg.kind === 'partial') return sendNegotiated(scope.res, code, partialMetadata(result.object), neg, headers);
    sendNegotiated(scope.res, code, result.object, neg, headers);
  }

  /** A stored object: its stored JSON text or protobuf bytes when they are the answer, else converted. */
  private replyStored(scope: RequestScope, req: ApiRequest, stored: StoredObject, code: number): void | Promise<void> {
    const neg = this.negotiateFor(scope);
    const store = this.deps.storeFor(scope.served.def);
    if (
      neg.kind === 'object' &&
      !neg.yaml &&
      servedAsStored(scope.served, store.storageApiVersion) &&
      !req.warnings.length
    ) {
      return neg.protobuf
        ? send(scope.res, code, encodeStoredProtobuf(stored.obj), PROTOBUF)
        : send(scope.res, code, stored.json);
    }
    return then(servedObject(this.deps, req, stored.obj), (object) =>
      this.replyObject(scope, req, { object, created: code === 201 }),
    );
  }

  private replyList(scope: RequestScope, req: ApiRequest, result: ListResult): void | Promise<void> {
    const neg = this.negotiateFor(scope);
    const headers = warningHeaders(req.warnings);
    const { def } = scope.served;
    const meta = result.meta;
    const apiVersion = servedApiVersion(req);
    const listKind = listKindOf(def);
    const send_ = (objs: any[]): void => {
      if (neg.kind === 'table') return sendObject(scope.res, 200, this.table(scope, objs, meta), neg.yaml, headers);
      if (neg.kind === 'partial') return sendNegotiated(scope.res, 200, partialList(objs, meta), neg, headers);
      sendNegotiated(scope.res, 200, { kind: listKind, apiVersion, metadata: meta, items: objs }, neg, headers);
    };
    if ('objects' in result) return send_(result.objects);
    const items = result.stored;
    const store = this.deps.storeFor(def);
    const asStored = servedAsStored(scope.served, store.storageApiVersion);
    // Metadata is the same in every version: no conversion for PartialObjectMetadata.
    if (neg.kind === 'partial') return send_(items.map((s) => s.obj));
    if (neg.kind === 'table' && !neg.yaml && asStored) {
      // Written as text from each object's stored JSON: no object parsed whole for a row.
      const columns = scope.served.version.table ?? scope.served.def.table;
      const text = storedTableText(columns, items, meta, { includeObject: this.includeObject(scope) });
      return send(scope.res, 200, text, 'application/json', headers);
    }
    if (neg.kind === 'object' && neg.protobuf && asStored) {
      // Each item's message bytes are kept with the stored object: encoded once, like its JSON.
      const body = encodeProtobufList(
        apiVersion,
        listKind,
        meta,
        items.map((s) => s.obj),
        true,
      );
      return send(scope.res, 200, body, PROTOBUF, headers);
    }
    if (neg.kind === 'object' && !neg.yaml && !neg.protobuf && asStored) {
      // Fast path: each object's JSON was rendered once, when it was stored.
      const head = `{"kind":${JSON.stringify(listKind)},"apiVersion":${JSON.stringify(apiVersion)},"metadata":${JSON.stringify(meta)},"items":[`;
      return send(scope.res, 200, head + items.map((s) => s.json).join(',') + ']}', 'application/json', headers);
    }
    return then(
      servedObjects(
        this.deps,
        req,
        items.map((s) => s.obj),
      ),
      send_,
    );
  }

  /** Start a watch; the sink (and with it the 200 response) opens only once the request is valid. */
  watch(scope: RequestScope, openSink: () => WatchSink): void {
    const { query, served } = scope;
    const req = this.request(scope);
    const store = this.deps.storeFor(served.def);
    const neg = this.negotiateFor(scope);
    const fast = neg.kind === 'object' && servedAsStored(served, store.storageApiVersion);
    const apiVersion = servedApiVersion(req);
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
      const obj = servedObject(this.deps, req, s.obj);
      return isPromise(obj) ? obj.then(renderObj) : renderObj(obj);
    };
    const renderMany = fast
      ? undefined
      : (items: StoredObject[]): MaybePromise<string[]> =>
          then(
            servedObjects(
              this.deps,
              req,
              items.map((s) => s.obj),
            ),
            (objs) => objs.map(renderObj),
          );
    const bookmark = (r: number, end: boolean) => {
      const meta: any = { resourceVersion: String(r) };
      if (end) meta.annotations = { 'k8s.io/initial-events-end': 'true' };
      return JSON.stringify({
        kind: neg.kind === 'partial' ? 'PartialObjectMetadata' : served.def.kind,
        apiVersion: neg.kind === 'partial' ? 'meta.k8s.io/v1' : apiVersion,
        metadata: meta,
      });
    };
    watch(
      this.deps,
      req,
      listOptionsFromQuery(query, true),
      { render, renderMany, bookmark, asStored: fast },
      openSink,
    );
  }
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

/** Upstream's default field manager: the user agent's program name. */
export function defaultFieldManager(userAgent: string | undefined): string {
  if (!userAgent) return 'unknown';
  const slash = userAgent.indexOf('/');
  return (slash < 0 ? userAgent : userAgent.slice(0, slash)).slice(0, 128) || 'unknown';
}
