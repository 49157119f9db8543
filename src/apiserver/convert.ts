// Version conversion at the HTTP edge: objects are stored in one version and served in every
// served version of their resource.
import type { KObject, ResourceDef, VersionDef } from '../api/types.js';
import { apiVersionOf } from './resources.js';

export interface Served {
  def: ResourceDef;
  version: VersionDef;
}

/** Storage form → the form served at `served` (same object back when nothing changes). */
export function toServed(served: Served, stored: KObject, storedApiVersion: string): KObject {
  const apiVersion = apiVersionOf(served.def.group, served.version.name);
  if (served.version.fromStorage) {
    const out = served.version.fromStorage(structuredClone(stored));
    out.apiVersion = apiVersion;
    out.kind = served.def.kind;
    return out;
  }
  if (stored.apiVersion === apiVersion && storedApiVersion === apiVersion) return stored;
  return { ...stored, apiVersion, kind: served.def.kind };
}

/** A client's object at `served` → storage form. */
export function fromServed(served: Served, obj: KObject, storageApiVersion: string, storageKind: string): KObject {
  if (served.version.toStorage) {
    const out = served.version.toStorage(obj);
    out.apiVersion = storageApiVersion;
    out.kind = storageKind;
    return out;
  }
  return { ...obj, apiVersion: storageApiVersion, kind: storageKind };
}

/** True when objects at `served` are byte-identical to the stored ones (the fast path). */
export function servedAsStored(served: Served, storageApiVersion: string): boolean {
  return !served.version.fromStorage && apiVersionOf(served.def.group, served.version.name) === storageApiVersion;
}
