// The scale subresource, for both transports: an autoscaling/v1 Scale read from, and written to,
// the paths a ResourceDef's ScaleDef names.
import * as errors from '../machinery/errors.js';
import { formatLabelSelector } from '../machinery/labels.js';
import { deepCopy, getPath, setPath } from '../machinery/objects.js';
import { type MaybePromise, type Served, fromServed, then } from './convert.js';
import { BuiltinFieldSchema, TypeMismatch } from './fieldschema.js';
import { type ApiRequest, type HandlerDeps, resourceRef, servedObject } from './handlers/request.js';
import type { WriteContext } from './store.js';

const scaleSchema = new BuiltinFieldSchema();

/**
 * The spec.replicas a Scale written by a client asks for. Upstream decodes the body into an
 * autoscaling/v1 Scale, so a value that is no int32 fails there (400, the decoder's text) before
 * validation refuses a negative one (422).
 */
export function scaleReplicas(scale: any, name: string): number | undefined {
  if (scale && typeof scale === 'object' && !Array.isArray(scale)) {
    try {
      scaleSchema.prune('autoscaling', 'v1', 'Scale', scale);
    } catch (err) {
      if (err instanceof TypeMismatch) throw errors.badRequest(err.message);
      throw err;
    }
  }
  const replicas = scale?.spec?.replicas ?? undefined;
  if (replicas !== undefined && replicas < 0) {
    throw errors.invalid('autoscaling', 'Scale', name, [
      {
        type: 'FieldValueInvalid',
        field: 'spec.replicas',
        detail: `Invalid value: ${replicas}: must be greater than or equal to 0`,
      },
    ]);
  }
  return replicas;
}

/** The Scale of an object in its served version. */
export function toScale(served: Served, obj: any): any {
  const scale = served.def.subresources!.scale!;
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

/** GET .../scale: the object's Scale. */
export function readScale(deps: HandlerDeps, req: ApiRequest): MaybePromise<any> {
  const stored = deps.storeFor(req.served.def).get(req.namespace, req.name!);
  return then(servedObject(deps, req, stored.obj), (obj) => toScale(req.served, obj));
}

/**
 * A write to .../scale: spec.replicas from `mutate(currentScale)`; returns the new Scale.
 * `conditional`: the client named a resourceVersion, so a conflict is final (see Store.update).
 */
export async function writeScale(
  deps: HandlerDeps,
  req: ApiRequest,
  mutate: (scale: any) => MaybePromise<any>,
  ctx: WriteContext,
  conditional: boolean,
): Promise<any> {
  const { served } = req;
  const name = req.name!;
  const store = deps.storeFor(served.def);
  const stored = await store.update(
    req.namespace,
    name,
    (cur) =>
      then(servedObject(deps, req, cur.obj), (current) => {
        const obj = deepCopy(current);
        return then(mutate(toScale(served, obj)), (scale) => {
          const replicas = scaleReplicas(scale, name);
          if (scale?.metadata?.resourceVersion && scale.metadata.resourceVersion !== obj.metadata.resourceVersion) {
            throw errors.conflict(resourceRef(req), name, errors.OBJECT_MODIFIED);
          }
          setPath(obj, served.def.subresources!.scale!.specReplicasPath, replicas ?? 0);
          return fromServed(served, obj, store.storageApiVersion, store.def.kind);
        });
      }),
    { ...ctx, subresource: 'scale' },
    conditional,
  );
  return then(servedObject(deps, req, stored.obj), (obj) => toScale(served, obj));
}
