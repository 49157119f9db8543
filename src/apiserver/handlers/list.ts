// LIST: a page of the objects matching the selectors, consistent at one resourceVersion (see
// paginate.ts), or a virtual resource's computed objects.
import * as errors from '../../machinery/errors.js';
import type { StoredObject } from '../../storage/cacher.js';
import { type ListOptions, validateListOptions } from '../options.js';
import type { Page } from '../paginate.js';
import { readVirtual } from '../virtual.js';
import { type ApiRequest, type HandlerDeps, checkVerb, selectors, servedApiVersion } from './request.js';

/** A page of stored objects, or a virtual resource's objects (already in the served form). */
export type ListMeta = Partial<Page['meta']>;
export type ListResult = { stored: StoredObject[]; meta: ListMeta } | { objects: any[]; meta: ListMeta };

export async function list(deps: HandlerDeps, req: ApiRequest, options: ListOptions): Promise<ListResult> {
  checkVerb(req, 'list');
  const opts = validateListOptions(options);
  const { def } = req.served;
  if (def.virtualList) {
    const r = await readVirtual(def, deps.virtualReader, {
      namespace: req.namespace,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
    });
    const apiVersion = servedApiVersion(req);
    return { objects: r.items.map((o) => ({ kind: def.kind, apiVersion, ...o })), meta: {} };
  }
  const store = deps.storeFor(def);
  const sel = selectors(def, opts.labelSelector, opts.fieldSelector);
  // A limit of zero or less lists everything, as upstream's storage does.
  const limit = Math.max(0, opts.limit);
  const rv = opts.resourceVersion;
  const match = opts.resourceVersionMatch;
  if (opts.continue && rv) throw errors.badRequest('specifying resource version is not allowed when using continue');
  const page = await deps.paginator.page({
    store,
    backend: store.backend,
    keyPrefix: store.keyPrefix(def.namespaced ? req.namespace : undefined),
    matches: sel.matches,
    matchesStored: sel.matchesStored,
    selectorKey: `${sel.labels.toString()}|${opts.fieldSelector}`,
    hasSelector: !sel.empty,
    limit,
    continueToken: opts.continue,
    resourceVersion: rv,
    exact: match === 'Exact' || (!!rv && rv !== '0' && limit > 0 && !match),
  });
  return { stored: page.items, meta: page.meta };
}
