/**
 * Strategic merge patch (application side only), following upstream
 * k8s.io/apimachinery/pkg/util/strategicpatch semantics, driven by the OpenAPI patch metadata
 * (x-kubernetes-patch-strategy / x-kubernetes-patch-merge-key) of the target definition.
 *
 * - maps merge recursively; `null` deletes a key; fields the schema does not know merge like a
 *   JSON merge patch (maps merge, lists replace);
 * - lists with strategy "merge" merge by their merge key (lists of objects) or as a set union
 *   (lists of primitives); other lists are replaced;
 * - directives: `$patch: replace|delete` in maps, `$patch: delete|replace` as list elements,
 *   `$retainKeys`, `$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>`.
 *
 * The inputs are deep-copied first; the algorithm then works in place on the copies, which
 * keeps it close to upstream's structure (and so easy to compare when behaviour is in doubt).
 * Keys are data: members are looked up and set as own properties only (ownValue / setOwn), so
 * `constructor` and `__proto__` merge like any other unknown field.
 */
import {
  childSchema,
  itemsSchema,
  resolveRef,
  getDefinition,
  type Definitions,
  type Schema,
} from '../openapi/definitions.js';
import { ownValue, setOwn } from '../objects.js';
import { PatchError } from './errors.js';
import { deepCopy } from '../objects.js';

type JsonMap = Record<string, unknown>;

const DIRECTIVE = '$patch';
const REPLACE = 'replace';
const DELETE = 'delete';
const MERGE = 'merge';
const RETAIN_KEYS = 'retainKeys';
const RETAIN_KEYS_DIRECTIVE = '$retainKeys';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList';
const SET_ELEMENT_ORDER = '$setElementOrder';

export interface StrategicMergeOptions {
  /** Definitions not built in (e.g. CRD schemas); consulted before the built-in ones. */
  extraDefinitions?: Definitions;
}

/** Patch metadata of one field, read from its schema's extensions. */
interface PatchMeta {
  strategies: string[];
  mergeKey: string;
}

/** Schema context: the resolved schema of the current object (undefined = unknown, merge-patch-like). */
interface Ctx {
  schema: Schema | undefined;
  extra: Definitions | undefined;
}

/**
 * Applies strategic merge patch `patch` to `original`. `definitionName` selects the schema
 * (e.g. io.k8s.api.core.v1.Pod); without one, or for fields it does not describe, the patch
 * behaves like a JSON merge patch. Inputs are never modified. Throws PatchError.
 */
export function strategicMergePatch<T = unknown>(
  original: T,
  patch: unknown,
  definitionName?: string,
  options: StrategicMergeOptions = {},
): T {
  if (!isMap(patch)) throw new PatchError('strategic merge patch must be a JSON object');
  const originalMap = original === null || original === undefined ? {} : original;
  if (!isMap(originalMap)) throw new PatchError('strategic merge patch can only be applied to a JSON object');
  const extra = options.extraDefinitions;
  let schema: Schema | undefined;
  if (definitionName) {
    schema = resolveRef(extra?.[definitionName] ?? getDefinition(definitionName), extra);
    if (!schema) throw new PatchError(`no schema found for ${definitionName}`);
  }
  const result = mergeMap(deepCopy(originalMap), deepCopy(patch), { schema, extra });
  return result as T;
}

