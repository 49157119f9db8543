// Upstream's `null`s: the list, map and pointer fields Go's encoder writes as `null` when unset
// (niltable.ts, generated from the Go types), filled into a built-in object the way
// kube-apiserver's decode-then-encode puts them there. A field that is present (`[]`, `{}`, a
// value) is kept as it is: Go decodes `[]` to an empty, non-nil slice, which encodes as `[]`.
// The walk follows the wire table's message types, into present objects only: a missing value
// struct (which Go would write as `{}`) is not created here (api/zerovalues.ts has the ones
// clients depend on).
import { MESSAGES } from './wiretable.js';
import { NIL_FIELDS } from './niltable.js';
import { messageFor } from './codec.js';

type Shape = 'one' | 'list' | 'map' | 'inline';

interface Walk {
  /** Fields written as null when unset. */
  nil: string[];
  /** Fields holding messages that (transitively) have such fields. */
  children: [json: string, message: string, shape: Shape][];
}

/** The message type of a field row's type, and how the field holds it. */
function childOf(type: string, flags: string): [string, Shape] | undefined {
  const map = /^map<\w+,(.+)>$/.exec(type);
  const name = map ? map[1] : type;
  if (!Object.hasOwn(MESSAGES, name) || MESSAGES[name].w) return undefined;
  return [name, map ? 'map' : flags.includes('i') ? 'inline' : flags.includes('r') ? 'list' : 'one'];
}

/** Messages with a nil field somewhere below them: the fixpoint over the wire table. */
function relevantMessages(): Set<string> {
  const relevant = new Set(Object.keys(NIL_FIELDS).filter((m) => Object.hasOwn(MESSAGES, m)));
  for (let grew = true; grew;) {
    grew = false;
    for (const [name, row] of Object.entries(MESSAGES)) {
      if (relevant.has(name)) continue;
      if (row.f.some(([, , type, flags]) => relevant.has(childOf(type, flags)?.[0] ?? ''))) {
        relevant.add(name);
        grew = true;
      }
    }
  }
  return relevant;
}

let walks: Map<string, Walk> | undefined;

function walkOf(name: string): Walk | undefined {
  if (!walks) {
    walks = new Map();
    const relevant = relevantMessages();
    for (const m of relevant) {
      const nil = NIL_FIELDS[m] ?? {};
      const children: Walk['children'] = [];
      for (const [json, , type, flags] of MESSAGES[m].f) {
        const child = childOf(type, flags);
        if (child && relevant.has(child[0])) children.push([json, ...child]);
      }
      walks.set(m, { nil: Object.keys(nil), children });
    }
  }
  return walks.get(name);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fill(obj: Record<string, unknown>, w: Walk): void {
  // A frozen part (deeply frozen, see deepFreeze) is a stored object's, filled when it was
  // written and never to be changed: a status write shares the spec of the version it replaces.
  if (Object.isFrozen(obj)) return;
  for (const f of w.nil) if (obj[f] === undefined) obj[f] = null;
  for (const [json, name, shape] of w.children) {
    const cw = walks!.get(name)!;
    if (shape === 'inline') {
      fill(obj, cw);
      continue;
    }
    const v = obj[json];
    if (shape === 'one') {
      if (isObject(v)) fill(v, cw);
    } else if (shape === 'list') {
      if (Array.isArray(v)) for (const item of v) if (isObject(item)) fill(item, cw);
    } else if (isObject(v)) {
      for (const item of Object.values(v)) if (isObject(item)) fill(item, cw);
    }
  }
}

/** Does a message (or what it holds) have fields upstream writes as null when unset? */
export function hasNilFields(message: string): boolean {
  return walkOf(message) !== undefined;
}

/** Fill upstream's nulls into a JSON value of `message`, in place. */
export function fillNilFieldsOf(value: unknown, message: string): void {
  const w = walkOf(message);
  if (w && isObject(value)) fill(value, w);
}

/**
 * Fill upstream's nulls into a built-in object (by its apiVersion and kind), in place; objects
 * of other types (custom resources) are left as they are.
 */
export function fillNilFields(obj: unknown): void {
  if (!isObject(obj) || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') return;
  fillNilFieldsAs(obj, obj.apiVersion, obj.kind);
}

/** fillNilFields for an object of (apiVersion, kind) that does not say so itself. */
export function fillNilFieldsAs(obj: Record<string, unknown>, apiVersion: string, kind: string): void {
  const name = messageOf(apiVersion, kind);
  if (name) fillNilFieldsOf(obj, name);
}

/**
 * messageFor's answers (the tables are fixed), by apiVersion and kind: every write asks twice or
 * more. At most MESSAGES_KEPT pairs are kept (objects name any type they like).
 */
const messageNames = new Map<string, Map<string, string | null>>();
let messagesKept = 0;
const MESSAGES_KEPT = 4096;

function messageOf(apiVersion: string, kind: string): string | undefined {
  let byKind = messageNames.get(apiVersion);
  const known = byKind?.get(kind);
  if (known !== undefined) return known ?? undefined;
  const name = messageFor(apiVersion, kind);
  if (messagesKept < MESSAGES_KEPT) {
    if (!byKind) messageNames.set(apiVersion, (byKind = new Map<string, string | null>()));
    byKind.set(kind, name ?? null);
    messagesKept++;
  }
  return name;
}
