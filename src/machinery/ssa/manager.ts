// Field management as upstream's fieldmanager (k8s.io/apimachinery/pkg/util/managedfields):
// decoding/encoding metadata.managedFields, recording Update operations and performing Apply
// operations (merge, conflicts, force, pruning of fields a manager stopped applying), and the
// client-side-apply -> server-side-apply bridge for kubectl (last-applied annotation).
import * as errors from '../errors.js';
import { deepEqual, isPlainObject, setOwn } from '../objects.js';
import { FieldSet, FieldSetError, pathToString, type Path } from './fieldset.js';
import {
  changedFieldsV1,
  changes,
  compare,
  ensureNamedFieldsAreMembers,
  merge,
  removeItems,
  toFieldSet,
  TypedError,
  undeclaredFields,
  validateApplied,
  type TypeRef,
} from './typed.js';
import { nowRFC3339 } from '../time.js';
import { fillNilFieldsAs } from '../protobuf/nilfields.js';
import { compareStrings } from '../order.js';

export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export interface ManagedFieldsEntry {
  manager?: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time?: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Readonly<Record<string, unknown>>;
  subresource?: string;
}

interface VersionedSet {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  subresource?: string;
  set: FieldSet;
  time?: string;
}

/** Managers by identifier (upstream's BuildManagerIdentifier). */
export type Managed = Map<string, VersionedSet>;

export function managerId(
  manager: string,
  operation: 'Apply' | 'Update',
  apiVersion: string,
  subresource?: string,
): string {
  // The JSON of {manager, operation, apiVersion?, subresource?}, written out: every write
  // makes a few of these and the object was only built to be stringified.
  let id = `{"manager":${JSON.stringify(manager)},"operation":"${operation}"`;
  if (operation === 'Update' && apiVersion) id += `,"apiVersion":${JSON.stringify(apiVersion)}`;
  if (subresource) id += `,"subresource":${JSON.stringify(subresource)}`;
  return `${id}}`;
}

/** Decodes managedFields; throws on anything upstream refuses to decode. */
export function decodeManaged(entries: unknown): Managed {
  const out: Managed = new Map();
  if (entries === undefined || entries === null) return out;
  if (!Array.isArray(entries)) throw new Error('managedFields must be a list');
  entries.forEach((e, i) => {
    if (!isPlainObject(e)) throw new Error(`managed fields entry ${i} is not an object`);
    if (e.operation !== 'Apply' && e.operation !== 'Update') throw new Error('operation must be `Apply` or `Update`');
    if (typeof e.apiVersion !== 'string' || !e.apiVersion) throw new Error('apiVersion must not be empty');
    if (e.fieldsType === undefined || e.fieldsType === '')
      throw new Error(`missing fieldsType in managed fields entry ${i}`);
    if (e.fieldsType !== 'FieldsV1')
      throw new Error(`invalid fieldsType ${JSON.stringify(e.fieldsType)} in managed fields entry ${i}`);
    const manager = typeof e.manager === 'string' ? e.manager : '';
    const subresource = typeof e.subresource === 'string' && e.subresource ? e.subresource : undefined;
    let set: FieldSet;
    try {
      set = e.fieldsV1 === undefined || e.fieldsV1 === null ? new FieldSet() : FieldSet.fromFieldsV1(e.fieldsV1);
    } catch (err) {
      throw new Error(`error decoding versioned set: ${(err as FieldSetError).message}`, { cause: err });
    }
    const vs: VersionedSet = { manager, operation: e.operation, apiVersion: e.apiVersion, subresource, set };
    if (typeof e.time === 'string') vs.time = e.time;
    out.set(managerId(manager, e.operation, e.apiVersion, subresource), vs);
  });
  return out;
}

