// Schema-aware operations on objects for server-side apply, after structured-merge-diff's
// typed package: the field set of a value, the comparison of two values, the merge of an
// applied configuration into a live object and the removal of a set of fields.
//
// Types come from OpenAPI schemas. Lists are atomic unless the schema says otherwise:
// x-kubernetes-list-type (map with x-kubernetes-list-map-keys, set) or, for built-in types
// without it, the strategic-merge metadata (patch-merge-key -> map keyed by it, patch-strategy
// merge on scalars -> set). Maps and structs are granular unless x-kubernetes-map-type is
// atomic. Where no schema applies (free-form values) objects are granular maps and lists atomic.
import { resolveRef, type Definitions, type Schema } from '../openapi/definitions.js';
import { deepEqual, isPlainObject } from '../objects.js';
import { FieldSet, type Path, type PathElement } from './fieldset.js';

/** A type: a schema (undefined = free-form) and the definitions its $refs resolve in. */
export interface TypeRef {
  schema: Schema | undefined;
  extra?: Definitions;
}

export class TypedError extends Error {}

type Resolved =
  | { kind: 'scalar' }
  | { kind: 'map'; atomic: boolean; fields?: Record<string, Schema>; elem: Schema | undefined; declaredOnly: boolean }
  | { kind: 'list'; rel: 'atomic' | 'set' | 'map'; keys: string[]; items: Schema | undefined };

const FREE: TypeRef = { schema: undefined };

/** Keys of associative lists that upstream defaults in the schema (`+default=`). */
const KEY_DEFAULTS: Record<string, unknown> = { protocol: 'TCP' };

function ext(field: Schema | undefined, resolved: Schema | undefined, name: string): unknown {
  return field?.[name] ?? resolved?.[name];
}

/** How a value of type `t` is treated (the value decides for free-form types and mismatches). */
function resolveType(t: TypeRef, value: unknown): Resolved {
  const field = t.schema;
  const s = field ? resolveRef(field, t.extra) : undefined;
  const deduced = (): Resolved => {
    if (isPlainObject(value)) return { kind: 'map', atomic: false, elem: undefined, declaredOnly: false };
    if (Array.isArray(value)) return { kind: 'list', rel: 'atomic', keys: [], items: undefined };
    return { kind: 'scalar' };
  };
  if (!s) return deduced();
  if (s['x-kubernetes-int-or-string'] === true || s.format === 'int-or-string') return { kind: 'scalar' };
  const isList = s.type === 'array' || (!s.type && s.items !== undefined);
  const isMap = s.type === 'object' || (!s.type && (s.properties !== undefined || s.additionalProperties !== undefined));
  if (isList) {
    if (value !== undefined && value !== null && !Array.isArray(value)) return { kind: 'scalar' };
    const items = s.items;
    const listType = ext(field, s, 'x-kubernetes-list-type') as string | undefined;
    if (listType === 'map') {
      const keys = (ext(field, s, 'x-kubernetes-list-map-keys') as string[] | undefined) ?? [];
      return { kind: 'list', rel: 'map', keys, items };
    }
    if (listType === 'set') return { kind: 'list', rel: 'set', keys: [], items };
    if (listType === 'atomic') return { kind: 'list', rel: 'atomic', keys: [], items };
    const strategy = String(ext(field, s, 'x-kubernetes-patch-strategy') ?? '');
    if (strategy.split(',').includes('merge')) {
      const mergeKey = ext(field, s, 'x-kubernetes-patch-merge-key') as string | undefined;
      if (mergeKey) return { kind: 'list', rel: 'map', keys: [mergeKey], items };
      const itemSchema = items ? resolveRef(items, t.extra) : undefined;
      const scalarItems = itemSchema && itemSchema.type !== 'object' && itemSchema.type !== 'array' && !itemSchema.properties;
      if (scalarItems) return { kind: 'list', rel: 'set', keys: [], items };
    }
    return { kind: 'list', rel: 'atomic', keys: [], items };
  }
  if (isMap || s['x-kubernetes-preserve-unknown-fields'] === true || s['x-kubernetes-embedded-resource'] === true) {
    if (value !== undefined && value !== null && !isPlainObject(value)) return Array.isArray(value) ? deduced() : { kind: 'scalar' };
    const atomic = ext(field, s, 'x-kubernetes-map-type') === 'atomic';
    const additional = s.additionalProperties;
    const elem = typeof additional === 'object' ? additional : undefined;
    return { kind: 'map', atomic, fields: s.properties, elem, declaredOnly: !!s.properties && additional === undefined && s['x-kubernetes-preserve-unknown-fields'] !== true };
  }
  if (!s.type) return deduced();
  return { kind: 'scalar' };
}

