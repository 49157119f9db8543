import { compareStrings } from '../order.js';
// Sets of field paths, the unit of field ownership in server-side apply, in the manner of
// sigs.k8s.io/structured-merge-diff's fieldpath.Set: a tree whose nodes hold the path elements
// that are members (owned) and the child sets below path elements. Path elements are kept in
// their FieldsV1 spelling: `f:<name>` (struct field or map key), `k:<json object>` (an element
// of an associative list, by its keys), `v:<json>` (an element of a set), `i:<n>` (an index).

export type PathElement = string;
export type Path = PathElement[];

export class FieldSetError extends Error {}

/**
 * Decoded sets, shared: every write decodes the managedFields of the object it replaces (parsed
 * again from the stored JSON text, or sent back in a PUT body) and of the request, and most of
 * those sets are ones seen before: the previous version's, or another object's (every node's
 * Lease has the kubelet's same set, every pod of a ReplicaSet the controller's). Found by their
 * FieldsV1 text, the most recently used kept; or, for a frozen FieldsV1 object (a stored object
 * still parsed, or an encoding made here), by that object.
 */
const decodedFrozen = new WeakMap<object, FieldSet>();
const decodedByText = new Map<string, FieldSet>();
const DECODED_BY_TEXT_MAX = 4096;
/** FieldsV1 text longer than this is decoded each time (one object's big set is rarely another's). */
const DECODED_TEXT_MAX_LENGTH = 8192;

export class FieldSet {
  readonly members = new Set<PathElement>();
  readonly children = new Map<PathElement, FieldSet>();
  /**
   * Set on a shared set (every decoded one: other writes may hold it too), which must not change.
   * Holds its frozen encoding once one was made.
   */
  private shared?: { encoded?: Readonly<Record<string, unknown>> };

  static of(...paths: Path[]): FieldSet {
    const s = new FieldSet();
    for (const p of paths) s.insert(p);
    return s;
  }

  isEmpty(): boolean {
    if (this.members.size) return false;
    for (const c of this.children.values()) if (!c.isEmpty()) return false;
    return true;
  }

  insert(path: Path): void {
    this.assertOwned();
    if (!path.length) return;
    const node = path.slice(0, -1).reduce<FieldSet>((n, pe) => n.child(pe), this);
    node.members.add(path[path.length - 1]);
  }

  /** The child set below a path element, created on demand. */
  child(pe: PathElement): FieldSet {
    let c = this.children.get(pe);
    if (!c) {
      c = new FieldSet();
      this.children.set(pe, c);
    }
    return c;
  }

  has(path: Path): boolean {
    if (!path.length) return false;
    if (path.length === 1) return this.members.has(path[0]);
    let node = this.children.get(path[0]);
    for (let i = 1; i < path.length - 1 && node; i++) node = node.children.get(path[i]);
    return node?.members.has(path[path.length - 1]) ?? false;
  }

  /** The set below one path element (empty when there is none). */
  withPrefix(pe: PathElement): FieldSet {
    return this.children.get(pe) ?? new FieldSet();
  }

  clone(): FieldSet {
    const s = new FieldSet();
    for (const m of this.members) s.members.add(m);
    for (const [k, c] of this.children) s.children.set(k, c.clone());
    return s;
  }

  union(o: FieldSet): FieldSet {
    const s = this.clone();
    for (const m of o.members) s.members.add(m);
    for (const [k, c] of o.children) {
      const mine = s.children.get(k);
      s.children.set(k, mine ? mine.union(c) : c.clone());
    }
    return s;
  }

  intersection(o: FieldSet): FieldSet {
    const s = new FieldSet();
    for (const m of this.members) if (o.members.has(m)) s.members.add(m);
    for (const [k, c] of this.children) {
      const theirs = o.children.get(k);
      if (!theirs) continue;
      const i = c.intersection(theirs);
      if (!i.isEmpty()) s.children.set(k, i);
    }
    return s;
  }

  /** Members of this set that are not members of `o` (children compared recursively). */
  difference(o: FieldSet): FieldSet {
    return this.clone().subtract(o);
  }

  /** Like difference, but a member of `o` also removes everything below it. */
  recursiveDifference(o: FieldSet): FieldSet {
    return this.clone().subtractRecursive(o);
  }

