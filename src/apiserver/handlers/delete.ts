// DELETE of one object, and DELETECOLLECTION of those matching selectors.
import * as errors from '../../machinery/errors.js';
import { isPromise } from '../convert.js';
import { type DeleteOptionsValue, type ListOptions, validateDeleteOptions, validateListOptions } from '../options.js';
import type { DeleteOptions } from '../store.js';
import {
  type ApiRequest,
  type HandlerDeps,
  type ObjectResult,
  checkVerb,
  listKindOf,
  selectors,
  servedApiVersion,
  servedObject,
  servedObjects,
  writeContext,
} from './request.js';

/** DeleteOptions as sent (body or query), validated as upstream's ValidateDeleteOptions (422). */
function storeDeleteOptions(decoded: DeleteOptionsValue): DeleteOptions & { dryRun: boolean } {
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

/**
 * The object as it is now (marked for deletion, or gone but for graceful resources) or, once it is
 * gone, a Success Status naming it.
 */
export async function deleteObject(
  deps: HandlerDeps,
  req: ApiRequest,
  options: DeleteOptionsValue,
): Promise<ObjectResult> {
  checkVerb(req, 'delete');
  const { def } = req.served;
  const opts = storeDeleteOptions(options);
  const result = await deps
    .storeFor(def)
    .delete(req.namespace, req.name!, opts, writeContext(req, { dryRun: opts.dryRun, fieldManager: '' }));
  if (!result.deleted || def.gracefulDelete) return { object: await servedObject(deps, req, result.obj) };
  const details: errors.StatusDetails = { name: req.name };
  if (def.group) details.group = def.group;
  details.kind = def.plural;
  details.uid = result.obj.metadata.uid;
  return { object: errors.successStatus(details), asIs: true };
}

/** Delete every object matching the selectors; the list of those deleted (in the served version). */
export async function deleteCollection(
  deps: HandlerDeps,
  req: ApiRequest,
  listOptions: ListOptions,
  options: DeleteOptionsValue,
): Promise<any> {
  checkVerb(req, 'deletecollection');
  const { def } = req.served;
  const store = deps.storeFor(def);
  const lo = validateListOptions(listOptions);
  const sel = selectors(def, lo.labelSelector, lo.fieldSelector);
  const opts = storeDeleteOptions(options);
  const ctx = writeContext(req, { dryRun: opts.dryRun, fieldManager: '' });
  const targets = store.cache
    .list(store.keyPrefix(def.namespaced ? req.namespace : undefined))
    .filter(sel.matchesStored);
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
  let items = servedObjects(deps, req, deleted);
  if (isPromise(items)) items = await items;
  return {
    kind: listKindOf(def),
    apiVersion: servedApiVersion(req),
    metadata: { resourceVersion: String(store.cache.revision) },
    items,
  };
}