function fieldType(r: Resolved & { kind: 'map' }, key: string, extra: Definitions | undefined): TypeRef {
  const prop = r.fields?.[key];
  if (prop) return { schema: prop, extra };
  if (r.elem) return { schema: r.elem, extra };
  return FREE;
}

function isDeclared(r: Resolved & { kind: 'map' }, key: string): boolean {
  return !!r.fields && Object.prototype.hasOwnProperty.call(r.fields, key);
}

function itemType(r: Resolved & { kind: 'list' }, extra: Definitions | undefined): TypeRef {
  return r.items ? { schema: r.items, extra } : FREE;
}

/** The path element of a list item (associative lists and sets only). */
export function itemPathElement(r: Resolved & { kind: 'list' }, item: unknown, t: TypeRef): PathElement {
  if (r.rel === 'map') {
    if (!isPlainObject(item)) throw new TypedError('associative list with keys may not have non-map elements');
    const key: Record<string, unknown> = {};
    const itemSchema = r.items ? resolveRef(r.items, t.extra) : undefined;
    for (const name of [...r.keys].sort()) {
      if (item[name] !== undefined) key[name] = item[name];
      else {
        const def = itemSchema?.properties?.[name] ? resolveRef(itemSchema.properties[name], t.extra)?.default : undefined;
        if (def !== undefined) key[name] = def;
        else if (KEY_DEFAULTS[name] !== undefined && !t.extra) key[name] = KEY_DEFAULTS[name];
      }
    }
    if (!Object.keys(key).length) {
      throw new TypedError(`associative list with keys has an element that omits all key fields ${JSON.stringify(r.keys)} (and doesn't have default values for any key fields)`);
    }
    return `k:${JSON.stringify(key)}`;
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
      const pe = `f:${k}`;
      const ct = fieldType(r, k, t.extra);
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
    const it = itemType(r, t.extra);
    for (const item of value) {
      const pe = itemPathElement(r, item, t);
      out.members.add(pe);
      const sub = new FieldSet();
      collect(item, it, sub);
      if (!sub.isEmpty()) out.children.set(pe, sub.union(out.children.get(pe) ?? new FieldSet()));
    }
  }
}

/** Checks an applied configuration: associative lists must not hold duplicates. */
export function validateApplied(value: unknown, t: TypeRef, at = ''): void {
  const r = resolveType(t, value);
  if (isLeaf(r, value)) return;
  if (r.kind === 'map' && isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) validateApplied(v, fieldType(r, k, t.extra), `${at}.${k}`);
  } else if (r.kind === 'list' && Array.isArray(value)) {
    const seen = new Set<string>();
    const it = itemType(r, t.extra);
    value.forEach((item, i) => {
      let pe: string;
      try {
        pe = itemPathElement(r, item, t);
      } catch (err) {
        throw new TypedError(`${at}: element ${i}: ${(err as Error).message}`);
      }
      if (seen.has(pe)) throw new TypedError(`${at}: duplicate entries for key ${pe.startsWith('k:') ? keyString(pe) : `[=${pe.slice(2)}]`}`);
      seen.add(pe);
      validateApplied(item, it, `${at}[${i}]`);
    });
  }
}

function keyString(pe: string): string {
  const keys = JSON.parse(pe.slice(2)) as Record<string, unknown>;
  return `[${Object.keys(keys).map((k) => `${k}=${JSON.stringify(keys[k])}`).join(',')}]`;
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
      ct = fieldType(r, name, t.extra);
      child = isPlainObject(value) ? value[name] : undefined;
      if (isDeclared(r, name)) out.members.add(pe);
    } else if (r.kind === 'list') {
      ct = itemType(r, t.extra);
      if (Array.isArray(value)) child = value.find((item) => safePE(r, item, t) === pe);
    }
    const e = ensureNamedFieldsAreMembers(sub, ct, child);
    if (!e.isEmpty()) out.children.set(pe, e);
  }
  return out;
}