  /** difference in place, for sets nothing else refers to: saves the copy. Returns this. */
  subtract(o: FieldSet): this {
    this.assertOwned();
    for (const m of o.members) this.members.delete(m);
    for (const [k, theirs] of o.children) this.subtractBelow(k, theirs, false);
    return this;
  }

  /** recursiveDifference in place. Returns this. */
  subtractRecursive(o: FieldSet): this {
    this.assertOwned();
    for (const m of o.members) {
      this.members.delete(m);
      this.children.delete(m);
    }
    for (const [k, theirs] of o.children) this.subtractBelow(k, theirs, true);
    return this;
  }

  private subtractBelow(pe: PathElement, theirs: FieldSet, recursive: boolean): void {
    const mine = this.children.get(pe);
    if (!mine) return;
    if (recursive) mine.subtractRecursive(theirs);
    else mine.subtract(theirs);
    if (mine.isEmpty()) this.children.delete(pe);
  }

  /** Every member path, members of a node before its children, in FieldsV1 order. */
  paths(prefix: Path = []): Path[] {
    const out: Path[] = [];
    for (const m of sortPathElements([...this.members])) out.push([...prefix, m]);
    for (const k of sortPathElements([...this.children.keys()]))
      out.push(...this.children.get(k)!.paths([...prefix, k]));
    return out;
  }

  private assertOwned(): void {
    if (this.shared) throw new Error('FieldSet: a shared set cannot be changed (clone it first)');
  }

  /** Whether every member path of this set is one of `o`. */
  isSubsetOf(o: FieldSet): boolean {
    if (this === o) return true;
    for (const m of this.members) if (!o.members.has(m)) return false;
    for (const [k, c] of this.children) {
      const theirs = o.children.get(k);
      if (theirs ? !c.isSubsetOf(theirs) : !c.isEmpty()) return false;
    }
    return true;
  }

  equals(o: FieldSet): boolean {
    return this.difference(o).isEmpty() && o.difference(this).isEmpty();
  }

  /**
   * The FieldsV1 JSON form. A shared set's is made once, frozen, and handed to every write that
   * keeps the set unchanged (decoding it again finds this set).
   */
  toFieldsV1(): Readonly<Record<string, unknown>> {
    if (this.shared?.encoded) return this.shared.encoded;
    const out: Record<string, unknown> = {};
    this.encodeInto(out);
    if (!this.shared) return out;
    this.shared.encoded = deepFreeze(out);
    decodedFrozen.set(out, this);
    return out;
  }

  /**
   * Writes the FieldsV1 entries of this set into `out`, keys in path element order; returns
   * whether there were any (a set is empty exactly when its encoding is).
   */
  private encodeInto(out: Record<string, unknown>): boolean {
    const keys = [...this.members];
    for (const k of this.children.keys()) if (!this.members.has(k)) keys.push(k);
    sortPathElements(keys);
    let any = false;
    for (const k of keys) {
      const c = this.children.get(k);
      if (this.members.has(k)) {
        // A member with children is marked by a "." entry ahead of theirs.
        const inner: Record<string, unknown> = { '.': {} };
        out[k] = c?.encodeInto(inner) ? inner : {};
        any = true;
      } else {
        const inner: Record<string, unknown> = {};
        if (c!.encodeInto(inner)) {
          out[k] = inner;
          any = true;
        }
      }
    }
    return any;
  }

  /** The set a FieldsV1 object encodes: shared (see `shared`), and perhaps decoded before. */
  static fromFieldsV1(v: unknown): FieldSet {
    if (v === null || typeof v !== 'object') return FieldSet.decode(v);
    const frozen = Object.isFrozen(v);
    if (frozen) {
      const known = decodedFrozen.get(v);
      if (known) return known;
    }
    const text = JSON.stringify(v);
    if (text.length > DECODED_TEXT_MAX_LENGTH) return FieldSet.decode(v).share();
    let s = decodedByText.get(text);
    if (s) {
      // Most recently used last: the first entries are the ones to drop.
      decodedByText.delete(text);
    } else {
      s = FieldSet.decode(v).share();
      if (decodedByText.size >= DECODED_BY_TEXT_MAX) decodedByText.delete(decodedByText.keys().next().value!);
    }
    decodedByText.set(text, s);
    if (frozen) decodedFrozen.set(v, s);
    return s;
  }

