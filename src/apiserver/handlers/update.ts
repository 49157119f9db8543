// UPDATE (PUT): the object, its status (or another object subresource) or its scale.
import { isObjectSubresource } from '../../api/types.js';
import * as errors from '../../machinery/errors.js';
import { fromServed, then } from '../convert.js';
import { markUnshared } from '../../machinery/objects.js';
import type { WriteOptions } from '../options.js';
import { writeScale } from '../scale.js';
import {
  type ApiRequest,
  type Body,
  type HandlerDeps,
  type ObjectResult,
  checkBodyObject,
  checkRequestAddress,
  checkVerb,
  resourceRef,
  writeContext,
} from './request.js';

/** `opts` validated (validateWriteOptions, before the body was decoded, as upstream). */
export async function update(
  deps: HandlerDeps,
  req: ApiRequest,
  body: Body,
  opts: WriteOptions,
): Promise<ObjectResult> {
  checkVerb(req, 'update');
  const { served } = req;
  const sub = req.subresource;
  const ctx = writeContext(req, opts, sub);
  if (sub === 'scale' && served.def.subresources?.scale) {
    const scale = await checkBodyObject(deps, req, body, opts.fieldValidation, {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
    });
    checkRequestAddress(req, scale);
    return { object: await writeScale(deps, req, () => scale, ctx, !!scale.metadata?.resourceVersion), asIs: true };
  }
  if (sub && !isObjectSubresource(served.def, sub)) throw errors.notFound(resourceRef(req), `${req.name}/${sub}`);
  const store = deps.storeFor(served.def);
  const obj = await checkBodyObject(deps, req, body, opts.fieldValidation);
  checkRequestAddress(req, obj);
  // A conditional update is tried once, so the store may keep the body instead of copying it; an
  // unconditional one may be retried after a conflict, and each try needs the body as sent.
  const once = !!obj.metadata?.resourceVersion;
  const stored = await store.update(
    req.namespace,
    req.name!,
    () => then(fromServed(served, obj, store.storageApiVersion, store.def.kind), (o) => (once ? markUnshared(o) : o)),
    ctx,
  );
  return { stored };
}
