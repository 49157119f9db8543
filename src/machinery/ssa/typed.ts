// Schema-aware operations on objects for server-side apply, after structured-merge-diff's
// typed package: the field set of a value, the comparison of two values, the merge of an
// applied configuration into a live object and the removal of a set of fields.
//
// Types come from OpenAPI schemas. Lists are atomic unless the schema says otherwise:
// x-kubernetes-list-type (map with x-kubernetes-list-map-keys, set) or, for built-in types
// without it, the strategic-merge metadata (patch-merge-key -> map keyed by it, patch-strategy
// merge on scalars -> set). Maps and structs are granular unless x-kubernetes-map-type is
// atomic. Where no schema applies (free-form values) objects are granular maps and lists atomic.
//
// Map keys are data: values are read and written as own properties only (ownValue / setOwn), so
// keys such as `constructor` or `__proto__` are ordinary fields.
import { resolveRef, type Definitions, type Schema } from '../openapi/definitions.js';
import { deepCopy, deepEqual, isPlainObject, ownValue, setOwn } from '../objects.js';
import { comparePathElements, FieldSet, pathToString, type Path, type PathElement } from './fieldset.js';
import { compareStrings } from '../order.js';

/** A type: a schema (undefined = free-form) and the definitions its $refs resolve in. */
export interface TypeRef {
  schema: Schema | undefined;
  extra?: Definitions;
}

export class TypedError extends Error {}

type Resolved = Scalar | MapType | ListType;
type Scalar = { kind: 'scalar' };
/** `closed`: a struct (declared properties, nothing else): any other key is not in the schema. */
type MapType = {
  kind: 'map';
  atomic: boolean;
  closed: boolean;
  fields?: Record<string, Schema>;
  declared: ReadonlyMap<string, Field>;
  elem: TypeRef;
};
type ListType = {
  kind: 'list';
  rel: 'atomic' | 'set' | 'map';
  keys: string[];
  item: TypeRef;
  keyFields: KeyField[];
  /** Some key is named like an array index (an object would put it first): see itemPathElement. */
  indexLikeKey?: boolean;
};
/**
 * A declared field's path element and type, made once per schema: the same path element string
 * every write is hashed and internalized (as a FieldsV1 key) once instead of every time.
 */
type Field = { pe: PathElement; type: TypeRef };
/** A key of an associative list, in path element order, with the value an item that omits it has. */
type KeyField = { name: string; fallback: unknown; json: string };

const FREE: TypeRef = { schema: undefined };

/** Keys of associative lists that upstream defaults in the schema (`+default=`). */
const KEY_DEFAULTS: Record<string, unknown> = { protocol: 'TCP' };

// Resolved types carry no per-value state, so these are shared (and must never be mutated).
const SCALAR: Scalar = { kind: 'scalar' };
const FREE_MAP: MapType = { kind: 'map', atomic: false, closed: false, declared: new Map(), elem: FREE };
const ATOMIC_LIST: ListType = { kind: 'list', rel: 'atomic', keys: [], item: FREE, keyFields: [] };

function ext(field: Schema | undefined, resolved: Schema | undefined, name: string): unknown {
  return field?.[name] ?? resolved?.[name];
}

/** How a value is treated where no schema decides. */
function deduced(value: unknown): Resolved {
  if (isPlainObject(value)) return FREE_MAP;
  if (Array.isArray(value)) return ATOMIC_LIST;
  return SCALAR;
}

/** How a value of type `t` is treated (the value decides for free-form types and mismatches). */
function resolveType(t: TypeRef, value: unknown): Resolved {
  const r = t.schema ? schemaType(t.schema, t.extra) : undefined;
  if (!r) return deduced(value);
  if (value === undefined || value === null) return r;
  if (r.kind === 'list' && !Array.isArray(value)) return SCALAR;
  if (r.kind === 'map' && !isPlainObject(value)) return Array.isArray(value) ? ATOMIC_LIST : SCALAR;
  return r;
}

// What a schema says, resolved once per schema object: every node of every write asks, and
// schemas (built-in definitions, published CRD schemas) are never changed once loaded. $refs
// resolve through `extra`, so each extra definitions object has its own cache.
const builtinTypes = new WeakMap<Schema, Resolved | null>();
const customTypes = new WeakMap<Definitions, WeakMap<Schema, Resolved | null>>();

