// What every verb handler takes and shares, whichever transport brought the request: HTTP
// (rest.ts decodes the URL, query and body) or in-process (inprocess.ts maps a client call).
// Handlers return objects or throw an ApiError; transports only decode and encode, as upstream's
// endpoints/handlers sit between the REST routes and the registry.
import type { ExcludedLatency } from '../excludedlatency.js';
import type { ResourceDef, VirtualReader } from '../../api/types.js';
import * as errors from '../../machinery/errors.js';
import { type FieldSelector, parseFieldSelector } from '../../machinery/fields.js';
import { type Selector, parseSelector } from '../../machinery/labels.js';
import { isPlainObject } from '../../machinery/objects.js';
import { type StoredObject, readOnlyViewOf, selectableMetadataOf } from '../../storage/cacher.js';
import type { Backend } from '../../storage/interface.js';
import { type MaybePromise, type Served, toServed, toServedMany } from '../convert.js';
import { decodeMismatch, isBuiltinKind } from '../decodeerrors.js';
import { type FieldSchema, type SchemaType, TypeMismatch } from '../fieldschema.js';
import { duplicateJSONKeys } from '../http.js';
import type { WriteOptions } from '../options.js';
import type { Paginator } from '../paginate.js';
import { apiVersionOf, verbsOf } from '../resources.js';
import { type Store, type WriteContext, checkStorableSize, pause } from '../store.js';
import type { UserInfo } from '../user.js';