/** Encodes managers in upstream's order: Apply before Update, then by time, manager, version. */
export function encodeManaged(m: Managed): ManagedFieldsEntry[] {
  const out: ManagedFieldsEntry[] = [];
  for (const vs of m.values()) {
    if (vs.set.isEmpty()) continue;
    const e: ManagedFieldsEntry = {
      manager: vs.manager,
      operation: vs.operation,
      apiVersion: vs.apiVersion,
    } as ManagedFieldsEntry;
    if (vs.time) e.time = vs.time;
    e.fieldsType = 'FieldsV1';
    // (A set kept from the previous version has its encoding made already: FieldSet.toFieldsV1.)
    e.fieldsV1 = vs.set.toFieldsV1();
    if (vs.subresource) e.subresource = vs.subresource;
    out.push(e);
  }
  const secs = (t?: string) => (t ? Math.floor(Date.parse(t) / 1000) : 0);
  return out.sort(
    (p, q) =>
      compareStrings(p.operation, q.operation) ||
      secs(p.time) - secs(q.time) ||
      compareStrings(p.manager ?? '', q.manager ?? '') ||
      compareStrings(p.apiVersion, q.apiVersion) ||
      compareStrings(p.subresource ?? '', q.subresource ?? ''),
  );
}

/** Fields the server owns: never part of anyone's set (upstream's stripMetaManager). */
const STRIP = (() => {
  const s = FieldSet.of(['f:apiVersion'], ['f:kind'], ['f:metadata']);
  for (const f of [
    'name',
    'namespace',
    'creationTimestamp',
    'selfLink',
    'uid',
    'clusterName',
    'generation',
    'managedFields',
    'resourceVersion',
  ]) {
    s.insert(['f:metadata', `f:${f}`]);
  }
  return s;
})();

/** Drop the nulls of `live` that `next` does not have too (both: objects of one type). */
function keepNullsOf(live: Record<string, unknown>, next: Record<string, unknown>): void {
  for (const k of Object.keys(live)) {
    const v = live[k];
    if (v === null && next[k] !== null) delete live[k];
    else if (isPlainObject(v) && isPlainObject(next[k])) keepNullsOf(v, next[k]);
  }
}

/** obj without metadata.managedFields: a shallow copy, or obj itself when it has none (a create, usually). */
function withoutManagedFields(obj: any): any {
  if (
    !isPlainObject(obj) ||
    !isPlainObject(obj.metadata) ||
    !Object.prototype.hasOwnProperty.call(obj.metadata, 'managedFields')
  )
    return obj;
  const { managedFields: _mf, ...meta } = obj.metadata as any;
  return { ...obj, metadata: meta };
}

/** Fields a request through this (sub)resource may not own (upstream's reset fields). */
function ignoredFields(objs: any[], subresource: string | undefined, statusSubresource: boolean): FieldSet {
  const s = new FieldSet();
  if (subresource === 'status') {
    for (const o of objs)
      if (isPlainObject(o)) for (const k of Object.keys(o)) if (k !== 'status') s.insert([`f:${k}`]);
  } else if (statusSubresource) {
    s.insert(['f:status']);
  }
  return s;
}

interface UpdateResult {
  managed: Managed;
  conflicts: Map<string, FieldSet>;
}

/**
 * obj without its top-level fields that `ignored` holds whole: whatever changed below them is
 * ignored anyway, so they need no comparing (a status write leaves out spec, metadata...).
 */
function withoutIgnored(obj: unknown, ignored: FieldSet): unknown {
  if (!isPlainObject(obj) || !ignored.members.size) return obj;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) if (!ignored.members.has(`f:${k}`)) setOwn(out, k, obj[k]);
  return out;
}

/** Upstream's Updater.update: other managers lose what changed (conflicts unless forced). */
function updateOthers(
  managed: Managed,
  live: unknown,
  next: unknown,
  t: TypeRef,
  self: string,
  ignored: FieldSet,
  force: boolean,
): UpdateResult & { changed: FieldSet; removed: FieldSet } {
  const { changed, removed } = changes(withoutIgnored(live, ignored), withoutIgnored(next, ignored), t);
  changed.subtractRecursive(ignored);
  removed.subtractRecursive(ignored);
  const conflicts = new Map<string, FieldSet>();
  for (const [id, vs] of managed) {
    if (id === self) continue;
    const conflict = vs.set.intersection(changed);
    if (!conflict.isEmpty()) conflicts.set(id, conflict);
  }
  if (!force && conflicts.size) return { managed, conflicts, changed, removed };
  const out: Managed = new Map();
  for (const [id, vs] of managed) {
    if (id === self) {
      out.set(id, vs);
      continue;
    }
    let set = vs.set;
    const conflict = conflicts.get(id);
    if (conflict) set = set.difference(conflict);
    if (!removed.isEmpty()) set = set.difference(removed);
    if (!set.isEmpty()) out.set(id, { ...vs, set });
  }
  return { managed: out, conflicts: new Map(), changed, removed };
}