function isMap(value: unknown): value is JsonMap {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Go-like kind names, used both for type comparison and error messages. */
function kindOf(value: unknown): 'map' | 'slice' | 'null' | 'string' | 'number' | 'bool' {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'slice';
  switch (typeof value) {
    case 'object':
      return 'map';
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    default:
      return 'bool';
  }
}

function show(value: unknown): string {
  return JSON.stringify(value);
}

function noMergeKey(m: unknown, key: string): PatchError {
  return new PatchError(`map: ${show(m)} does not contain declared merge key: ${key}`);
}

function badArgType(expected: string, actual: unknown): PatchError {
  return new PatchError(`expected a ${expected}, but received a ${kindOf(actual)}`);
}

function metaOf(field: Schema | undefined): PatchMeta {
  const strategy = field?.['x-kubernetes-patch-strategy'];
  const mergeKey = field?.['x-kubernetes-patch-merge-key'];
  return {
    strategies: typeof strategy === 'string' && strategy !== '' ? strategy.split(',') : [],
    mergeKey: typeof mergeKey === 'string' ? mergeKey : '',
  };
}

/** Schema and patch metadata for a map-valued field. */
function lookupStruct(ctx: Ctx, key: string): [Ctx, PatchMeta] {
  const field = childSchema(ctx.schema, key, ctx.extra);
  return [{ schema: resolveRef(field, ctx.extra), extra: ctx.extra }, metaOf(field)];
}

/** Element schema and patch metadata for a list-valued field. */
function lookupSlice(ctx: Ctx, key: string): [Ctx, PatchMeta] {
  const field = childSchema(ctx.schema, key, ctx.extra);
  return [{ schema: itemsSchema(field, ctx.extra), extra: ctx.extra }, metaOf(field)];
}

/** Splits "merge,retainKeys" into the retainKeys flag and the remaining strategy. */
function extractRetainKeysStrategy(strategies: string[]): string {
  if (strategies.length === 0) return '';
  if (strategies.length === 1) return strategies[0] === RETAIN_KEYS ? '' : strategies[0];
  if (strategies.length === 2) {
    if (strategies[0] === RETAIN_KEYS) return strategies[1];
    if (strategies[1] === RETAIN_KEYS) return strategies[0];
  }
  throw new PatchError(`unexpected patch strategy: ${strategies.join(',')}`);
}

function mergeMap(original: JsonMap, patch: JsonMap, ctx: Ctx): JsonMap {
  if (DIRECTIVE in patch) {
    const directive = patch[DIRECTIVE];
    if (directive === REPLACE) {
      // Use the patch itself (minus the directive) instead of merging.
      delete patch[DIRECTIVE];
      return patch;
    }
    if (directive === DELETE) return {};
    throw new PatchError(`unknown patch type: ${String(directive)} in map: ${show(patch)}`);
  }

  applyRetainKeysDirective(original, patch);
  mergeSetElementOrderLists(original, patch, ctx);

  for (const rawKey of Object.keys(patch)) {
    const patchV = patch[rawKey];
    let key = rawKey;
    let isDeleteList = false;
    if (rawKey.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
      key = extractKey(rawKey, DELETE_FROM_PRIMITIVE_LIST);
      isDeleteList = true;
      // The directive's value lists the primitives to delete; nothing else is a patch.
      if (!Array.isArray(patchV)) throw new PatchError('invalid patch format of primitive list');
    }

    if (patchV === null) {
      // null deletes the key; unmatched nulls are simply dropped.
      delete original[key];
      continue;
    }

    const originalV = ownValue(original, key);
    if (originalV === undefined) {
      if (!isDeleteList) setWithoutDirectives(original, key, discardNulls(patchV));
      continue;
    }

    const originalKind = kindOf(originalV);
    if (originalKind !== kindOf(patchV)) {
      if (!isDeleteList) setWithoutDirectives(original, key, discardNulls(patchV));
      continue;
    }

    if (originalKind === 'map') {
      const [sub, meta] = lookupStruct(ctx, key);
      const strategy = extractRetainKeysStrategy(meta.strategies);
      setOwn(original, key, strategy === REPLACE ? patchV : mergeMap(originalV as JsonMap, patchV as JsonMap, sub));
    } else if (originalKind === 'slice') {
      const [sub, meta] = lookupSlice(ctx, key);
      const strategy = extractRetainKeysStrategy(meta.strategies);
      setOwn(
        original,
        key,
        mergeSliceHandler(originalV as unknown[], patchV as unknown[], sub, strategy, meta.mergeKey, isDeleteList),
      );
    } else {
      setWithoutDirectives(original, key, patchV);
    }
  }
  return original;
}

function setWithoutDirectives(target: JsonMap, key: string, value: unknown): void {
  const [cleaned, keep] = removeDirectives(value);
  if (keep) setOwn(target, key, cleaned);
  else delete target[key];
}

/** Removes `$patch` maps and directive keys from a value copied in as-is. */
function removeDirectives(value: unknown): [unknown, boolean] {
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) {
      const [cleaned, keep] = removeDirectives(item);
      if (keep) out.push(cleaned);
    }
    return [out, true];
  }
  if (isMap(value)) {
    if (DIRECTIVE in value) return [undefined, false];
    for (const key of Object.keys(value)) {
      const [cleaned, keep] = removeDirectives(value[key]);
      if (keep) value[key] = cleaned;
      else delete value[key];
    }
    return [value, true];
  }
  return [value, true];
}

