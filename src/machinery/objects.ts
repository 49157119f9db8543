// Small structural helpers for JSON-shaped objects.
//
// Keys of these objects come from request data, so lookups go through own properties only:
// `constructor`, `toString`... must read as missing when the object doesn't have them, and
// `__proto__` (which JSON.parse creates as an ordinary own property) must never reach
// Object.prototype's accessor, which would read or replace the object's prototype instead.

/** The value of an own property, or undefined: inherited members never count. */
export function ownValue(obj: object, key: string): unknown {
  return Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
}

/**
 * Sets an own data property. `obj[key] = value` would call the `__proto__` setter and replace
 * obj's prototype (or, on an object from `{}`, quietly drop a non-object value).
 */
export function setOwn(obj: object, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else (obj as Record<string, unknown>)[key] = value;
}

/**
 * A shallow copy of `obj` with its member `key` set to `value` (added last when obj has none):
 * what `{ ...obj, [key]: value }` makes, for objects that are frozen afterwards. V8 (Node 20)
 * gives every object made by a spread its own hidden class once it is frozen, sealed or made
 * non-extensible, so code reading such objects — thousands of shared, frozen nodes and pods —
 * goes megamorphic: reading `node.spec` took 20-40 times as long (the scheduler's filters over
 * 5,000 nodes, docs/benchmarks.md). A copy built member by member shares one hidden class.
 */
export function copyWith<T extends object>(obj: T, key: string, value: unknown): T {
  const out: Record<string, unknown> = {};
  let seen = false;
  for (const k in obj) {
    if (!Object.hasOwn(obj, k)) continue;
    if (k === key) {
      seen = true;
      setOwn(out, k, value);
    } else setOwn(out, k, (obj as Record<string, unknown>)[k]);
  }
  if (!seen) setOwn(out, key, value);
  return out as T;
}

/** Structural equality of JSON values; a missing key equals an undefined one. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  // Every defined member of a must equal b's, and b must have no more defined members. An
  // inherited member of b (constructor, toString...) is a function, which equals no JSON value;
  // only __proto__ must be read as an own property (otherwise it is b's prototype).
  let defined = 0;
  for (const k in ao) {
    const av = ao[k];
    if (av === undefined) continue;
    defined++;
    if (!deepEqual(av, k === '__proto__' ? ownValue(bo, k) : bo[k])) return false;
  }
  for (const k in bo) if (bo[k] !== undefined) defined--;
  return defined === 0;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Read a dotted path (".spec.replicas" or "spec.replicas"); only own properties are followed. */
export function getPath(obj: unknown, dotted: string): unknown {
  let cur: unknown = obj;
  for (const part of dotted.replace(/^\./, '').split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = ownValue(cur, part);
  }
  return cur;
}

/** Write a dotted path, creating intermediate objects (own properties only, as getPath). */
export function setPath(obj: any, dotted: string, value: unknown): void {
  const parts = dotted.replace(/^\./, '').split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    let next = ownValue(cur, part);
    if (!isPlainObject(next)) setOwn(cur, part, (next = {}));
    cur = next;
  }
  setOwn(cur, parts[parts.length - 1], value);
}

/**
 * A deep copy of a JSON-shaped value, about ten times faster than structuredClone on API
 * objects (which serializes through V8's value serializer): big objects are copied on every
 * write. As in JSON, object properties whose value is undefined are left out. Own "__proto__"
 * keys (JSON.parse makes them) stay plain data properties. Values that are not plain objects or
 * arrays (a Date, a Map) fall back to structuredClone.
 */
export function deepCopy<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = deepCopy(value[i]);
    return out as T;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) {
    const v = deepCopy((value as Record<string, unknown>)[k]);
    if (v === undefined) continue;
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out as T;
}

/**
 * Freezes a JSON value and everything in it, so that no holder of a shared object can change it
 * for the others (writes throw in strict mode). Children are frozen before their parent, so a
 * frozen object is frozen all the way down: a part already frozen (shared with an earlier
 * version) is not walked again.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) deepFreeze(value[i]);
  } else {
    for (const k in value) if (Object.hasOwn(value, k)) deepFreeze((value as Record<string, unknown>)[k]);
  }
  return Object.freeze(value);
}

/**
 * Objects just parsed from a thread's answer, which nothing else references: the writer they are
 * handed to may keep one instead of copying it (a 1.5 MiB object's copy is tens of milliseconds
 * on the event loop). Taking one clears its mark, so it is taken over once.
 */
const unshared = new WeakSet<object>();

export function markUnshared<T extends object>(obj: T): T {
  unshared.add(obj);
  return obj;
}

/** Whether `obj` was marked unshared (see markUnshared); the mark goes, for passing it on. */
export function takeUnsharedMark(obj: unknown): boolean {
  return typeof obj === 'object' && obj !== null && unshared.delete(obj);
}

/** `value` itself when it was marked unshared (see markUnshared), else a deep copy of it. */
export function takeOrCopy<T>(value: T): T {
  return typeof value === 'object' && value !== null && unshared.delete(value) ? value : deepCopy(value);
}

/**
 * An object as the store keeps it: resourceVersion is the row's revision, never stored inside
 * the value, and metadata comes right after apiVersion and kind (the watch cache splices the
 * resourceVersion in there instead of re-serialising; see cacher.ts).
 */
export function encodeStored(obj: { metadata: Record<string, unknown> } & Record<string, unknown>): string {
  // Already in that form (a create's object, usually): no copies. An own resourceVersion that
  // is undefined is left out by JSON.stringify as the copy leaves it out.
  if (obj.metadata.resourceVersion === undefined) {
    const keys = Object.keys(obj);
    if (keys[0] === 'apiVersion' && keys[1] === 'kind' && keys[2] === 'metadata') return JSON.stringify(obj);
  }
  const { resourceVersion: _rv, ...meta } = obj.metadata;
  const { apiVersion, kind, metadata: _m, ...rest } = obj;
  return JSON.stringify({ apiVersion, kind, metadata: meta, ...rest });
}

/**
 * Lets pending I/O (other requests) run before going on with big work. One setImmediate is not
 * enough: called from an I/O callback (a request body's end, a thread's answer), it runs in the
 * same loop iteration's check phase, before the next poll for I/O; the second one runs after it.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** `namespace/name`, or `name` for cluster-scoped objects (client-go's MetaNamespaceKeyFunc). */
export function keyOf(obj: any): string {
  const m = obj?.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name}` : m.name;
}
