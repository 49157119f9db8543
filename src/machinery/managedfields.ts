// managedFields bookkeeping for Update operations (create, update, patch): each field manager's
// entry lists, in the FieldsV1 format, the fields it set. Server-side apply builds on this.
import { deepEqual, isPlainObject } from './objects.js';

export type FieldSet = Record<string, any>;

/** Metadata fields the server owns; they never appear in managedFields. */
const SERVER_META = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink', 'generateName']);

/** The key of a list element in FieldsV1: by merge key when it has one, else by value. */
export function elementKey(el: unknown): string {
  if (isPlainObject(el)) {
    for (const k of ['name', 'containerPort', 'port', 'type', 'key', 'ip', 'mountPath', 'devicePath', 'topologyKey']) {
      if (el[k] !== undefined && (typeof el[k] === 'string' || typeof el[k] === 'number')) return `k:${JSON.stringify({ [k]: el[k] })}`;
    }
    return '';
  }
  return `v:${JSON.stringify(el)}`;
}

function walk(value: unknown, top: boolean, skipStatus: boolean): FieldSet {
  const out: FieldSet = {};
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      if (top && (k === 'apiVersion' || k === 'kind')) continue;
      if (top && k === 'status' && skipStatus) continue;
      if (top && k === 'metadata') {
        const meta: FieldSet = {};
        for (const [mk, mv] of Object.entries(v as object)) {
          if (SERVER_META.has(mk) || mv === undefined) continue;
          meta[`f:${mk}`] = walk(mv, false, false);
        }
        if (Object.keys(meta).length) out['f:metadata'] = meta;
        continue;
      }
      out[`f:${k}`] = walk(v, false, false);
    }
  } else if (Array.isArray(value)) {
    for (const el of value) {
      const key = elementKey(el);
      if (!key) return {};
      out[key] = isPlainObject(el) ? { '.': {}, ...walk(el, false, false) } : {};
    }
  }
  return out;
}

/** Every field set in an object (status excluded unless `includeStatus`). */
export function fieldSetOf(obj: unknown, includeStatus = false): FieldSet {
  return walk(obj, true, !includeStatus);
}

/** Fields whose value differs between two objects (added or changed; removals are dropped from ownership). */
export function changedFields(next: FieldSet, nextObj: unknown, prevObj: unknown, path: string[] = []): FieldSet {
  const out: FieldSet = {};
  for (const [k, sub] of Object.entries(next)) {
    const nv = pick(nextObj, k);
    const pv = pick(prevObj, k);
    if (deepEqual(nv, pv)) continue;
    const child = changedFields(sub, nv, pv, [...path, k]);
    out[k] = Object.keys(child).length ? child : {};
  }
  return out;
}

function pick(obj: unknown, fieldKey: string): unknown {
  if (fieldKey === '.') return undefined;
  if (fieldKey.startsWith('f:')) return isPlainObject(obj) ? obj[fieldKey.slice(2)] : undefined;
  if (Array.isArray(obj)) return obj.find((el) => elementKey(el) === fieldKey);
  return undefined;
}

export function unionFields(a: FieldSet, b: FieldSet): FieldSet {
  const out: FieldSet = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in out ? unionFields(out[k], v) : v;
  return out;
}

/** Remove `b`'s leaves from `a` (ownership moves to another manager). */
export function subtractFields(a: FieldSet, b: FieldSet): FieldSet {
  const out: FieldSet = {};
  for (const [k, v] of Object.entries(a)) {
    if (!(k in b)) {
      out[k] = v;
      continue;
    }
    const bv = b[k];
    if (!Object.keys(bv).length) continue;
    const rest = subtractFields(v, bv);
    if (Object.keys(rest).length) out[k] = rest;
  }
  return out;
}

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Update' | 'Apply';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: FieldSet;
  subresource?: string;
}

/**
 * Record an Update by `manager`: the fields it changed become its own (and stop being anyone
 * else's). On create, every field set is the creator's.
 */
export function recordUpdate(obj: any, old: any | undefined, manager: string, apiVersion: string, subresource?: string): void {
  const meta = obj.metadata;
  // A client may send managedFields explicitly (to reset them); otherwise keep what was there.
  let entries: ManagedFieldsEntry[] = Array.isArray(meta.managedFields) ? meta.managedFields : (old?.metadata?.managedFields ?? []);
  if (old && meta.managedFields === undefined) entries = old.metadata.managedFields ?? [];
  const includeStatus = subresource === 'status';
  const all = fieldSetOf(obj, includeStatus);
  let changed = old ? changedFields(all, obj, old) : all;
  if (subresource === 'status') changed = changed['f:status'] ? { 'f:status': changed['f:status'] } : {};
  else delete changed['f:status'];
  if (!Object.keys(changed).length && entries.some((e) => e.manager === manager && e.operation === 'Update' && e.subresource === subresource)) {
    meta.managedFields = entries.length ? entries : undefined;
    if (!meta.managedFields) delete meta.managedFields;
    return;
  }
  const time = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const next: ManagedFieldsEntry[] = [];
  let mine: ManagedFieldsEntry | undefined;
  for (const e of entries) {
    if (e.manager === manager && e.operation === 'Update' && e.subresource === subresource) {
      mine = e;
      continue;
    }
    const rest = subtractFields(e.fieldsV1 ?? {}, changed);
    if (Object.keys(rest).length) next.push({ ...e, fieldsV1: rest });
  }
  const fields = mine ? unionFields(mine.fieldsV1 ?? {}, changed) : changed;
  if (Object.keys(fields).length) {
    const entry: ManagedFieldsEntry = { manager, operation: 'Update', apiVersion, time, fieldsType: 'FieldsV1', fieldsV1: fields };
    if (subresource) entry.subresource = subresource;
    next.push(entry);
  }
  if (next.length) meta.managedFields = next;
  else delete meta.managedFields;
}
