/**
 * Creating patches (the client side of strategic merge patch), after upstream
 * k8s.io/apimachinery/pkg/util/strategicpatch CreateThreeWayMergePatch and
 * evanphx/json-patch CreateMergePatch, as Helm 3 uses them to upgrade a release's objects:
 *
 * - `createThreeWayMergePatch(original, modified, current)`: the changes from the live object
 *   (`current`) to the new configuration (`modified`), without removing what only the live object
 *   has, plus the removals from the last applied configuration (`original`) to the new one. Fields
 *   someone changed on the live object are reset where the new configuration sets them and kept
 *   where it does not; fields the configuration dropped are removed.
 * - `createMergePatch(original, modified)`: a two-way JSON merge patch (kinds without patch
 *   metadata: custom resources).
 *
 * The patch speaks the directives the server's strategicMergePatch (strategic.ts) applies:
 * `$patch: delete` list elements, `$deleteFromPrimitiveList/`, `$setElementOrder/`, `$retainKeys`.
 */
import { childSchema, getDefinition, itemsSchema, resolveRef, type Schema } from '../openapi/definitions.js';
import { PatchError } from './errors.js';
import { compareStrings } from '../order.js';

type JsonMap = Record<string, unknown>;

const DIRECTIVE = '$patch';
const DELETE = 'delete';
const MERGE = 'merge';
const REPLACE = 'replace';
const RETAIN_KEYS = 'retainKeys';
const RETAIN_KEYS_DIRECTIVE = '$retainKeys';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList';
const SET_ELEMENT_ORDER = '$setElementOrder';

interface DiffOptions {
  /** Leave out keys and list elements `modified` no longer has. */
  ignoreDeletions?: boolean;
  /** Leave out everything but removals. */
  ignoreChangesAndAdditions?: boolean;
  /** Add `$retainKeys` to this map's patch (its field's strategy includes retainKeys). */
  buildRetainKeys?: boolean;
}

/**
 * Helm 3's upgrade patch for an object whose kind has a schema (`definitionName`, e.g.
 * io.k8s.api.apps.v1.Deployment). `{}` means nothing to change.
 */
export function createThreeWayMergePatch(
  original: unknown,
  modified: unknown,
  current: unknown,
  definitionName: string,
): JsonMap {
  const schema = resolveRef(getDefinition(definitionName));
  if (!schema) throw new PatchError(`no schema found for ${definitionName}`);
  const [o, m, c] = [asMap(original), asMap(modified), asMap(current)];
  const delta = diffMaps(c, m, schema, { ignoreDeletions: true });
  const deletions = diffMaps(o, m, schema, { ignoreChangesAndAdditions: true });
  return combinePatches(deletions, delta, schema);
}

/** JSON merge patch turning `original` into `modified` (RFC 7386; lists replaced whole). */
export function createMergePatch(original: unknown, modified: unknown): JsonMap {
  const [o, m] = [asMap(original), asMap(modified)];
  const patch: JsonMap = {};
  for (const [key, mv] of Object.entries(m)) {
    if (!Object.hasOwn(o, key)) patch[key] = mv;
    else if (isMap(o[key]) && isMap(mv)) {
      const sub = createMergePatch(o[key], mv);
      if (Object.keys(sub).length > 0) patch[key] = sub;
    } else if (!deepEqual(o[key], mv)) patch[key] = mv;
  }
  for (const key of Object.keys(o)) if (!Object.hasOwn(m, key)) patch[key] = null;
  return patch;
}

function asMap(v: unknown): JsonMap {
  if (v === null || v === undefined) return {};
  if (!isMap(v)) throw new PatchError('patches can only be created between JSON objects');
  return v;
}