/** The type a schema declares, or undefined when the value decides (see resolveType). */
function schemaType(field: Schema, extra: Definitions | undefined): Resolved | undefined {
  // (Published schemas are objects throughout; anything else can't key a cache.)
  if (typeof field !== 'object') return declaredType(field, extra);
  let cache = builtinTypes;
  if (extra) {
    cache = customTypes.get(extra)!;
    if (!cache) customTypes.set(extra, (cache = new WeakMap()));
  }
  let r = cache.get(field);
  if (r === undefined) {
    r = declaredType(field, extra) ?? null;
    cache.set(field, r);
  }
  return r ?? undefined;
}

function declaredType(field: Schema, extra: Definitions | undefined): Resolved | undefined {
  const s = resolveRef(field, extra);
  if (!s) return undefined;
  if (s['x-kubernetes-int-or-string'] === true || s.format === 'int-or-string') return SCALAR;
  const isList = s.type === 'array' || (!s.type && s.items !== undefined);
  const isMap =
    s.type === 'object' || (!s.type && (s.properties !== undefined || s.additionalProperties !== undefined));
  if (isList) return declaredListType(field, s, extra);
  if (isMap || s['x-kubernetes-preserve-unknown-fields'] === true || s['x-kubernetes-embedded-resource'] === true) {
    const atomic = ext(field, s, 'x-kubernetes-map-type') === 'atomic';
    const additional = s.additionalProperties;
    const closed =
      s.properties !== undefined &&
      (additional === undefined || additional === false) &&
      s['x-kubernetes-preserve-unknown-fields'] !== true;
    return {
      kind: 'map',
      atomic,
      closed,
      fields: s.properties,
      declared: declaredFields(s.properties, extra),
      elem: typeOf(typeof additional === 'object' ? additional : undefined, extra),
    };
  }
  return s.type ? SCALAR : undefined;
}

function typeOf(schema: Schema | undefined, extra: Definitions | undefined): TypeRef {
  return schema ? { schema, extra } : FREE;
}

function declaredFields(
  properties: Record<string, Schema> | undefined,
  extra: Definitions | undefined,
): Map<string, Field> {
  const out = new Map<string, Field>();
  for (const [name, prop] of Object.entries(properties ?? {}))
    if (prop) out.set(name, { pe: `f:${name}`, type: { schema: prop, extra } });
  return out;
}

function declaredListType(field: Schema, s: Schema, extra: Definitions | undefined): ListType {
  const items = s.items;
  const list = (rel: ListType['rel'], keys: string[] = []): ListType => ({
    kind: 'list',
    rel,
    keys,
    item: typeOf(items, extra),
    keyFields: keyFields(keys, items, extra),
    indexLikeKey: keys.some((k) => /^(0|[1-9]\d*)$/.test(k) && Number(k) < 2 ** 32 - 1),
  });
  const listType = ext(field, s, 'x-kubernetes-list-type') as string | undefined;
  if (listType === 'map')
    return list('map', (ext(field, s, 'x-kubernetes-list-map-keys') as string[] | undefined) ?? []);
  if (listType === 'set') return list('set');
  if (listType === 'atomic') return list('atomic');
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the extension holds a string
  const strategy = String(ext(field, s, 'x-kubernetes-patch-strategy') ?? '');
  if (strategy.split(',').includes('merge')) {
    const mergeKey = ext(field, s, 'x-kubernetes-patch-merge-key') as string | undefined;
    if (mergeKey) return list('map', [mergeKey]);
    const itemSchema = items ? resolveRef(items, extra) : undefined;
    const scalarItems =
      itemSchema && itemSchema.type !== 'object' && itemSchema.type !== 'array' && !itemSchema.properties;
    if (scalarItems) return list('set');
  }
  return list('atomic');
}

/** The keys in path element order, each with its schema default (or upstream's built-in one). */
function keyFields(keys: string[], items: Schema | undefined, extra: Definitions | undefined): KeyField[] {
  const itemSchema = items ? resolveRef(items, extra) : undefined;
  return [...keys].sort().map((name) => {
    const def = itemSchema?.properties?.[name] ? resolveRef(itemSchema.properties[name], extra)?.default : undefined;
    return {
      name,
      fallback: def !== undefined ? def : !extra ? KEY_DEFAULTS[name] : undefined,
      json: JSON.stringify(name),
    };
  });
}

function fieldType(r: MapType, key: string): TypeRef {
  return r.declared.get(key)?.type ?? r.elem;
}