/** A request as the handlers see it: the resource and object addressed, and who asks. */
export interface ApiRequest {
  served: Served;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** The authenticated user: an authorization step reads it here, for both transports alike. */
  user: UserInfo;
  /** Warnings for the client (deprecation, field validation, admission), in the order they arose. */
  warnings: string[];
  /** The field manager of a write that names none (over HTTP: the User-Agent's program name). */
  defaultFieldManager: string;
  /** The request body's size in bytes, when there was one: big writes yield between steps (see pause). */
  bodyBytes?: number;
  /** Audit annotations admission adds (admission webhooks'), kept for the audit log. */
  auditAnnotations?: Record<string, string>;
  /** The request's time its latency SLI leaves out, which admission webhooks add to. */
  excluded?: ExcludedLatency;
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export interface PatchContext {
  fieldManager: string;
  force: boolean;
  /** For apply: the kind's schema, the subresource written, and whether status is a subresource. */
  type?: SchemaType;
  subresource?: string;
  statusSubresource?: boolean;
  /**
   * For apply: `current` is shared with the watch cache, not a copy (an apply that works on the
   * event loop copies it; one sent off it serialises it), and this is its JSON text when known.
   */
  liveJson?: string;
  /** The patch's size in bytes as it arrived, when it came as text (decides where an apply runs). */
  patchBytes?: number;
  /** The patch's text when it looked like JSON: an apply sent off the event loop takes it as it is. */
  patchText?: string;
}

/** Returns the patched object; a Promise when the work went off the event loop (a big server-side apply). */
export type PatchFn = (
  type: PatchType,
  current: any,
  patch: any,
  definition: string | undefined,
  ctx: PatchContext,
) => any;

/** What the handlers need of the server. */
export interface HandlerDeps {
  storeFor(def: ResourceDef): Store;
  /** Stored objects for virtual resources (ResourceDef.virtualList). */
  virtualReader: VirtualReader;
  /** For list pages at a revision the watch cache no longer has. */
  backend: Backend;
  schema: FieldSchema;
  patch: PatchFn;
  /** Shared by the transports: a continue token from one is good on the other. */
  paginator: Paginator;
}

/**
 * A handler's object: as stored (converted on the way out, or sent as its stored encoding) or
 * already in the served form; `asIs` for one that is no object of the resource (a Status, a
 * Scale), which has no Table or metadata-only view.
 */
export type ObjectResult =
  { stored: StoredObject; created?: boolean } | { object: any; created?: boolean; asIs?: boolean };

/** A decoded request body with what the decoder knew about it. */
export interface Body {
  /** The decoded object, the request's own: handlers change it in place. */
  object: any;
  /** The text it was decoded from (type errors quote it); none for protobuf and in-process bodies. */
  text?: string;
  /** `text` is JSON (duplicate keys are reported), not YAML. */
  json?: boolean;
  /** The keys `text` repeats, when the transport already looked (else validateFields does). */
  duplicates?: string[];
  /** Protobuf has no unknown or duplicate fields to report: upstream decodes it without strictness. */
  protobuf?: boolean;
  /** The transport already held the body's text or bytes to the store's limit (checkStorableBody). */
  sizeChecked?: boolean;
}

/** A request with the deprecation warning of its version, when it has one (upstream warns on every verb). */
export function newRequest(r: Omit<ApiRequest, 'warnings'>): ApiRequest {
  const v = r.served.version;
  // `r` is the caller's fresh object: it becomes the request (no copy per request).
  const req = r as ApiRequest;
  req.warnings = v.deprecated
    ? [v.deprecationWarning ?? `${servedApiVersion(r)} ${r.served.def.kind} is deprecated`]
    : [];
  return req;
}

export const servedApiVersion = (r: Pick<ApiRequest, 'served'>) =>
  apiVersionOf(r.served.def.group, r.served.version.name);

export const resourceRef = (r: Pick<ApiRequest, 'served'>): errors.ResourceRef => ({
  group: r.served.def.group,
  resource: r.served.def.plural,
});

export const listKindOf = (def: ResourceDef) => def.listKind ?? `${def.kind}List`;

/**
 * The one place every request passes before its verb runs, for both transports: the resource
 * must serve the verb (405 otherwise; a resource's verbs don't cover its subresources, which
 * have their own). An authorization step belongs here too.
 */
export function checkVerb(req: ApiRequest, verb: string): void {
  const { def } = req.served;
  let allowed: readonly string[];
  if (def.answerCreate) allowed = req.subresource ? [] : ['create'];
  else if (def.virtualList) allowed = req.subresource ? [] : ['get', 'list'];
  else if (req.subresource) return;
  else allowed = verbsOf(def);
  if (!allowed.includes(verb)) throw errors.methodNotSupported(resourceRef(req), verb);
}

/** A stored object in the served version: a Promise only behind a conversion webhook. */
export function servedObject(deps: HandlerDeps, req: ApiRequest, stored: any): MaybePromise<any> {
  return toServed(req.served, stored, deps.storeFor(req.served.def).storageApiVersion);
}

/** Many stored objects in the served version, converted in one batch (one ConversionReview). */
export function servedObjects(deps: HandlerDeps, req: ApiRequest, stored: any[]): MaybePromise<any[]> {
  return toServedMany(req.served, stored, deps.storeFor(req.served.def).storageApiVersion);
}

/** The WriteContext of a create, update, patch or delete (its options already validated). */
export function writeContext(
  req: ApiRequest,
  opts: Pick<WriteOptions, 'dryRun' | 'fieldManager'>,
  subresource?: string,
): WriteContext {
  return {
    dryRun: opts.dryRun,
    fieldManager: opts.fieldManager || req.defaultFieldManager,
    user: req.user,
    // Admission's warnings go with the request's others.
    warnings: req.warnings,
    subresource,
    bodyBytes: req.bodyBytes,
    requestVersion: req.served.version.name,
    auditAnnotations: (req.auditAnnotations ??= {}),
    excluded: req.excluded,
  };
}

export interface Selectors {
  labels: Selector;
  fields: FieldSelector;
  empty: boolean;
  matches: (obj: any) => boolean;
  /**
   * `matches` for a cached version, reading only its metadata where the selectors ask no more
   * (the watch cache may have to parse the whole object again otherwise).
   */
  matchesStored: (s: StoredObject) => boolean;
}

/** Label and field selectors, with only the fields the resource can select on (400 otherwise). */
export function selectors(def: ResourceDef, labelSelector: string, fieldSelector: string): Selectors {
  const labels = parseSelector(labelSelector);
  const fields = parseFieldSelector(fieldSelector);
  const getters = def.fieldSelectors ?? {};
  for (const f of fields.fields()) {
    if (f !== 'metadata.name' && f !== 'metadata.namespace' && !getters[f])
      throw errors.badRequest(`field label not supported: ${f}`);
  }
  const fieldOf = (obj: any) => (f: string) =>
    f === 'metadata.name'
      ? obj.metadata?.name
      : f === 'metadata.namespace'
        ? (obj.metadata?.namespace ?? '')
        : getters[f](obj);
  const empty = labels.isEmpty() && fields.isEmpty();
  const matches = empty
    ? () => true
    : (obj: any) => labels.matches(obj.metadata?.labels) && fields.matches(fieldOf(obj));
  const metadataEnough = fields.fields().every((f) => f === 'metadata.name' || f === 'metadata.namespace');
  return {
    labels,
    fields,
    empty,
    matches,
    matchesStored: empty
      ? () => true
      : metadataEnough
        ? (s) => matches({ metadata: selectableMetadataOf(s) })
        : (s) => matches(readOnlyViewOf(s)),
  };
}

/** A body's apiVersion and kind, where given, must be those the URL addresses. */
export function checkTypeMeta(obj: any, kind: string, apiVersion: string, group?: string): void {
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

/** checkObjectAddress against the request's own name and namespace. */
export function checkRequestAddress(req: ApiRequest, obj: any): void {
  checkObjectAddress(obj, req.name!, req.served.def.namespaced ? req.namespace : undefined);
}

export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

/**
 * A body object addressed to this resource (or to `expected`, e.g. a Scale): type checked,
 * typed, bounded in size and, unless `validate` is false, checked field by field.
 */
export async function checkBodyObject(
  deps: HandlerDeps,
  req: ApiRequest,
  body: Body,
  fieldValidation: WriteOptions['fieldValidation'],
  expected?: { kind: string; apiVersion: string },
): Promise<any> {
  const { def, version } = req.served;
  const kind = expected?.kind ?? def.kind;
  const apiVersion = expected?.apiVersion ?? servedApiVersion(req);
  const obj = body.object;
  if (!isPlainObject(obj)) throw errors.badRequest('the request body must be a JSON or YAML object');
  const builtin = isBuiltinKind(def.group, def.kind, version.name);
  checkTypeMeta(obj, kind, apiVersion, builtin ? def.group : undefined);
  if (obj.metadata !== undefined && !isPlainObject(obj.metadata))
    throw errors.badRequest('metadata: must be an object');
  obj.apiVersion = apiVersion;
  obj.kind = kind;
  // An object too big to store is refused before the walks below (bounded work; see checkStorableSize).
  if (!body.sizeChecked) checkStorableSize(obj);
  if (expected) return obj;
  // A body the decoder refuses: upstream's transformDecodeError names the kind and version.
  const decodeError = () => `${kind} in version ${JSON.stringify(version.name)} cannot be handled as a ${kind}: `;
  // Fields newer than this server's schema are dropped from protobuf too, but not reported.
  validateFields(deps, req, obj, body.protobuf ? 'Ignore' : fieldValidation, body, decodeError);
  await pause(req.bodyBytes);
  return obj;
}

/**
 * Unknown and duplicate fields: dropped always; reported per fieldValidation (unset: Warn).
 * Values the decoder can't take (wrong JSON type, malformed time) are a 400, prefixed with `decodeError`
 * (made only for that error).
 */
export function validateFields(
  deps: HandlerDeps,
  req: ApiRequest,
  obj: any,
  fieldValidation: WriteOptions['fieldValidation'],
  source?: Pick<Body, 'text' | 'json' | 'duplicates'>,
  decodeError?: () => string,
): void {
  const mode: FieldValidation = fieldValidation || 'Warn';
  const { def, version } = req.served;
  let pruned: string[];
  try {
    pruned = deps.schema.prune(def.group, version.name, def.kind, obj);
  } catch (err) {
    // The schema's walk already says "<Kind> in version ... cannot be handled as ...".
    if (err instanceof TypeMismatch) throw errors.badRequest(source?.text ? err.quoting(source.text) : err.message);
    throw err;
  }
  const problems = pruned.map((p) => `unknown field "${p}"`);
  if (source?.text && source.json) {
    for (const k of source.duplicates ?? duplicateJSONKeys(source.text)) problems.push(`duplicate field "${k}"`);
  }
  if (!problems.length || mode === 'Ignore') return;
  if (mode === 'Strict')
    throw errors.badRequest(`${decodeError?.() ?? ''}strict decoding error: ${problems.join(', ')}`);
  req.warnings.push(...problems);
}