function isMap(v: unknown): v is JsonMap {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Go's reflect kinds of decoded JSON: a change of kind replaces the value. */
function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'slice';
  return typeof v === 'object' ? 'map' : typeof v;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

interface FieldMeta {
  strategies: string[];
  mergeKey: string;
}

function metaOf(field: Schema | undefined): FieldMeta {
  const strategy = field?.['x-kubernetes-patch-strategy'];
  const mergeKey = field?.['x-kubernetes-patch-merge-key'];
  return {
    strategies: typeof strategy === 'string' && strategy !== '' ? strategy.split(',') : [],
    mergeKey: typeof mergeKey === 'string' ? mergeKey : '',
  };
}

/** Upstream's extractRetainKeysPatchStrategy: [retainKeys?, the other strategy]. */
function splitRetainKeys(strategies: string[]): [boolean, string] {
  if (strategies.length === 0) return [false, ''];
  if (strategies.length === 1) return strategies[0] === RETAIN_KEYS ? [true, ''] : [false, strategies[0]];
  if (strategies.length === 2) {
    if (strategies[0] === RETAIN_KEYS) return [true, strategies[1]];
    if (strategies[1] === RETAIN_KEYS) return [true, strategies[0]];
  }
  throw new PatchError(`unexpected patch strategy: ${strategies.join(',')}`);
}

function diffMaps(original: JsonMap, modified: JsonMap, schema: Schema | undefined, opts: DiffOptions): JsonMap {
  const patch: JsonMap = {};
  const retainKeys: string[] = [];
  for (const [key, mv] of Object.entries(modified)) {
    if (opts.buildRetainKeys && mv !== null) retainKeys.push(key);
    if (!Object.hasOwn(original, key)) {
      if (!opts.ignoreChangesAndAdditions) patch[key] = mv;
      continue;
    }
    const ov = original[key];
    if (key === DIRECTIVE) {
      // A directive in the configuration itself is passed on when it differs.
      if (ov !== mv) patch[key] = mv;
      continue;
    }
    if (kindOf(ov) !== kindOf(mv)) {
      if (!opts.ignoreChangesAndAdditions) patch[key] = mv;
      continue;
    }
    if (isMap(ov)) diffMapField(key, ov, mv as JsonMap, patch, schema, opts);
    else if (Array.isArray(ov)) diffSliceField(key, ov, mv as unknown[], patch, schema, opts);
    else if (!opts.ignoreChangesAndAdditions && !deepEqual(ov, mv)) patch[key] = mv;
  }
  if (!opts.ignoreDeletions)
    for (const key of Object.keys(original)) if (!Object.hasOwn(modified, key)) patch[key] = null;
  const dropsFields = Object.entries(original).some(([k, v]) => v !== null && !Object.hasOwn(modified, k));
  if (retainKeys.length > 0 && (Object.keys(patch).length > 0 || dropsFields))
    patch[RETAIN_KEYS_DIRECTIVE] = retainKeys.sort();
  return patch;
}

function diffMapField(
  key: string,
  ov: JsonMap,
  mv: JsonMap,
  patch: JsonMap,
  schema: Schema | undefined,
  opts: DiffOptions,
): void {
  const field = childSchema(schema, key);
  const [retain, strategy] = splitRetainKeys(metaOf(field).strategies);
  if (strategy === REPLACE) {
    if (!opts.ignoreChangesAndAdditions) patch[key] = mv;
    return;
  }
  const sub = diffMaps(ov, mv, resolveRef(field), { ...opts, buildRetainKeys: retain });
  if (Object.keys(sub).length > 0) patch[key] = sub;
}

function diffSliceField(
  key: string,
  ov: unknown[],
  mv: unknown[],
  patch: JsonMap,
  schema: Schema | undefined,
  opts: DiffOptions,
): void {
  const field = childSchema(schema, key);
  const meta = metaOf(field);
  const [, strategy] = splitRetainKeys(meta.strategies);
  if (strategy !== MERGE) {
    if (!opts.ignoreChangesAndAdditions && !deepEqual(ov, mv)) patch[key] = mv;
    return;
  }
  const elementOpts = { ...opts, buildRetainKeys: meta.strategies.length === 2 };
  const { add, remove, order } = diffLists(ov, mv, itemsSchema(field), meta.mergeKey, elementOpts);
  if (add.length > 0) patch[key] = add;
  if (remove.length > 0) patch[`${DELETE_FROM_PRIMITIVE_LIST}/${key}`] = remove;
  if (order.length > 0) patch[`${SET_ELEMENT_ORDER}/${key}`] = order;
}

/** Go's %v of a merge key or scalar, the text both lists are sorted and matched by. */
function scalarText(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function elementKind(a: unknown[], b: unknown[]): string {
  const first = a.length > 0 ? a[0] : b[0];
  return kindOf(first);
}

function diffLists(
  original: unknown[],
  modified: unknown[],
  schema: Schema | undefined,
  mergeKey: string,
  opts: DiffOptions,
): { add: unknown[]; remove: unknown[]; order: unknown[] } {
  const kind = elementKind(original, modified);
  if (kind === 'slice') throw new PatchError('lists of lists are not supported');
  if (kind === 'map') {
    const { patch, deletions } = diffListsOfMaps(original as JsonMap[], modified as JsonMap[], schema, mergeKey, opts);
    const add = [...inModifiedOrder(patch, modified, (e) => scalarText((e as JsonMap)[mergeKey])), ...deletions];
    const sameOrder =
      original.length === modified.length &&
      original.every((e, i) => scalarText((e as JsonMap)[mergeKey]) === scalarText((modified[i] as JsonMap)[mergeKey]));
    const order =
      (!opts.ignoreChangesAndAdditions && (add.length > 0 || !sameOrder)) || (!opts.ignoreDeletions && add.length > 0)
        ? modified.map((e) => ({ [mergeKey]: (e as JsonMap)[mergeKey] }))
        : [];
    return { add, remove: [], order };
  }
  const { add, remove } = diffListsOfScalars(original, modified, opts);
  const order =
    (!opts.ignoreDeletions && remove.length > 0) || (!opts.ignoreChangesAndAdditions && !deepEqual(original, modified))
      ? modified
      : [];
  return { add: inModifiedOrder(add, modified, scalarText), remove, order };
}

/** upstream normalizeSliceOrder: patch elements in the order `modified` has them. */
function inModifiedOrder(list: unknown[], modified: unknown[], text: (e: unknown) => string): unknown[] {
  const index = new Map<string, number>();
  modified.forEach((e, i) => {
    const t = text(e);
    if (!index.has(t)) index.set(t, i);
  });
  return [...list].sort((a, b) => (index.get(text(a)) ?? Infinity) - (index.get(text(b)) ?? Infinity));
}

function byText<T>(list: T[], text: (e: T) => string): T[] {
  return [...list].sort((a, b) => compareStrings(text(a), text(b)));
}

function diffListsOfMaps(
  original: JsonMap[],
  modified: JsonMap[],
  schema: Schema | undefined,
  mergeKey: string,
  opts: DiffOptions,
): { patch: JsonMap[]; deletions: JsonMap[] } {
  const keyOf = (e: JsonMap): string => {
    if (!isMap(e) || !Object.hasOwn(e, mergeKey))
      throw new PatchError(`map: ${JSON.stringify(e)} does not contain declared merge key: ${mergeKey}`);
    return scalarText(e[mergeKey]);
  };
  const os = byText(original, keyOf);
  const ms = byText(modified, keyOf);
  const patch: JsonMap[] = [];
  const deletions: JsonMap[] = [];
  let [i, j] = [0, 0];
  while (i < os.length || j < ms.length) {
    const ok = i < os.length ? keyOf(os[i]) : undefined;
    const mk = j < ms.length ? keyOf(ms[j]) : undefined;
    if (ok !== undefined && mk !== undefined && ok === mk) {
      const sub = diffMaps(os[i], ms[j], schema, opts);
      if (Object.keys(sub).length > 0) patch.push({ ...sub, [mergeKey]: ms[j][mergeKey] });
      i++;
      j++;
    } else if (ok === undefined || (mk !== undefined && ok > mk)) {
      if (!opts.ignoreChangesAndAdditions) patch.push(ms[j]);
      j++;
    } else {
      if (!opts.ignoreDeletions) deletions.push({ [mergeKey]: os[i][mergeKey], [DIRECTIVE]: DELETE });
      i++;
    }
  }
  return { patch, deletions };
}

function diffListsOfScalars(original: unknown[], modified: unknown[], opts: DiffOptions) {
  const os = byText(original, scalarText);
  const ms = byText(modified, scalarText);
  const add: unknown[] = [];
  const remove: unknown[] = [];
  let [i, j] = [0, 0];
  while (i < os.length || j < ms.length) {
    const ot = i < os.length ? scalarText(os[i]) : undefined;
    const mt = j < ms.length ? scalarText(ms[j]) : undefined;
    if (ot !== undefined && ot === mt) {
      i++;
      j++;
    } else if (ot !== undefined && (mt === undefined || ot < mt)) {
      if (!opts.ignoreDeletions && !remove.some((r) => scalarText(r) === ot)) remove.push(os[i]);
      i++;
    } else {
      if (!opts.ignoreChangesAndAdditions) add.push(ms[j]);
      j++;
    }
  }
  return { add, remove };
}

/**
 * The deletions patch and the additive delta patch as one (upstream merges the delta into the
 * deletions with mergeMap): the two touch different keys except maps and merge lists both
 * descend into, whose elements are joined by merge key; directive lists come from `modified`
 * in both, so either copy serves.
 */
function combinePatches(deletions: JsonMap, delta: JsonMap, schema: Schema | undefined): JsonMap {
  const out: JsonMap = { ...deletions };
  for (const [key, dv] of Object.entries(delta)) {
    const ov = out[key];
    if (!Object.hasOwn(out, key) || kindOf(ov) !== kindOf(dv) || key.startsWith('$')) {
      out[key] = dv;
    } else if (isMap(ov)) {
      out[key] = combinePatches(ov, dv as JsonMap, resolveRef(childSchema(schema, key)));
    } else if (Array.isArray(ov)) {
      const field = childSchema(schema, key);
      const meta = metaOf(field);
      const [, strategy] = splitRetainKeys(meta.strategies);
      out[key] = strategy === MERGE ? joinLists(ov, dv as unknown[], itemsSchema(field), meta.mergeKey) : dv;
    } else out[key] = dv;
  }
  return out;
}

function joinLists(a: unknown[], b: unknown[], schema: Schema | undefined, mergeKey: string): unknown[] {
  const out = [...a];
  for (const e of b) {
    if (isMap(e) && mergeKey) {
      const at = out.findIndex(
        (x) => isMap(x) && x[DIRECTIVE] === undefined && scalarText(x[mergeKey]) === scalarText(e[mergeKey]),
      );
      if (at >= 0) out[at] = combinePatches(out[at] as JsonMap, e, schema);
      else out.push(e);
    } else if (!out.some((x) => deepEqual(x, e))) out.push(e);
  }
  return out;
}