/** The path element of a map key. */
function fieldPE(r: MapType, key: string): PathElement {
  return r.declared.get(key)?.pe ?? `f:${key}`;
}

function isDeclared(r: MapType, key: string): boolean {
  return !!r.fields && Object.prototype.hasOwnProperty.call(r.fields, key);
}

/** The path element of a list item (associative lists and sets only). */
export function itemPathElement(r: ListType, item: unknown): PathElement {
  if (r.rel === 'map') {
    if (!isPlainObject(item)) throw new TypedError('associative list with keys may not have non-map elements');
    // The JSON of the object of the item's keys (in keyFields order), written out: every item
    // of every write makes one. (Keys named like array indexes would come first in an object.)
    let text = '';
    for (const { name, fallback, json } of r.keyFields) {
      const own = ownValue(item, name);
      const v = own !== undefined ? own : fallback;
      if (v !== undefined) text += `${text ? ',' : ''}${json}:${JSON.stringify(v)}`;
    }
    if (!text) {
      throw new TypedError(
        `associative list with keys has an element that omits all key fields ${JSON.stringify(r.keys)} (and doesn't have default values for any key fields)`,
      );
    }
    if (r.indexLikeKey) return `k:${JSON.stringify(JSON.parse(`{${text}}`))}`;
    return `k:{${text}}`;
  }
  if (isPlainObject(item)) throw new TypedError("associative list without keys has an element that's a map type");
  if (Array.isArray(item)) throw new TypedError('not supported: associative list with lists as elements');
  return `v:${JSON.stringify(item)}`;
}

function isLeaf(r: Resolved, value: unknown): boolean {
  if (r.kind === 'scalar') return true;
  if (r.kind === 'map') return r.atomic || value === null;
  return r.rel === 'atomic' || value === null;
}

// ---- field sets ---------------------------------------------------------------------------

/** Every field a value sets, as upstream's ToFieldSet. */
export function toFieldSet(value: unknown, t: TypeRef): FieldSet {
  const out = new FieldSet();
  collect(value, t, out);
  return out;
}

function collect(value: unknown, t: TypeRef, out: FieldSet): void {
  const r = resolveType(t, value);
  if (isLeaf(r, value)) return;
  if (r.kind === 'map' && isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      const pe = fieldPE(r, k);
      const ct = fieldType(r, k);
      const cr = resolveType(ct, v);
      if (isLeaf(cr, v)) {
        out.members.add(pe);
        continue;
      }
      const sub = new FieldSet();
      collect(v, ct, sub);
      if (!sub.isEmpty()) out.children.set(pe, sub);
      if ((isPlainObject(v) && !Object.keys(v).length) || !isDeclared(r, k)) out.members.add(pe);
    }
  } else if (r.kind === 'list' && Array.isArray(value)) {
    for (const item of value) {
      const pe = itemPathElement(r, item);
      out.members.add(pe);
      const sub = new FieldSet();
      collect(item, r.item, sub);
      if (!sub.isEmpty()) out.children.set(pe, sub.union(out.children.get(pe) ?? new FieldSet()));
    }
  }
}

/** Checks an applied configuration: associative lists must not hold duplicates. */
export function validateApplied(value: unknown, t: TypeRef, at = ''): void {
  const r = resolveType(t, value);
  if (isLeaf(r, value)) return;
  if (r.kind === 'map' && isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) validateApplied(v, fieldType(r, k), `${at}.${k}`);
  } else if (r.kind === 'list' && Array.isArray(value)) {
    const seen = new Set<string>();
    value.forEach((item, i) => {
      let pe: string;
      try {
        pe = itemPathElement(r, item);
      } catch (err) {
        throw new TypedError(`${at}: element ${i}: ${(err as Error).message}`);
      }
      if (seen.has(pe))
        throw new TypedError(
          `${at}: duplicate entries for key ${pe.startsWith('k:') ? keyString(pe) : `[=${pe.slice(2)}]`}`,
        );
      seen.add(pe);
      validateApplied(item, r.item, `${at}[${i}]`);
    });
  }
}

/**
 * The fields of an applied configuration that its schema doesn't declare, in upstream's path
 * spelling (`.metadata.foo`, `.spec.containers[name="app"].bar`). Upstream's conversion of the
 * configuration to a typed value refuses them whatever fieldValidation says, so they never
 * reach the object or its managedFields.
 */
