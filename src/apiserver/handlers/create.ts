// CREATE (POST to a collection): a new object, or a review answered from the request alone.
import * as errors from '../../machinery/errors.js';
import { fromServed, isPromise } from '../convert.js';
import type { WriteOptions } from '../options.js';
import {
  type ApiRequest,
  type Body,
  type HandlerDeps,
  type ObjectResult,
  checkBodyObject,
  checkVerb,
  servedApiVersion,
  writeContext,
} from './request.js';

/** `opts` validated (validateWriteOptions, before the body was decoded, as upstream). */
export async function create(
  deps: HandlerDeps,
  req: ApiRequest,
  body: Body,
  opts: WriteOptions,
): Promise<ObjectResult> {
  checkVerb(req, 'create');
  const { served } = req;
  const obj = await checkBodyObject(deps, req, body, opts.fieldValidation);
  if (served.def.answerCreate) {
    // Create-only reviews (TokenReview, SubjectAccessReview...): nothing stored.
    const answer = await served.def.answerCreate(obj, req.user);
    return { object: { ...answer, apiVersion: servedApiVersion(req), kind: served.def.kind }, created: true };
  }
  const store = deps.storeFor(served.def);
  const meta = (obj.metadata ??= {});
  if (served.def.namespaced) {
    if (!req.namespace)
      throw errors.badRequest('the server could not find the requested resource: a namespace is required');
    if (meta.namespace && meta.namespace !== req.namespace) {
      throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    meta.namespace = req.namespace;
  } else {
    delete meta.namespace;
  }
  let converted = fromServed(served, obj, store.storageApiVersion, store.def.kind);
  if (isPromise(converted)) converted = await converted;
  // The decoded body is this request's own: the store needn't copy it.
  const stored = await store.create(converted, writeContext(req, opts), true);
  return { stored, created: true };
}