/**
 * The manager's set as it was before this write, when the write leaves it as it was: it changed
 * only fields the manager owns (as a kubelet renewing its lease does) and removed none of them.
 * updateOthers took the changed fields from it and the union would put them back; keeping the
 * set itself keeps its encoding too. (`before` came from a stored object: no server-owned fields.)
 */
function keptSet(before: FieldSet | undefined, mine: FieldSet, removed: FieldSet): FieldSet | undefined {
  if (!before || !mine.isSubsetOf(before)) return undefined;
  if (!removed.isEmpty() && !removed.intersection(before).isEmpty()) return undefined;
  return before.intersection(STRIP).isEmpty() ? before : undefined;
}

function stripAll(m: Managed): void {
  for (const [id, vs] of m) {
    // Most sets hold none of these (stored ones were stripped when written, a new Update entry
    // already is): they need no copy.
    const set = vs.set.intersection(STRIP).isEmpty() ? vs.set : vs.set.difference(STRIP);
    if (set.isEmpty()) m.delete(id);
    else vs.set = set;
  }
}

function isResetManagedFields(mf: unknown): boolean {
  if (!Array.isArray(mf)) return false;
  if (mf.length === 0) return true;
  return mf.length === 1 && isPlainObject(mf[0]) && Object.keys(mf[0]).length === 0;
}

export interface UpdateOptions {
  manager: string;
  apiVersion: string;
  type: TypeRef;
  subresource?: string;
  statusSubresource?: boolean;
  now?: () => string;
}

/** The live object's managers; none when they don't decode. */
function liveManaged(old: any): Managed {
  const entries = old?.metadata?.managedFields;
  if (entries === undefined) return new Map();
  try {
    return decodeManaged(entries);
  } catch {
    return new Map();
  }
}

/**
 * What a create compares the new object with: the empty object of its type, whose structs
 * exist but are empty.
 */
function emptyLike(next: any): any {
  const live: any = {};
  for (const k of Object.keys(next))
    if (isPlainObject(next[k]) && k !== 'apiVersion' && k !== 'kind') setOwn(live, k, {});
  // Its nil lists and pointers are null (kube-apiserver's empty object has them too), so a
  // field the new object leaves null is no change. Where the new object sets one, the null
  // goes: this compare takes null for a leaf, upstream's descends into the new list.
  if (typeof next.apiVersion === 'string' && typeof next.kind === 'string')
    fillNilFieldsAs(live, next.apiVersion, next.kind);
  keepNullsOf(live, next);
  return live;
}

/**
 * Records an Update (create, update, non-apply patch) by `manager` in obj.metadata.managedFields
 * (in place). managedFields the request set explicitly are taken when valid (that is how clients
 * rewrite or reset them); invalid ones are ignored in favour of the live object's.
 *
 * A create through the main resource that brings no managedFields of its own (nearly every one)
 * has its entry made in one walk of the object (recordCreate); everything else goes through
 * upstream's general algorithm (recordUpdateGeneral), which gives the same result there.
 */
export function recordUpdateOperation(obj: any, old: any, opts: UpdateOptions): void {
  if (!old && !opts.subresource) {
    const mf = obj.metadata?.managedFields;
    if (mf === undefined || mf === null || isResetManagedFields(mf)) return recordCreate(obj, opts);
  }
  recordUpdateGeneral(obj, old, opts);
}

