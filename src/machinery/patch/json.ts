/**
 * RFC 6902 JSON Patch with the semantics of upstream's library (evanphx/json-patch v4): a path
 * must exist up to its last segment, `replace` of a missing object member adds it, negative
 * array indexes count from the end, `test` of a missing member passes against null.
 *
 * Pointers only follow own properties: `/metadata/constructor` names a member called
 * "constructor" (missing unless the object has one) and `__proto__` is an ordinary key, set as
 * an own property, never the object's prototype.
 */
import { deepEqual, ownValue, setOwn } from '../objects.js';
import { PatchError } from './errors.js';

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

type Container = Record<string, unknown> | unknown[];

const VALID_OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/** Upstream's sentinel errors, which end its messages. */
const MISSING = 'missing value';
const INVALID_INDEX = 'invalid index referenced';

/**
 * Applies `ops` to a copy of `obj` and returns the result. Neither input is modified, and the
 * result shares no objects with them. A failed `test` operation is an error.
 */
export function jsonPatch<T = unknown>(obj: T, ops: unknown): T {
  if (!Array.isArray(ops)) {
    throw new PatchError('json patch must be a JSON array of operations');
  }
  ops.forEach(checkOperation);
  let doc: unknown = structuredClone(obj);
  for (const op of ops as JsonPatchOperation[]) doc = applyOperation(doc, op);
  return doc as T;
}

function checkOperation(op: unknown, index: number): void {
  if (op === null || typeof op !== 'object' || Array.isArray(op)) {
    throw new PatchError(`json patch operation ${index} is not an object`);
  }
  const record = op as Record<string, unknown>;
  const name = ownValue(record, 'op');
  if (typeof name !== 'string' || !VALID_OPS.has(name)) {
    throw new PatchError(`Unexpected kind: ${String(name)}`);
  }
  const path = ownValue(record, 'path');
  if (typeof path !== 'string') {
    throw new PatchError(`json patch operation ${index} (${name}) is missing "path"`);
  }
  if ((name === 'move' || name === 'copy') && typeof ownValue(record, 'from') !== 'string') {
    throw new PatchError(`json patch operation ${index} (${name}) is missing "from"`);
  }
  if ((name === 'add' || name === 'replace' || name === 'test') && !Object.hasOwn(record, 'value')) {
    throw new PatchError(`json patch operation ${index} (${name}) is missing "value"`);
  }
}

/** Applies one operation to doc (in place where it can) and returns the document. */
function applyOperation(doc: unknown, op: JsonPatchOperation): unknown {
  const { path } = op;
  switch (op.op) {
    case 'add': {
      const at = locate(doc, path);
      if (!at) throw missing(`add operation does not apply: doc is missing path: "${path}"`);
      insert(at, structuredClone(op.value), `error in add for path: '${path}'`);
      return doc;
    }
    case 'remove': {
      const at = locate(doc, path);
      if (!at) throw missing(`remove operation does not apply: doc is missing path: "${path}"`);
      remove(at, `error in remove for path: '${path}'`);
      return doc;
    }
    case 'replace': {
      if (path === '') {
        if (op.value === null || typeof op.value !== 'object')
          throw new PatchError('replace operation value must be object or array');
        return structuredClone(op.value);
      }
      const at = locate(doc, path);
      if (!at) throw missing(`replace operation does not apply: doc is missing path: ${path}`);
      if (Array.isArray(at.container)) {
        const i = existingIndex(at.container, at.key);
        if (i === undefined) throw missing(`replace operation does not apply: doc is missing key: ${path}`);
        at.container[i] = structuredClone(op.value);
      } else {
        setOwn(at.container, at.key, structuredClone(op.value));
      }
      return doc;
    }
    case 'move': {
      const from = op.from!;
      const source = locate(doc, from);
      if (!source) throw missing(`move operation does not apply: doc is missing from path: ${from}`);
      const value = read(source, `error in move for path: '${source.key}'`);
      remove(source, `error in move for path: '${source.key}'`);
      const at = locate(doc, path);
      if (!at) throw missing(`move operation does not apply: doc is missing destination path: ${path}`);
      insert(at, value, `error in move for path: '${path}'`);
      return doc;
    }
    case 'copy': {
      const from = op.from!;
      const source = locate(doc, from);
      if (!source) throw missing(`copy operation does not apply: doc is missing from path: ${from}`);
      const value = read(source, `error in copy for from: '${from}'`);
      const at = locate(doc, path);
      if (!at) throw missing(`copy operation does not apply: doc is missing destination path: ${path}`);
      insert(at, value === undefined ? null : structuredClone(value), 'error while adding value during copy');
      return doc;
    }
    case 'test': {
      let actual: unknown = doc;
      if (path !== '') {
        const at = locate(doc, path);
        if (!at) throw missing(`test operation does not apply: is missing path: ${path}`);
        actual = read(at, `error in test for path: '${path}'`);
      }
      // A missing member tests equal to null, as upstream.
      if (!deepEqual(actual ?? null, op.value))
        throw new PatchError(`testing value ${path} failed: test failed`, 'Invalid');
      return doc;
    }
  }
}