function safePE(r: Resolved & { kind: 'list' }, item: unknown, t: TypeRef): string | undefined {
  try {
    return itemPathElement(r, item, t);
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

function isEmptyContainer(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && !v.length) || (isPlainObject(v) && !Object.keys(v).length);
}

function compareNode(l: unknown, r: unknown, t: TypeRef, path: Path, c: Comparison): void {
  const rl = resolveType(t, l === undefined ? r : l);
  const rr = resolveType(t, r === undefined ? l : r);
  const leaf = () => {
    if (!path.length) return;
    if (l === undefined) c.added.insert(path);
    else if (r === undefined) c.removed.insert(path);
    else if (!deepEqual(l, r)) c.modified.insert(path);
  };
  if (rl.kind !== rr.kind || isLeaf(rl, l) || isLeaf(rr, r) || (isEmptyContainer(l) && isEmptyContainer(r))) return leaf();
  if (rr.kind === 'map') {
    const lm = isPlainObject(l) ? l : {};
    const rm = isPlainObject(r) ? r : {};
    const keys = new Set([...Object.keys(lm), ...Object.keys(rm)]);
    for (const k of keys) {
      const lv = lm[k];
      const rv = rm[k];
      if (lv === undefined && rv === undefined) continue;
      compareNode(lv, rv, fieldType(rr, k, t.extra), [...path, `f:${k}`], c);
    }
  } else if (rr.kind === 'list') {
    const it = itemType(rr, t.extra);
    const li = indexItems(rr, Array.isArray(l) ? l : [], t);
    const ri = indexItems(rr, Array.isArray(r) ? r : [], t);
    for (const [pe, rv] of ri) compareNode(li.get(pe), rv, it, [...path, pe], c);
    for (const [pe, lv] of li) if (!ri.has(pe)) compareNode(lv, undefined, it, [...path, pe], c);
  }
  if (path.length) {
    if (l === undefined) c.added.insert(path);
    else if (r === undefined) c.removed.insert(path);
  }
}

function indexItems(r: Resolved & { kind: 'list' }, list: unknown[], t: TypeRef): Map<string, unknown> {
  const out = new Map<string, unknown>();
  list.forEach((item, i) => {
    const pe = safePE(r, item, t) ?? `i:${i}`;
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
  if (r === undefined) return structuredClone(l);
  if (l === undefined) return structuredClone(r);
  const rl = resolveType(t, l);
  const rr = resolveType(t, r);
  if (rl.kind !== rr.kind || isLeaf(rr, r) || isLeaf(rl, l)) return structuredClone(r);
  if (rr.kind === 'map') {
    const lm = l as Record<string, unknown>;
    const rm = r as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(lm)) out[k] = k in rm ? mergeNode(lm[k], rm[k], fieldType(rr, k, t.extra)) : structuredClone(lm[k]);
    for (const k of Object.keys(rm)) if (!(k in lm)) out[k] = structuredClone(rm[k]);
    return out;
  }
  if (rr.kind === 'list') return mergeList(rr, l as unknown[], r as unknown[], t);
  return structuredClone(r);
}

/** Upstream's list merge: rhs order wins for shared items, lhs-only items keep their place. */
function mergeList(r: Resolved & { kind: 'list' }, lhs: unknown[], rhs: unknown[], t: TypeRef): unknown[] {
  const it = itemType(r, t.extra);
  const lPEs = lhs.map((item, i) => safePE(r, item, t) ?? `i:${i}`);
  const rPEs = rhs.map((item) => itemPathElement(r, item, t));
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
      const pe = lPEs[lI]!;
      if (pe === rPEs[rI]) {
        merged.add(pe);
        out.push(mergeNode(lByPE.get(pe), rByPE.get(pe), it));
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
      const pe = lPEs[lI]!;
      if (!rByPE.has(pe)) {
        out.push(structuredClone(lhs[lI]));
        lI++;
        continue;
      } else if (merged.has(pe)) {
        lI++;
      }
    }
    if (rI < rPEs.length) {
      const pe = rPEs[rI]!;
      merged.add(pe);
      out.push(mergeNode(lByPE.get(pe), rByPE.get(pe), it));
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
  if (isLeaf(r, value) || set.isEmpty()) return structuredClone(value);
  if (r.kind === 'map' && isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const pe = `f:${k}`;
      if (set.members.has(pe)) continue;
      const sub = set.children.get(pe);
      if (!sub) {
        out[k] = structuredClone(v);
        continue;
      }
      const nv = removeItems(v, sub, fieldType(r, k, t.extra));
      // A container emptied by the removal goes too (as omitempty fields vanish upstream).
      if (!isEmptyContainer(v) && isEmptyContainer(nv)) continue;
      out[k] = nv;
    }
    return out;
  }
  if (r.kind === 'list' && Array.isArray(value)) {
    const it = itemType(r, t.extra);
    const out: unknown[] = [];
    for (const item of value) {
      const pe = safePE(r, item, t);
      if (pe && set.members.has(pe)) continue;
      const sub = pe ? set.children.get(pe) : undefined;
      out.push(sub ? removeItems(item, sub, it) : structuredClone(item));
    }
    return out;
  }
  return structuredClone(value);
}