  /**
   * Declares this set final, to be shared from now on (it must not change): its encoding is then
   * made once, and decoding that encoding again gives this set. Returns this.
   */
  share(): this {
    if (this.shared) return this;
    this.shared = {};
    for (const c of this.children.values()) c.share();
    return this;
  }

  private static decode(v: unknown): FieldSet {
    const s = new FieldSet();
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      throw new FieldSetError('expected an object in FieldsV1');
    for (const [k, sub] of Object.entries(v)) {
      if (k === '.') continue;
      validatePathElement(k);
      if (sub === null || typeof sub !== 'object' || Array.isArray(sub))
        throw new FieldSetError(`expected an object at ${JSON.stringify(k)} in FieldsV1`);
      const entries = Object.keys(sub);
      if (!entries.length || '.' in sub) s.members.add(k);
      if (entries.some((e) => e !== '.')) {
        const c = FieldSet.decode(sub);
        if (!c.isEmpty()) s.children.set(k, c);
      }
    }
    return s;
  }
}

/** Freezes a FieldsV1 tree (plain objects only) and returns it. */
function deepFreeze<T extends Record<string, unknown>>(o: T): T {
  for (const v of Object.values(o)) deepFreeze(v as Record<string, unknown>);
  return Object.freeze(o);
}

function validatePathElement(k: string): void {
  const kind = k.slice(0, 2);
  const rest = k.slice(2);
  switch (kind) {
    case 'f:':
      return;
    case 'k:':
    case 'v:': {
      let parsed: unknown;
      try {
        parsed = JSON.parse(rest);
      } catch {
        throw new FieldSetError(`invalid path element ${JSON.stringify(k)}`);
      }
      if (kind === 'k:' && (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)))
        throw new FieldSetError(`invalid key in path element ${JSON.stringify(k)}`);
      return;
    }
    case 'i:':
      if (/^\d+$/.test(rest)) return;
  }
  throw new FieldSetError(`unknown path element ${JSON.stringify(k)}`);
}

/** The rank of a path element's kind: f:, k:, v:, i:, then anything else. */
function peRank(pe: PathElement): number {
  if (pe.charCodeAt(1) !== 58 /* : */) return 4;
  switch (pe.charCodeAt(0)) {
    case 102 /* f */:
      return 0;
    case 107 /* k */:
      return 1;
    case 118 /* v */:
      return 2;
    case 105 /* i */:
      return 3;
    default:
      return 4;
  }
}

export function comparePathElements(a: PathElement, b: PathElement): number {
  const ta = peRank(a);
  const tb = peRank(b);
  if (ta !== tb) return ta - tb;
  if (ta === 3) return Number(a.slice(2)) - Number(b.slice(2));
  return compareStrings(a, b);
}

/** Sorts (in place) by comparePathElements. */
function sortPathElements(pes: PathElement[]): PathElement[] {
  if (pes.length < 2) return pes;
  // Elements of one kind other than indexes (nearly always the case) compare as plain strings,
  // which the default sort does without calling back into a comparator.
  const rank = peRank(pes[0]);
  if (rank === 3 || pes.some((pe) => peRank(pe) !== rank)) return pes.sort(comparePathElements);
  return pes.sort();
}

/** Upstream's Path.String(): `.spec.containers[name="nginx"].image`. */
export function pathToString(path: Path): string {
  return path
    .map((pe) => {
      const rest = pe.slice(2);
      switch (pe.slice(0, 2)) {
        case 'f:':
          return `.${rest}`;
        case 'k:': {
          const keys = JSON.parse(rest) as Record<string, unknown>;
          return `[${Object.keys(keys)
            .sort()
            .map((name) => `${name}=${JSON.stringify(keys[name])}`)
            .join(',')}]`;
        }
        case 'v:':
          return `[=${rest}]`;
        case 'i:':
          return `[${rest}]`;
        default:
          return pe;
      }
    })
    .join('');
}

export const fieldPE = (name: string): PathElement => `f:${name}`;