/** Drops null members anywhere inside a value that has nothing to merge with. */
function discardNulls(value: unknown): unknown {
  if (Array.isArray(value)) {
    value.forEach(discardNulls);
  } else if (isMap(value)) {
    for (const key of Object.keys(value)) {
      if (value[key] === null) delete value[key];
      else discardNulls(value[key]);
    }
  }
  return value;
}

function extractKey(key: string, prefix: string): string {
  const slash = key.indexOf('/');
  if (slash < 0 || key.slice(0, slash) !== prefix) {
    if (prefix === DELETE_FROM_PRIMITIVE_LIST) throw new PatchError('invalid patch format of primitive list');
    throw new PatchError('invalid patch format of setElementOrder list');
  }
  return key.slice(slash + 1);
}

/**
 * `$retainKeys: [...]`: keys of the original not listed are cleared before merging, and the
 * patch may only set listed keys (upstream's check, which catches malformed clients).
 */
function applyRetainKeysDirective(original: JsonMap, patch: JsonMap): void {
  if (!(RETAIN_KEYS_DIRECTIVE in patch)) return;
  const retain = patch[RETAIN_KEYS_DIRECTIVE];
  delete patch[RETAIN_KEYS_DIRECTIVE];
  if (!Array.isArray(retain) || !retain.every((k) => typeof k === 'string'))
    throw new PatchError('invalid patch format of retainKeys');
  const keep = new Set(retain);
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || key.startsWith(DELETE_FROM_PRIMITIVE_LIST) || key.startsWith(SET_ELEMENT_ORDER)) continue;
    if (!keep.has(key)) throw new PatchError('invalid patch format of retainKeys');
  }
  for (const key of Object.keys(original)) {
    if (!keep.has(key)) delete original[key];
  }
}

/**
 * `$setElementOrder/<field>`: merges the field's list (if patched) and orders the result by the
 * directive, then the patch, then the live object. Handled lists are removed from the patch.
 */
function mergeSetElementOrderLists(original: JsonMap, patch: JsonMap, ctx: Ctx): void {
  for (const directiveKey of Object.keys(patch)) {
    if (!directiveKey.startsWith(SET_ELEMENT_ORDER)) continue;
    const order = patch[directiveKey];
    delete patch[directiveKey];
    if (!Array.isArray(order)) throw badArgType('slice', order);
    const key = extractKey(directiveKey, SET_ELEMENT_ORDER);

    const originalList = ownValue(original, key) ?? undefined;
    const patchList = ownValue(patch, key) ?? undefined;
    const foundOriginal = originalList !== undefined;
    const foundPatch = patchList !== undefined;
    if (foundOriginal && !Array.isArray(originalList)) throw badArgType('slice', originalList);
    if (foundPatch && !Array.isArray(patchList)) throw badArgType('slice', patchList);
    const originalItems = (originalList as unknown[] | undefined) ?? [];
    const patchItems = (patchList as unknown[] | undefined) ?? [];

    const [sub, meta] = lookupSlice(ctx, key);
    const strategy = extractRetainKeysStrategy(meta.strategies);
    validatePatchWithSetOrderList(patchItems, order, meta.mergeKey);

    let merged: unknown[];
    if (foundOriginal && !foundPatch) merged = originalItems;
    else if (!foundOriginal && foundPatch) merged = removeDirectives(patchItems)[0] as unknown[];
    else if (foundOriginal && foundPatch) {
      merged = mergeSliceHandler(originalItems, patchItems, sub, strategy, meta.mergeKey, false);
    } else continue;

    const [inOrder, serverOnly] = meta.mergeKey
      ? partitionMapsByPresence(merged, order, meta.mergeKey)
      : partitionPrimitivesByPresence(merged, order);
    const mapKind = elementKind([originalItems, patchItems]) === 'map';
    setOwn(original, key, normalizeElementOrder(inOrder, serverOnly, order, originalItems, meta.mergeKey, mapKind));
    delete patch[key];
  }
}

