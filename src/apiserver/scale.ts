// The scale subresource for in-process clients (the REST handler serves it over HTTP the same
// way): an autoscaling/v1 Scale read from, and written to, the paths a ResourceDef's ScaleDef names.
import * as errors from '../machinery/errors.js';
import { formatLabelSelector } from '../machinery/labels.js';
import { getPath, setPath } from '../machinery/objects.js';
import { type Served, fromServed, isPromise, toServed } from './convert.js';
import { BuiltinFieldSchema, TypeMismatch } from './fieldschema.js';
import type { Store, WriteContext } from './store.js';

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

export async function getScale(
  served: Served,
  store: Store,
  namespace: string | undefined,
  name: string,
): Promise<any> {
  let obj = toServed(served, store.get(namespace, name).obj, store.storageApiVersion);
  if (isPromise(obj)) obj = await obj;
  return toScale(served, obj);
}

/** Write spec.replicas from `mutate(currentScale)`; returns the new Scale. */
export async function updateScale(
  served: Served,
  store: Store,
  namespace: string | undefined,
  name: string,
  mutate: (scale: any) => any,
  ctx: WriteContext,
): Promise<any> {
  const ref = { group: served.def.group, resource: served.def.plural };
  const stored = await store.update(
    namespace,
    name,
    async (cur) => {
      let obj = toServed(served, cur.obj, store.storageApiVersion);
      if (isPromise(obj)) obj = await obj;
      obj = structuredClone(obj);
      const scale = mutate(toScale(served, obj));
      const replicas = scaleReplicas(scale, name);
      if (scale?.metadata?.resourceVersion && scale.metadata.resourceVersion !== obj.metadata.resourceVersion) {
        throw errors.conflict(ref, name, errors.OBJECT_MODIFIED);
      }
      setPath(obj, served.def.subresources!.scale!.specReplicasPath, replicas ?? 0);
      return fromServed(served, obj, store.storageApiVersion, store.def.kind);
    },
    { ...ctx, subresource: 'scale' },
  );
  let out = toServed(served, stored.obj, store.storageApiVersion);
  if (isPromise(out)) out = await out;
  return toScale(served, out);
}