/**
 * recordUpdateGeneral's result for a create through the main resource whose request sets no
 * managedFields (or resets them): no other manager, so the entry is this manager's alone and its
 * set is every field of the object against the empty one (less the fields the server owns and
 * the ignored ones), encoded as it is found (typed.ts changedFieldsV1).
 */
export function recordCreate(obj: any, opts: UpdateOptions): void {
  const meta = obj.metadata ?? (obj.metadata = {});
  const next = withoutManagedFields(obj);
  const ignored = ignoredFields([next], undefined, !!opts.statusSubresource);
  const fieldsV1 = changedFieldsV1(
    withoutIgnored(emptyLike(next), ignored),
    withoutIgnored(next, ignored),
    opts.type,
    STRIP,
  );
  if (!fieldsV1) {
    delete meta.managedFields;
    return;
  }
  const e = { manager: opts.manager, operation: 'Update', apiVersion: opts.apiVersion } as ManagedFieldsEntry;
  const time = (opts.now ?? nowRFC3339)();
  if (time) e.time = time;
  e.fieldsType = 'FieldsV1';
  e.fieldsV1 = fieldsV1;
  meta.managedFields = [e];
}

/** recordUpdateOperation by upstream's general algorithm (exported for the test of recordCreate). */
export function recordUpdateGeneral(obj: any, old: any, opts: UpdateOptions): void {
  const meta = obj.metadata ?? (obj.metadata = {});
  let managed: Managed;
  if (opts.subresource) managed = liveManaged(old);
  else if (meta.managedFields === undefined) managed = liveManaged(old);
  else if (isResetManagedFields(meta.managedFields)) managed = new Map();
  else {
    try {
      managed = decodeManaged(meta.managedFields);
      if (!managed.size) managed = liveManaged(old);
    } catch {
      managed = liveManaged(old);
    }
  }
  const next = withoutManagedFields(obj);
  let live: any;
  if (old) live = withoutManagedFields(old);
  else live = emptyLike(next);
  const ignored = ignoredFields([next], opts.subresource, !!opts.statusSubresource);
  const self = '\u0000current-operation';
  const id = managerId(opts.manager, 'Update', opts.apiVersion, opts.subresource);
  const before = managed.get(id)?.set;
  const r = updateOthers(managed, live, next, opts.type, self, ignored, true);
  managed = r.managed;
  // changed is this call's own set: stripped in place rather than copied.
  const mine = r.changed.subtract(STRIP);
  if (!mine.isEmpty()) {
    const prev = managed.get(id);
    managed.set(id, {
      manager: opts.manager,
      operation: 'Update',
      apiVersion: opts.apiVersion,
      subresource: opts.subresource,
      set: keptSet(before, mine, r.removed) ?? (prev ? prev.set.union(mine) : mine),
      time: (opts.now ?? nowRFC3339)(),
    });
  }
  stripAll(managed);
  const entries = encodeManaged(managed);
  if (entries.length) meta.managedFields = entries;
  else delete meta.managedFields;
}

export interface ApplyOptions {
  manager: string;
  force: boolean;
  /** The apiVersion of the request (the applied configuration must use it). */
  apiVersion: string;
  type: TypeRef;
  subresource?: string;
  statusSubresource?: boolean;
  now?: () => string;
}