export function undeclaredFields(value: unknown, t: TypeRef): string[] {
  const found: string[] = [];
  findUndeclared(value, t, [], found);
  return found;
}

function findUndeclared(value: unknown, t: TypeRef, path: Path, found: string[]): void {
  // Atomic maps and lists are checked too: atomicity is about ownership, not the schema.
  const r = resolveType(t, value);
  if (r.kind === 'map' && isPlainObject(value)) {
    for (const k of Object.keys(value)) {
      path.push(fieldPE(r, k));
      if (r.closed && !r.declared.has(k)) found.push(`${pathToString(path)}: field not declared in schema`);
      else findUndeclared(value[k], fieldType(r, k), path, found);
      path.pop();
    }
  } else if (r.kind === 'list' && Array.isArray(value)) {
    value.forEach((item, i) => {
      path.push(r.rel === 'atomic' ? `i:${i}` : (safePE(r, item) ?? `i:${i}`));
      findUndeclared(item, r.item, path, found);
      path.pop();
    });
  }
}

/**
 * The paths of the atomic maps, structs and lists an applied configuration sets, in upstream's
 * spelling (`.spec.selector`, `.spec.containers[0].args`), as structured-merge-diff's
 * findAtomics for MutatingAdmissionPolicy: merging one replaces it whole, dropping what the
 * configuration does not name, so a policy may not set one. Only declared struct fields and list
 * items are walked (not the values of maps with an element type).
 */
export function atomicFields(value: unknown, t: TypeRef): string[] {
  const found: string[] = [];
  findAtomics(value, t, '', found);
  return found;
}

function findAtomics(value: unknown, t: TypeRef, path: string, found: string[]): void {
  const r = resolveType(t, value);
  if (r.kind === 'map' && isPlainObject(value)) {
    if (r.atomic) found.push(path);
    for (const k of Object.keys(value)) {
      const field = r.declared.get(k);
      if (field) findAtomics(value[k], field.type, `${path}.${k}`, found);
    }
  } else if (r.kind === 'list' && Array.isArray(value)) {
    if (r.rel === 'atomic') found.push(path);
    value.forEach((item, i) => findAtomics(item, r.item, `${path}[${i}]`, found));
  }
}

function keyString(pe: string): string {
  const keys = JSON.parse(pe.slice(2)) as Record<string, unknown>;
  return `[${Object.keys(keys)
    .map((k) => `${k}=${JSON.stringify(keys[k])}`)
    .join(',')}]`;
}

/**
 * Adds as members the struct fields (declared properties) that have children in the set, as
 * upstream's EnsureNamedFieldsAreMembers: owning something inside a struct field means the
 * struct field stays.
 */
export function ensureNamedFieldsAreMembers(set: FieldSet, t: TypeRef, value?: unknown): FieldSet {
  const out = new FieldSet();
  const r = resolveType(t, value);
  for (const m of set.members) out.members.add(m);
  for (const [pe, sub] of set.children) {
    let ct: TypeRef = FREE;
    let child: unknown;
    if (r.kind === 'map' && pe.startsWith('f:')) {
      const name = pe.slice(2);
      ct = fieldType(r, name);
      child = isPlainObject(value) ? ownValue(value, name) : undefined;
      if (isDeclared(r, name)) out.members.add(pe);
    } else if (r.kind === 'list') {
      ct = r.item;
      if (Array.isArray(value)) child = value.find((item) => safePE(r, item) === pe);
    }
    const e = ensureNamedFieldsAreMembers(sub, ct, child);
    if (!e.isEmpty()) out.children.set(pe, e);
  }
  return out;
}

function safePE(r: ListType, item: unknown): string | undefined {
  try {
    return itemPathElement(r, item);
  } catch {
    return undefined;
  }
}

// ---- compare ------------------------------------------------------------------------------

export interface Comparison {
  added: FieldSet;
  removed: FieldSet;
  modified: FieldSet;
}

/** What changed from lhs to rhs, as upstream's TypedValue.Compare. */
export function compare(lhs: unknown, rhs: unknown, t: TypeRef): Comparison {
  const c: Comparison = { added: new FieldSet(), removed: new FieldSet(), modified: new FieldSet() };
  compareNode(lhs, rhs, t, [], c);
  return c;
}

/**
 * compare's added and modified fields as one set (upstream's updater only uses their union),
 * collected directly rather than copied together, and the removed ones.
 */