/** The relative order of patch elements must agree with the $setElementOrder list. */
function validatePatchWithSetOrderList(patchList: unknown[], order: unknown[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const nonDelete = mergeKey ? patchList.filter((v) => !(isMap(v) && v[DIRECTIVE] === DELETE)) : patchList;
  let p = 0;
  let s = 0;
  while (p < nonDelete.length && s < order.length) {
    const item = nonDelete[p];
    if (isMap(item) && DIRECTIVE in item) {
      p++;
      continue;
    }
    if (mergeKeyValueEqual(item, order[s], mergeKey)) p++;
    s++;
  }
  if (p < nonDelete.length && s >= order.length) {
    throw new PatchError(
      `The order in patch list:\n${show(patchList)}\n doesn't match ${SET_ELEMENT_ORDER} list:\n${show(order)}\n`,
    );
  }
}

function mergeKeyValueEqual(left: unknown, right: unknown, mergeKey: string): boolean {
  if (!mergeKey) return left === right;
  if (!isMap(left)) throw badArgType('map', left);
  if (!isMap(right)) throw badArgType('map', right);
  if (!(mergeKey in left)) throw noMergeKey(left, mergeKey);
  if (!(mergeKey in right)) throw noMergeKey(right, mergeKey);
  return left[mergeKey] === right[mergeKey];
}

function mergeSliceHandler(
  original: unknown[],
  patch: unknown[],
  ctx: Ctx,
  strategy: string,
  mergeKey: string,
  isDeleteList: boolean,
): unknown[] {
  // Deletion lists apply whatever the field's strategy; otherwise only "merge" lists merge.
  if (strategy === MERGE || isDeleteList) return mergeSlice(original, patch, ctx, mergeKey, isDeleteList);
  return patch;
}

/** All elements must share one kind, and lists of lists are not supported. */
function elementKind(lists: unknown[][]): string | undefined {
  let kind: string | undefined;
  for (const list of lists) {
    for (const value of list) {
      const k = kindOf(value);
      if (kind === undefined) {
        if (k === 'slice') throw new PatchError('lists of lists are not supported');
        kind = k;
      } else if (k !== kind) {
        throw new PatchError(`list element types are not identical: ${show(lists)}`);
      }
    }
  }
  return kind;
}

function mergeSlice(
  original: unknown[],
  patch: unknown[],
  ctx: Ctx,
  mergeKey: string,
  isDeleteList: boolean,
): unknown[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = elementKind([original, patch]);
  if (kind === undefined) throw new PatchError('no elements in any of the given slices');
  const mapKind = kind === 'map';

  let merged: unknown[];
  let base = original;
  let patchItems = patch;
  if (!mapKind) {
    if (isDeleteList) {
      const remove = new Set(patch);
      return original.filter((v) => !remove.has(v));
    }
    // Set union of primitives.
    merged = [...new Set([...original, ...patch])];
  } else {
    if (!mergeKey) throw new PatchError(`cannot merge lists without merge key for ${ctx.schema?.type ?? 'Struct'}`);
    [base, patchItems] = mergeSliceWithSpecialElements(original, patch, mergeKey);
    merged = mergeSliceWithoutSpecialElements(base, patchItems, mergeKey, ctx);
  }

  const [inPatch, serverOnly] = mergeKey
    ? partitionMapsByPresence(merged, patchItems, mergeKey)
    : partitionPrimitivesByPresence(merged, patchItems);
  return normalizeElementOrder(inPatch, serverOnly, patchItems, base, mergeKey, mapKind);
}

/** Handles `{$patch: delete, <key>: v}` and `{$patch: replace}` list elements. */
function mergeSliceWithSpecialElements(
  original: unknown[],
  patch: unknown[],
  mergeKey: string,
): [unknown[], unknown[]] {
  const plain: unknown[] = [];
  let replace = false;
  // Deleted keys are collected and removed in one pass (a filter per directive is quadratic).
  const deleted = new Set<unknown>();
  for (const item of patch) {
    const element = item as JsonMap;
    if (!(DIRECTIVE in element)) {
      plain.push(item);
      continue;
    }
    const directive = element[DIRECTIVE];
    if (directive === DELETE) {
      if (!(mergeKey in element)) throw noMergeKey(element, mergeKey);
      deleted.add(element[mergeKey]);
    } else if (directive === REPLACE) {
      // Keep scanning so the other directives are pruned from the patch.
      replace = true;
    } else if (directive === MERGE) {
      throw new PatchError('merging lists cannot yet be specified in the patch');
    } else {
      throw new PatchError(`unknown patch type: ${String(directive)} in map: ${show(element)}`);
    }
  }
  if (replace) return [plain, []];
  return [deleted.size ? original.filter((v) => !(isMap(v) && deleted.has(v[mergeKey]))) : original, plain];
}

function mergeSliceWithoutSpecialElements(
  original: unknown[],
  patch: unknown[],
  mergeKey: string,
  ctx: Ctx,
): unknown[] {
  const out = [...original];
  // Position of the first element with each merge key value: a lookup per patch element instead
  // of a scan (quadratic for big lists).
  const at = new Map<unknown, number>();
  out.forEach((v, i) => {
    if (!isMap(v)) throw new PatchError('value for key is not a map');
    if (mergeKey in v && !at.has(v[mergeKey])) at.set(v[mergeKey], i);
  });
  for (const item of patch) {
    const element = item as JsonMap;
    if (!(mergeKey in element)) throw noMergeKey(element, mergeKey);
    const index = at.get(element[mergeKey]);
    if (index !== undefined) out[index] = mergeMap(out[index] as JsonMap, element, ctx);
    else {
      // A new element has nothing to merge with: drop its nulls and directives (upstream keeps
      // them, but its decode into Go structs drops them right after; we store the result as is).
      const [cleaned, keep] = removeDirectives(discardNulls(item));
      if (!keep) continue;
      if (isMap(cleaned) && mergeKey in cleaned && !at.has(cleaned[mergeKey])) at.set(cleaned[mergeKey], out.length);
      out.push(cleaned);
    }
  }
  return out;
}

function partitionPrimitivesByPresence(list: unknown[], by: unknown[]): [unknown[], unknown[]] {
  const present = new Set(by);
  return [list.filter((v) => present.has(v)), list.filter((v) => !present.has(v))];
}

function partitionMapsByPresence(list: unknown[], by: unknown[], mergeKey: string): [unknown[], unknown[]] {
  const present = new Set<unknown>();
  for (const v of by) if (isMap(v) && mergeKey in v) present.add(v[mergeKey]);
  const inBy: unknown[] = [];
  const others: unknown[] = [];
  for (const v of list) {
    if (!isMap(v)) throw badArgType('map', v);
    if (!(mergeKey in v)) throw noMergeKey(v, mergeKey);
    (present.has(v[mergeKey]) ? inBy : others).push(v);
  }
  return [inBy, others];
}

/** Identity of a list element for ordering: its merge key value, or the value itself. */
function identity(item: unknown, mergeKey: string, mapKind: boolean): unknown {
  return mapKind ? (isMap(item) ? item[mergeKey] : undefined) : item;
}

/** Each identity's first position in `list`: indexIn lookups in constant time. */
function positionsIn(list: unknown[], mergeKey: string, mapKind: boolean): Map<unknown, number> {
  const at = new Map<unknown, number>();
  list.forEach((v, i) => {
    const id = identity(v, mergeKey, mapKind);
    if (!at.has(id)) at.set(id, i);
  });
  return at;
}

function indexIn(positions: Map<unknown, number>, item: unknown, mergeKey: string, mapKind: boolean): number {
  return positions.get(identity(item, mergeKey, mapKind)) ?? -1;
}

/** Sorts by position in `order` (stable); `$patch: delete` elements go last. */
function normalizeSliceOrder(toSort: unknown[], order: unknown[], mergeKey: string, mapKind: boolean): unknown[] {
  let items = toSort;
  let deleted: unknown[] = [];
  if (mapKind) {
    for (const v of [...toSort, ...order]) if (!isMap(v) || !(mergeKey in v)) throw noMergeKey(v, mergeKey);
    items = toSort.filter((v) => (v as JsonMap)[DIRECTIVE] !== DELETE);
    deleted = toSort.filter((v) => (v as JsonMap)[DIRECTIVE] === DELETE);
  }
  const positions = positionsIn(order, mergeKey, mapKind);
  const keyed = items.map((v, i) => ({ v, i, at: indexIn(positions, v, mergeKey, mapKind) }));
  keyed.sort((a, b) => (a.at >= 0 && b.at >= 0 ? a.at - b.at : a.i - b.i));
  return [...keyed.map((k) => k.v), ...deleted];
}

/**
 * Interleaves patch items (ordered by `patchOrder`) with server-only items (ordered by the
 * live list), keeping each side's relative order, as upstream's mergeSortedSlice does.
 */
function normalizeElementOrder(
  patchItems: unknown[],
  serverOnly: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  mergeKey: string,
  mapKind: boolean,
): unknown[] {
  const right = normalizeSliceOrder(patchItems, patchOrder, mergeKey, mapKind);
  const left = normalizeSliceOrder(serverOnly, serverOrder, mergeKey, mapKind);
  const serverPositions = positionsIn(serverOrder, mergeKey, mapKind);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = indexIn(serverPositions, left[i], mergeKey, mapKind);
      const ri = indexIn(serverPositions, right[j], mergeKey, mapKind);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}
