// GET of one object: stored, computed (a virtual resource), or its scale or status subresource.
import { isObjectSubresource } from '../../api/types.js';
import * as errors from '../../machinery/errors.js';
import { type MaybePromise, then } from '../convert.js';
import { readScale } from '../scale.js';
import { readVirtual } from '../virtual.js';
import {
  type ApiRequest,
  type HandlerDeps,
  type ObjectResult,
  checkVerb,
  resourceRef,
  servedApiVersion,
} from './request.js';

export function get(deps: HandlerDeps, req: ApiRequest): MaybePromise<ObjectResult> {
  checkVerb(req, 'get');
  const { def } = req.served;
  const sub = req.subresource;
  if (def.virtualList) {
    return readVirtual(def, deps.virtualReader, { namespace: req.namespace, name: req.name }).then((r) => ({
      object: { kind: def.kind, apiVersion: servedApiVersion(req), ...r.item },
    }));
  }
  if (sub === 'scale' && def.subresources?.scale)
    return then(readScale(deps, req), (object) => ({ object, asIs: true }));
  if (sub && !isObjectSubresource(def, sub)) throw errors.notFound(resourceRef(req), `${req.name}/${sub}`);
  return { stored: deps.storeFor(def).get(req.namespace, req.name!) };
}