export function changes(lhs: unknown, rhs: unknown, t: TypeRef): { changed: FieldSet; removed: FieldSet } {
  const changed = new FieldSet();
  const removed = new FieldSet();
  compareNode(lhs, rhs, t, [], { added: changed, modified: changed, removed });
  return { changed, removed };
}

/** A FieldsV1 entry: a path element and its encoding. */
type Entry = [PathElement, Record<string, unknown>];

/**
 * The FieldsV1 encoding of `changes(lhs, rhs, t).changed` less the member marks `strip` holds
 * (as FieldSet.subtract: the fields below a stripped member stay), made in one walk of the two
 * values without building the set: a create's managedFields entry (every field of the new object
 * against an empty one). Undefined when the set is empty. Exactly what encoding that set gives.
 */
export function changedFieldsV1(
  lhs: unknown,
  rhs: unknown,
  t: TypeRef,
  strip?: FieldSet,
): Record<string, unknown> | undefined {
  const rr = containerType(lhs, rhs, t);
  const kids = rr && childEntries(lhs, rhs, rr, strip);
  return kids ? encodeEntries(false, kids) : undefined;
}

/**
 * The type compareNode walks the children of (lhs and rhs both present or one added), or
 * undefined where it compares them as leaves or one was removed (then nothing below changed).
 */
function containerType(l: unknown, r: unknown, t: TypeRef): MapType | ListType | undefined {
  if (l !== undefined && r === undefined) return undefined;
  const rl = resolveType(t, l === undefined ? r : l);
  const rr = l === undefined ? rl : resolveType(t, r);
  if (rl.kind !== rr.kind || isLeaf(rl, l) || isLeaf(rr, r) || (isEmptyContainer(l) && isEmptyContainer(r)))
    return undefined;
  return rr as MapType | ListType;
}

/** The entries below one node (compareMaps / compareLists), or undefined for none. */
function childEntries(
  l: unknown,
  r: unknown,
  rr: MapType | ListType,
  strip: FieldSet | undefined,
): Entry[] | undefined {
  const out: Entry[] = [];
  if (rr.kind === 'map') {
    const lm = isPlainObject(l) ? l : NO_MAP;
    const rm = isPlainObject(r) ? r : NO_MAP;
    for (const k of Object.keys(lm)) {
      const lv = lm[k];
      const rv = ownValue(rm, k);
      if (lv === undefined && rv === undefined) continue;
      const field = rr.declared.get(k);
      nodeEntry(field ? field.pe : `f:${k}`, lv, rv, field ? field.type : rr.elem, strip, out);
    }
    for (const k of Object.keys(rm)) {
      const rv = rm[k];
      if (rv === undefined || (lm !== NO_MAP && Object.hasOwn(lm, k))) continue;
      const field = rr.declared.get(k);
      nodeEntry(field ? field.pe : `f:${k}`, undefined, rv, field ? field.type : rr.elem, strip, out);
    }
    if (out.length > 1) sortEntries(out, true);
  } else {
    const li = indexItems(rr, Array.isArray(l) ? l : []);
    const ri = indexItems(rr, Array.isArray(r) ? r : []);
    // (Items only lhs has were removed: nothing changed below them.)
    for (const [pe, rv] of ri) nodeEntry(pe, li.get(pe), rv, rr.item, strip, out);
    if (out.length > 1) sortEntries(out, false);
  }
  return out.length ? out : undefined;
}

/** compareNode at one path element: its entry goes to `out` when it has one. */
function nodeEntry(
  pe: PathElement,
  l: unknown,
  r: unknown,
  t: TypeRef,
  strip: FieldSet | undefined,
  out: Entry[],
): void {
  if (l !== undefined && r === undefined) return; // removed
  const rr = containerType(l, r, t);
  // A leaf is added or modified; a container is a member itself when it was added.
  let member = rr ? l === undefined : l === undefined || !deepEqual(l, r);
  const kids = rr && childEntries(l, r, rr, strip?.children.get(pe));
  if (member && strip?.members.has(pe)) member = false;
  if (member || kids) out.push([pe, encodeEntries(member, kids)]);
}

/** A node's FieldsV1 object: "." first for a member with children, then the children (sorted). */
function encodeEntries(member: boolean, kids: Entry[] | undefined): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (!kids) return o;
  if (member) o['.'] = {};
  for (let i = 0; i < kids.length; i++) o[kids[i][0]] = kids[i][1];
  return o;
}

