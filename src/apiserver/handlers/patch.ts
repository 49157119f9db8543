// PATCH: JSON patch, merge patch, strategic merge patch or server-side apply, of the object, an
// object subresource (status) or the scale subresource. An apply to a missing object creates it.
import { isObjectSubresource } from '../../api/types.js';
import * as errors from '../../machinery/errors.js';
import { deepCopy, isPlainObject, markUnshared, nextTurn, takeUnsharedMark } from '../../machinery/objects.js';
import { type MaybePromise, fromServed, isPromise, then } from '../convert.js';
import type { WriteOptions } from '../options.js';
import { writeScale } from '../scale.js';
import { checkStorableSize } from '../store.js';
import {
  type ApiRequest,
  type HandlerDeps,
  type ObjectResult,
  type PatchContext,
  type PatchType,
  checkRequestAddress,
  checkTypeMeta,
  checkVerb,
  resourceRef,
  servedApiVersion,
  servedObject,
  validateFields,
  writeContext,
} from './request.js';

/** Upstream's cap on the operations of one JSON patch (413 past it). */
const MAX_JSON_PATCH_OPERATIONS = 10_000;

export interface Patch {
  type: PatchType;
  /** The decoded patch: a list of operations (json) or an object. */
  body: any;
  /** The transport already held the body's text to the store's limit (checkStorableBody). */
  sizeChecked?: boolean;
  /** The text `body` was decoded from, when it looked like JSON. */
  text?: string;
}

/**
 * `opts` validated (validateWriteOptions with `apply` for server-side apply, before the body was
 * decoded, as upstream).
 */
export async function patch(deps: HandlerDeps, req: ApiRequest, p: Patch, opts: WriteOptions): Promise<ObjectResult> {
  checkVerb(req, 'patch');
  const { served } = req;
  const { type, body } = p;
  const sub = req.subresource;
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
  // An applied configuration ends up in the object whole: one too big to store goes no further.
  if (type === 'apply' && !p.sizeChecked) checkStorableSize(body);
  const ctx = writeContext(req, opts, sub);
  const force = opts.force === true;
  const conditional = patchSetsResourceVersion(type, body);
  if (sub === 'scale' && served.def.subresources?.scale) {
    // An apply to the scale records an Apply of the replicas on the parent (see writeScale).
    if (type === 'apply') ctx.operation = 'Apply';
    const scale = await writeScale(
      deps,
      req,
      (current) =>
        deps.patch(type, current, body, 'io.k8s.api.autoscaling.v1.Scale', {
          fieldManager: ctx.fieldManager,
          force,
          subresource: 'scale',
        }),
      ctx,
      conditional,
    );
    return { object: scale, asIs: true };
  }
  if (sub && !isObjectSubresource(served.def, sub)) throw errors.notFound(resourceRef(req), `${req.name}/${sub}`);
  const store = deps.storeFor(served.def);
  const definition = deps.schema.definitionFor(served.def.group, served.version.name, served.def.kind);
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
  const apiVersion = servedApiVersion(req);
  const patchCtx: PatchContext = {
    fieldManager: ctx.fieldManager,
    force,
    type: type === 'apply' ? deps.schema.typeFor?.(served.def.group, served.version.name, served.def.kind) : undefined,
    subresource: sub,
    statusSubresource: !!served.def.subresources?.status,
    patchBytes: req.bodyBytes,
    patchText: p.text,
  };
  const checked = (obj: unknown): MaybePromise<any> => {
    if (!isPlainObject(obj)) throw errors.badRequest('the patch produced something that is not an object');
    // An object nobody else holds (a thread's answer) stays so once in the storage version.
    const unshared = takeUnsharedMark(obj);
    // A patch may not turn the object into another kind (the result is decoded as this one).
    checkTypeMeta(obj, served.def.kind, apiVersion);
    obj.apiVersion = apiVersion;
    obj.kind = served.def.kind;
    validateFields(deps, req, obj, opts.fieldValidation);
    checkRequestAddress(req, obj);
    const stored = fromServed(served, obj as any, store.storageApiVersion, store.def.kind);
    return unshared ? then(stored, markUnshared) : stored;
  };
  const patched = (current: any, liveJson?: string): MaybePromise<any> => {
    const result = deps.patch(type, current, body, definition, liveJson ? { ...patchCtx, liveJson } : patchCtx);
    // A Promise means a big object, whose answer was just parsed: other requests go first.
    return isPromise(result) ? result.then(async (obj) => (await nextTurn(), checked(obj))) : checked(result);
  };
  if (type === 'apply' && !sub && !store.tryGet(req.namespace, req.name!)) {
    let created = patched({
      apiVersion,
      kind: served.def.kind,
      metadata: { name: req.name, namespace: req.namespace },
    });
    if (isPromise(created)) created = await created;
    return { stored: await store.create(created, ctx), created: true };
  }
  const stored = await store.update(
    req.namespace,
    req.name!,
    // A patch computes its result from a copy; the current object is shared with the cache. An
    // apply copies only what it changes (applyPatch): copying a big object whole holds the event
    // loop for as long as applying it off the loop saves.
    (cur) =>
      then(servedObject(deps, req, cur.obj), (current) =>
        type === 'apply' ? patched(current, current === cur.obj ? cur.json : undefined) : patched(deepCopy(current)),
      ),
    ctx,
    conditional,
  );
  return { stored };
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