/** Where a pointer ends: the container of its last segment and that segment (unescaped). */
interface Location {
  container: Container;
  key: string;
}

/** Follows every segment but the last through existing members; undefined when one is missing. */
function locate(doc: unknown, pointer: string): Location | undefined {
  const segments = pointer.split('/');
  if (segments.length < 2) return undefined;
  let current: unknown = doc;
  for (let i = 1; i < segments.length - 1; i++) {
    current = childOf(current, unescape(segments[i]));
    if (current === null || typeof current !== 'object') return undefined;
  }
  if (current === null || typeof current !== 'object') return undefined;
  return { container: current as Container, key: unescape(segments[segments.length - 1]) };
}

function unescape(segment: string): string {
  return segment.includes('~') ? segment.replaceAll('~1', '/').replaceAll('~0', '~') : segment;
}

function childOf(container: unknown, key: string): unknown {
  if (container === null || typeof container !== 'object') return undefined;
  if (Array.isArray(container)) {
    const i = existingIndex(container, key);
    return i === undefined ? undefined : container[i];
  }
  return ownValue(container, key);
}

/** An index as Go's strconv.Atoi reads it ("+1", "-1", "007"), or undefined. */
function parseIndex(key: string): number | undefined {
  return /^[+-]?\d+$/.test(key) ? Number(key) : undefined;
}

/** The position an index names in a list (negative ones count from the end), if it exists. */
function existingIndex(list: unknown[], key: string): number | undefined {
  const n = parseIndex(key);
  if (n === undefined) return undefined;
  const i = n < 0 ? n + list.length : n;
  return i >= 0 && i < list.length ? i : undefined;
}

function read(at: Location, context: string): unknown {
  if (!Array.isArray(at.container)) return ownValue(at.container, at.key);
  const i = existingIndex(at.container, at.key);
  if (i === undefined) throw badIndex(context, at.key);
  return at.container[i];
}

function insert(at: Location, value: unknown, context: string): void {
  const { container, key } = at;
  if (!Array.isArray(container)) {
    setOwn(container, key, value);
    return;
  }
  if (key === '-') {
    container.push(value);
    return;
  }
  const n = parseIndex(key);
  if (n === undefined)
    throw new PatchError(`${context}: value was not a proper array index: '${key}': ${atoiError(key)}`);
  // Inserting may also append: the list is one longer afterwards.
  const size = container.length + 1;
  if (n >= size || n < -size) throw badIndex(context, key);
  container.splice(n < 0 ? n + size : n, 0, value);
}

function remove(at: Location, context: string): void {
  const { container, key } = at;
  if (!Array.isArray(container)) {
    if (!Object.hasOwn(container, key)) throw missing(`${context}: Unable to remove nonexistent key: ${key}`);
    delete container[key];
    return;
  }
  const i = existingIndex(container, key);
  if (i === undefined) throw badIndex(context, key);
  container.splice(i, 1);
}

function missing(message: string): PatchError {
  return new PatchError(`${message}: ${MISSING}`);
}

/** A list index that is not a number (Go's strconv error) or out of range. */
function badIndex(context: string, key: string): PatchError {
  const n = parseIndex(key);
  if (n === undefined) return new PatchError(`${context}: ${atoiError(key)}`);
  return new PatchError(`${context}: Unable to access invalid index: ${n}: ${INVALID_INDEX}`);
}

function atoiError(key: string): string {
  return `strconv.Atoi: parsing ${JSON.stringify(key)}: invalid syntax`;
}