/**
 * Sorts a node's entries by path element (comparePathElements): in place, by insertion (a node
 * has a few, often nearly in order; Array.prototype.sort's calls of a comparator cost more).
 * `fields`: every path element is a field's (`f:`), which compare as plain strings.
 */
function sortEntries(kids: Entry[], fields: boolean): void {
  if (kids.length > 32) {
    kids.sort(fields ? (a, b) => compareStrings(a[0], b[0]) : (a, b) => comparePathElements(a[0], b[0]));
    return;
  }
  for (let i = 1; i < kids.length; i++) {
    const e = kids[i];
    const pe = e[0];
    let j = i - 1;
    while (j >= 0 && (fields ? kids[j][0] > pe : comparePathElements(kids[j][0], pe) > 0)) {
      kids[j + 1] = kids[j];
      j--;
    }
    kids[j + 1] = e;
  }
}

function isEmptyContainer(v: unknown): boolean {
  return (
    v === undefined || v === null || (Array.isArray(v) && !v.length) || (isPlainObject(v) && !Object.keys(v).length)
  );
}

/** Stands in for a missing map. */
const NO_MAP: Record<string, unknown> = Object.freeze({});

// `path` is one array for the whole walk, extended and restored around each child: the field
// sets only read it (FieldSet.insert), so no node needs a copy.
function compareNode(l: unknown, r: unknown, t: TypeRef, path: Path, c: Comparison): void {
  const rl = resolveType(t, l === undefined ? r : l);
  // With a side missing, both sides resolve against the same value.
  const rr = l === undefined || r === undefined ? rl : resolveType(t, r);
  if (rl.kind !== rr.kind || isLeaf(rl, l) || isLeaf(rr, r) || (isEmptyContainer(l) && isEmptyContainer(r))) {
    compareLeaf(l, r, path, c);
    return;
  }
  if (rr.kind === 'map') compareMaps(isPlainObject(l) ? l : NO_MAP, isPlainObject(r) ? r : NO_MAP, rr, t, path, c);
  else if (rr.kind === 'list') compareLists(Array.isArray(l) ? l : [], Array.isArray(r) ? r : [], rr, path, c);
  if (path.length) {
    if (l === undefined) c.added.insert(path);
    else if (r === undefined) c.removed.insert(path);
  }
}

function compareLeaf(l: unknown, r: unknown, path: Path, c: Comparison): void {
  if (!path.length) return;
  if (l === undefined) c.added.insert(path);
  else if (r === undefined) c.removed.insert(path);
  else if (!deepEqual(l, r)) c.modified.insert(path);
}

/** Every key of either map, lhs's first, in their order. */
function compareMaps(
  lm: Record<string, unknown>,
  rm: Record<string, unknown>,
  rr: MapType,
  t: TypeRef,
  path: Path,
  c: Comparison,
): void {
  for (const k of Object.keys(lm)) compareField(k, lm[k], ownValue(rm, k), rr, t, path, c);
  for (const k of Object.keys(rm)) if (!Object.hasOwn(lm, k)) compareField(k, undefined, rm[k], rr, t, path, c);
}

function compareField(k: string, lv: unknown, rv: unknown, rr: MapType, t: TypeRef, path: Path, c: Comparison): void {
  if (lv === undefined && rv === undefined) return;
  path.push(fieldPE(rr, k));
  compareNode(lv, rv, fieldType(rr, k), path, c);
  path.pop();
}

function compareLists(l: unknown[], r: unknown[], rr: ListType, path: Path, c: Comparison): void {
  const li = indexItems(rr, l);
  const ri = indexItems(rr, r);
  for (const [pe, rv] of ri) compareItem(pe, li.get(pe), rv, rr.item, path, c);
  for (const [pe, lv] of li) if (!ri.has(pe)) compareItem(pe, lv, undefined, rr.item, path, c);
}

function compareItem(pe: PathElement, lv: unknown, rv: unknown, it: TypeRef, path: Path, c: Comparison): void {
  path.push(pe);
  compareNode(lv, rv, it, path, c);
  path.pop();
}

