// Version conversion at the HTTP edge: objects are stored in one version and served in every
// served version of their resource. Conversions are synchronous for built-ins and `None` CRDs;
// a CRD's conversion webhook makes them asynchronous. Callers await only when a Promise comes
// back (isPromise), so the synchronous paths allocate nothing extra.
import type { KObject, ResourceDef, VersionDef } from '../api/types.js';
import { apiVersionOf } from './resources.js';
import { deepCopy } from '../machinery/objects.js';
import { hasZeroValuedFields, withZeroValuedFields } from '../api/zerovalues.js';

export interface Served {
  def: ResourceDef;
  version: VersionDef;
}

export type MaybePromise<T> = T | Promise<T>;

export function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/** `f(v)` now, or once `v` resolves. */
export function then<T, U>(v: MaybePromise<T>, f: (t: T) => MaybePromise<U>): MaybePromise<U> {
  return isPromise(v) ? v.then(f) : f(v);
}

/** Storage form → the form served at `served` (same object back when nothing changes). */
export function toServed(served: Served, stored: KObject, storedApiVersion: string): MaybePromise<KObject> {
  const apiVersion = apiVersionOf(served.def.group, served.version.name);
  if (served.version.fromStorage) {
    const out = served.version.fromStorage(deepCopy(stored));
    const kind = served.def.kind;
    if (isPromise(out)) {
      return out.then((o) => {
        o.apiVersion = apiVersion;
        o.kind = kind;
        return withZeroValuedFields(o);
      });
    }
    out.apiVersion = apiVersion;
    out.kind = kind;
    return withZeroValuedFields(out);
  }
  if (stored.apiVersion === apiVersion && storedApiVersion === apiVersion) return withZeroValuedFields(stored);
  return withZeroValuedFields({ ...stored, apiVersion, kind: served.def.kind });
}

/**
 * Many stored objects → the served form, with one conversion call for all of them when the
 * version converts in batches (one ConversionReview for a list, as upstream).
 */
export function toServedMany(served: Served, stored: KObject[], storedApiVersion: string): MaybePromise<KObject[]> {
  const version = served.version;
  if (!version.fromStorageMany || stored.length <= 1) {
    let async = false;
    const outs = stored.map((s) => {
      const o = toServed(served, s, storedApiVersion);
      if (isPromise(o)) async = true;
      return o;
    });
    // eslint-disable-next-line @typescript-eslint/await-thenable -- some of outs are promises (async is true only then)
    return async ? Promise.all(outs) : (outs as KObject[]);
  }
  const apiVersion = apiVersionOf(served.def.group, served.version.name);
  const kind = served.def.kind;
  const finish = (objs: KObject[]) =>
    objs.map((o) => {
      o.apiVersion = apiVersion;
      o.kind = kind;
      return withZeroValuedFields(o);
    });
  const out = version.fromStorageMany(stored.map((s) => deepCopy(s)));
  return isPromise(out) ? out.then(finish) : finish(out);
}

/** A client's object at `served` → storage form. */
export function fromServed(
  served: Served,
  obj: KObject,
  storageApiVersion: string,
  storageKind: string,
): MaybePromise<KObject> {
  if (served.version.toStorage) {
    const out = served.version.toStorage(obj);
    if (isPromise(out)) {
      return out.then((o) => {
        o.apiVersion = storageApiVersion;
        o.kind = storageKind;
        return o;
      });
    }
    out.apiVersion = storageApiVersion;
    out.kind = storageKind;
    return out;
  }
  return { ...obj, apiVersion: storageApiVersion, kind: storageKind };
}

/**
 * True when objects at `served` are byte-identical to the stored ones (the fast path): not for
 * types whose zero-valued fields are filled in on the way out (api/zerovalues.ts).
 */
export function servedAsStored(served: Served, storageApiVersion: string): boolean {
  const apiVersion = apiVersionOf(served.def.group, served.version.name);
  return (
    !served.version.fromStorage && apiVersion === storageApiVersion && !hasZeroValuedFields(apiVersion, served.def.kind)
  );
}
