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

type Entry = { manager?: string; operation?: string; apiVersion?: string; subresource?: string; fieldsV1?: any };

const SCALE_REPLICAS = ['spec', 'replicas'];

/** A dotted path ('.spec.replicas') as FieldsV1 keys. */
const fieldsPath = (dotted: string) => dotted.replace(/^\./, '').split('.');

function owns(fields: any, path: string[]): boolean {
  let cur = fields;
  for (const part of path) {
    if (!cur || typeof cur !== 'object' || !Object.hasOwn(cur, `f:${part}`)) return false;
    cur = cur[`f:${part}`];
  }
  return true;
}

/** FieldsV1 with `path` removed, emptied parents dropped; undefined when nothing is left. */
function without(fields: any, path: string[]): any {
  const [head, ...rest] = path;
  const key = `f:${head}`;
  const out = { ...fields };
  if (rest.length) {
    const inner = without(fields[key], rest);
    if (inner === undefined) delete out[key];
    else out[key] = inner;
  } else delete out[key];
  return Object.keys(out).some((k) => k !== '.') ? out : undefined;
}

function nested(path: string[]): any {
  return path.reduceRight<any>((inner, part) => ({ [`f:${part}`]: inner }), {});
}

const entryKey = (e: Entry) => `${e.manager}\u0000${e.operation}\u0000${e.subresource ?? ''}`;

/** Does this parent entry speak a version of the parent's group (whose replicas path is known)? */
const ofGroup = (e: Entry, group: string) =>
  typeof e.apiVersion === 'string' && (group ? e.apiVersion.startsWith(`${group}/`) : !e.apiVersion.includes('/'));

/**
 * upstream's ScaleHandler.ToSubresource: the parent's entries that own its replicas, as entries
 * of the Scale (autoscaling/v1, spec.replicas), so an apply to the scale subresource sees who
 * owns the field (and conflicts with them unless forced).
 */
export function scaleManagedFields(served: Served, parent: any): Entry[] {
  const path = fieldsPath(served.def.subresources!.scale!.specReplicasPath);
  return ((parent.metadata?.managedFields ?? []) as Entry[])
    .filter((e) => ofGroup(e, served.def.group) && owns(e.fieldsV1, path))
    .map((e) => ({ ...e, apiVersion: 'autoscaling/v1', fieldsV1: nested(SCALE_REPLICAS) }));
}

/**
 * upstream's ScaleHandler.ToParent: the parent's entries after a write to its Scale. A manager
 * that owned the replicas and no longer owns them on the Scale loses them (its entry dropped when
 * nothing is left); a manager new on the Scale gets an entry of the parent's version with its
 * replicas path (operation and subresource as recorded on the Scale).
 */
export function parentManagedFields(served: Served, parent: any, scaleEntries: Entry[]): Entry[] {
  const path = fieldsPath(served.def.subresources!.scale!.specReplicasPath);
  const onScale = new Map(scaleEntries.filter((e) => owns(e.fieldsV1, SCALE_REPLICAS)).map((e) => [entryKey(e), e]));
  const out: Entry[] = [];
  for (const e of (parent.metadata?.managedFields ?? []) as Entry[]) {
    if (!ofGroup(e, served.def.group)) continue;
    if (!owns(e.fieldsV1, path) || onScale.delete(entryKey(e))) {
      out.push(e);
      continue;
    }
    const rest = without(e.fieldsV1, path);
    if (rest) out.push({ ...e, fieldsV1: rest });
  }
  for (const e of onScale.values()) out.push({ ...e, apiVersion: parent.apiVersion, fieldsV1: nested(path) });
  return out;
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
        const before = toScale(served, obj);
        if (ctx.operation === 'Apply') {
          const entries = scaleManagedFields(served, obj);
          if (entries.length) before.metadata.managedFields = entries;
        }
        return then(mutate(before), (scale) => {
          const replicas = scaleReplicas(scale, name);
          // An apply's ownership, worked out on the Scale, goes back to the parent's entries.
          if (ctx.operation === 'Apply')
            obj.metadata.managedFields = parentManagedFields(served, obj, scale?.metadata?.managedFields ?? []);
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