function indexItems(r: ListType, list: unknown[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  list.forEach((item, i) => {
    const pe = safePE(r, item) ?? `i:${i}`;
    if (!out.has(pe)) out.set(pe, item);
  });
  return out;
}

// ---- merge --------------------------------------------------------------------------------

/** Merges rhs (an applied configuration) into lhs (the live object): rhs wins, by type. */
export function merge(lhs: unknown, rhs: unknown, t: TypeRef): unknown {
  return mergeNode(lhs, rhs, t);
}

function mergeNode(l: unknown, r: unknown, t: TypeRef): unknown {
  if (r === undefined) return deepCopy(l);
  if (l === undefined) return deepCopy(r);
  const rl = resolveType(t, l);
  const rr = resolveType(t, r);
  if (rl.kind !== rr.kind || isLeaf(rr, r) || isLeaf(rl, l)) return deepCopy(r);
  if (rr.kind === 'map') {
    const lm = l as Record<string, unknown>;
    const rm = r as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(lm))
      setOwn(out, k, Object.hasOwn(rm, k) ? mergeNode(lm[k], rm[k], fieldType(rr, k)) : deepCopy(lm[k]));
    for (const k of Object.keys(rm)) if (!Object.hasOwn(lm, k)) setOwn(out, k, deepCopy(rm[k]));
    return out;
  }
  if (rr.kind === 'list') return mergeList(rr, l as unknown[], r as unknown[], t);
  return deepCopy(r);
}

/** Upstream's list merge: rhs order wins for shared items, lhs-only items keep their place. */
function mergeList(r: ListType, lhs: unknown[], rhs: unknown[], _t: TypeRef): unknown[] {
  const lPEs = lhs.map((item, i) => safePE(r, item) ?? `i:${i}`);
  const rPEs = rhs.map((item) => itemPathElement(r, item));
  const lByPE = new Map<string, unknown>();
  lPEs.forEach((pe, i) => {
    if (!lByPE.has(pe)) lByPE.set(pe, lhs[i]);
  });
  const rByPE = new Map<string, unknown>();
  rPEs.forEach((pe, i) => rByPE.set(pe, rhs[i]));
  const shared = rPEs.filter((pe) => lByPE.has(pe));
  let next: string | undefined = shared.shift();
  const merged = new Set<string>();
  const out: unknown[] = [];
  let lI = 0;
  let rI = 0;
  while (lI < lPEs.length || rI < rPEs.length) {
    if (lI < lPEs.length && rI < rPEs.length) {
      const pe = lPEs[lI];
      if (pe === rPEs[rI]) {
        merged.add(pe);
        out.push(mergeNode(lByPE.get(pe), rByPE.get(pe), r.item));
        lI++;
        rI++;
        next = shared.shift();
        continue;
      }
      if (rByPE.has(pe) && next !== undefined && next !== pe) {
        lI++;
        continue;
      }
    }
    if (lI < lPEs.length) {
      const pe = lPEs[lI];
      if (!rByPE.has(pe)) {
        out.push(deepCopy(lhs[lI]));
        lI++;
        continue;
      } else if (merged.has(pe)) {
        lI++;
      }
    }
    if (rI < rPEs.length) {
      const pe = rPEs[rI];
      merged.add(pe);
      out.push(mergeNode(lByPE.get(pe), rByPE.get(pe), r.item));
      rI++;
      if (next !== undefined && next === pe) next = shared.shift();
    }
  }
  return out;
}

// ---- removal ------------------------------------------------------------------------------

/** A copy of value without the members of `set` (whole subtrees go with a member). */
export function removeItems(value: unknown, set: FieldSet, t: TypeRef): unknown {
  const r = resolveType(t, value);
  if (isLeaf(r, value) || set.isEmpty()) return deepCopy(value);
  if (r.kind === 'map' && isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const pe = fieldPE(r, k);
      if (set.members.has(pe)) continue;
      const sub = set.children.get(pe);
      if (!sub) {
        setOwn(out, k, deepCopy(v));
        continue;
      }
      const nv = removeItems(v, sub, fieldType(r, k));
      // A container emptied by the removal goes too (as omitempty fields vanish upstream).
      if (!isEmptyContainer(v) && isEmptyContainer(nv)) continue;
      setOwn(out, k, nv);
    }
    return out;
  }
  if (r.kind === 'list' && Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) {
      const pe = safePE(r, item);
      if (pe && set.members.has(pe)) continue;
      const sub = pe ? set.children.get(pe) : undefined;
      out.push(sub ? removeItems(item, sub, r.item) : deepCopy(item));
    }
    return out;
  }
  return deepCopy(value);
}