/** The 409 upstream returns for apply conflicts. */
export function conflictError(conflicts: Map<string, FieldSet>, managed: Managed): errors.ApiError {
  const list: { manager: string; path: Path }[] = [];
  const ids = [...conflicts.keys()].sort();
  for (const id of ids) for (const path of conflicts.get(id)!.paths()) list.push({ manager: id, path });
  const printManager = (id: string): string => {
    const vs = managed.get(id);
    if (!vs) return JSON.stringify(id);
    let s = JSON.stringify(vs.manager);
    if (vs.subresource) s = `${s} with subresource ${JSON.stringify(vs.subresource)}`;
    if (vs.operation === 'Update') s = `${s} using ${vs.apiVersion}`;
    return s;
  };
  const causes = list.map((c) => ({
    reason: 'FieldManagerConflict',
    message: `conflict with ${printManager(c.manager)}`,
    field: pathToString(c.path),
  }));
  let message: string;
  if (list.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${printManager(list[0].manager)}: ${pathToString(list[0].path)}`;
  } else {
    const lines: string[] = [];
    for (const id of ids) {
      lines.push(`conflicts with ${printManager(id)}:`);
      for (const path of conflicts.get(id)!.paths()) lines.push(`- ${pathToString(path)}`);
    }
    message = `Apply failed with ${list.length} conflicts: ${lines.join('\n')}`;
  }
  return new errors.ApiError(409, 'Conflict', message, { causes });
}

/**
 * Applies `config` (an applied configuration) to `live` (the current object, or a stub with
 * only apiVersion/kind/metadata name and namespace when it doesn't exist yet) on behalf of
 * `opts.manager`. Returns the new object, with its managedFields. Throws ApiError 409 on
 * conflicts (unless forced) and 400 on malformed configurations.
 */
export function applyOperation(live: any, config: any, opts: ApplyOptions): any {
  if (config === null || typeof config !== 'object' || Array.isArray(config))
    throw errors.badRequest('the apply patch must be an object');
  if (config.metadata?.managedFields !== undefined && config.metadata?.managedFields !== null)
    throw errors.badRequest('metadata.managedFields must be nil');
  // An applied configuration names its version (upstream compares it even when missing).
  if (config.apiVersion !== opts.apiVersion) {
    throw errors.badRequest(
      `Incorrect version specified in apply patch. Specified patch version: ${config.apiVersion ?? ''}, expected: ${opts.apiVersion}`,
    );
  }
  let managed: Managed;
  try {
    managed = decodeManaged(live?.metadata?.managedFields);
  } catch (err) {
    throw errors.internalError(`failed to decode managed fields: ${(err as Error).message}`);
  }
  const undeclared = undeclaredFields(config, opts.type);
  if (undeclared.length) {
    // Upstream's message. Upstream answers it with a plain error from the typed conversion, a
    // 500; the request is what is wrong, so here it is a 400 (as upstream means to make it).
    const text = undeclared.length === 1 ? undeclared[0] : ['errors:', ...undeclared.map((e) => `  ${e}`)].join('\n');
    throw errors.badRequest(
      `failed to create typed patch object (${objectRef(config, live, opts.apiVersion)}): ${text}`,
    );
  }
  try {
    validateApplied(config, opts.type);
  } catch (err) {
    if (err instanceof TypedError)
      throw errors.badRequest(`error while validating applied configuration: ${err.message}`);
    throw err;
  }
  const liveObj = withoutManagedFields(live);
  const cfg = withoutManagedFields(config);
  if (isPlainObject(cfg.metadata) && cfg.metadata.managedFields === null) delete cfg.metadata.managedFields;

  let result = runApply(liveObj, cfg, managed, opts, opts.force);
  if ('conflicts' in result && opts.manager === 'kubectl') {
    // Upgrading from client-side apply: conflicts on fields the last-applied annotation shows
    // kubectl set before are not conflicts.
    const allowed = allowedFromLastApplied(liveObj, opts.type);
    if (allowed) {
      const remaining = new Map<string, FieldSet>();
      for (const [id, set] of result.conflicts) {
        const rest = set.difference(allowed);
        if (!rest.isEmpty()) remaining.set(id, rest);
      }
      result = remaining.size ? { conflicts: remaining, managed } : runApply(liveObj, cfg, managed, opts, true);
    }
  }
  if ('conflicts' in result) throw conflictError(result.conflicts, managed);
  const { object, managed: out } = result;
  // kubectl keeps the client-side apply annotation in step when it applies server-side.
  if (opts.manager === 'kubectl' && typeof liveObj?.metadata?.annotations?.[LAST_APPLIED] === 'string') {
    const annotated = structuredClone(config);
    if (annotated.metadata?.annotations) {
      delete annotated.metadata.annotations[LAST_APPLIED];
      if (!Object.keys(annotated.metadata.annotations).length) delete annotated.metadata.annotations;
    }
    object.metadata ??= {};
    object.metadata.annotations = { ...(object.metadata.annotations ?? {}), [LAST_APPLIED]: JSON.stringify(annotated) };
  }
  const entries = encodeManaged(out);
  object.metadata ??= {};
  if (entries.length) object.metadata.managedFields = entries;
  else delete object.metadata.managedFields;
  return object;
}

/** Upstream's objectGVKNN: `namespace/name; group/version, Kind=Kind` of the applied object. */
function objectRef(config: any, live: any, apiVersion: string): string {
  const meta = isPlainObject(config.metadata) ? config.metadata : {};
  const namespace = typeof meta.namespace === 'string' ? meta.namespace : '';
  const name = typeof meta.name === 'string' ? meta.name : '';
  const gv = apiVersion.includes('/') ? apiVersion : `/${apiVersion}`;
  const kind = typeof config.kind === 'string' ? config.kind : String(live?.kind ?? '');
  return `${namespace}/${name}; ${gv}, Kind=${kind}`;
}

function runApply(
  live: any,
  config: any,
  managedIn: Managed,
  opts: ApplyOptions,
  force: boolean,
): { object: any; managed: Managed } | { conflicts: Map<string, FieldSet>; managed: Managed } {
  const managed: Managed = new Map([...managedIn].map(([id, vs]) => [id, { ...vs }]));
  const t = opts.type;
  let merged: any;
  try {
    merged = merge(live, config, t);
  } catch (err) {
    if (err instanceof TypedError) throw errors.badRequest(`failed to merge config: ${err.message}`);
    throw err;
  }
  const id = managerId(opts.manager, 'Apply', opts.apiVersion, opts.subresource);
  const last = managed.get(id);
  const ignored = ignoredFields([live, config], opts.subresource, !!opts.statusSubresource);
  const set = toFieldSet(config, t).recursiveDifference(ignored).difference(STRIP);
  managed.set(id, {
    manager: opts.manager,
    operation: 'Apply',
    apiVersion: opts.apiVersion,
    subresource: opts.subresource,
    set,
    time: last?.time,
  });
  // Prune: fields this manager applied last time, applies no more, and nobody else owns.
  if (last && !last.set.isEmpty()) {
    let owned = new FieldSet();
    for (const vs of managed.values()) owned = owned.union(vs.set);
    const mergedSet = ensureNamedFieldsAreMembers(toFieldSet(merged, t), t, merged);
    // Only what the manager set itself: a struct field it merely had fields inside (metadata,
    // for a label) is not removed wholesale, or the fields nobody owns there (name, uid) would go
    // with it. Upstream removes it and adds those "dangling" items back; emptied containers are
    // dropped by removeItems.
    const lastSet = last.set;
    const ownedSet = ensureNamedFieldsAreMembers(owned, t, merged);
    const remove = mergedSet.intersection(lastSet).difference(ownedSet);
    if (!remove.isEmpty()) merged = removeItems(merged, remove, t);
  }
  const r = updateOthers(managed, live, merged, t, id, ignored, force);
  if (r.conflicts.size) return { conflicts: r.conflicts, managed };
  const changed = !deepEqual(live, merged);
  const mine = r.managed.get(id);
  if (mine && (changed || !mine.time)) mine.time = (opts.now ?? nowRFC3339)();
  stripAll(r.managed);
  return { object: merged, managed: r.managed };
}

/** The fields kubectl's last-applied annotation shows it set, where they still match the object. */
function allowedFromLastApplied(live: any, t: TypeRef): FieldSet | undefined {
  const text = live?.metadata?.annotations?.[LAST_APPLIED];
  if (typeof text !== 'string' || !text) return undefined;
  let last: unknown;
  try {
    last = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isPlainObject(last)) return undefined;
  try {
    const set = toFieldSet(last, t);
    const c = compare(last, live, t);
    return set.difference(c.modified).difference(c.added).difference(c.removed);
  } catch {
    return undefined;
  }
}
