// The managedFields member of stored JSON texts, kept once for every version that has the same
// one. Objects written by one manager in the same second have byte-identical managedFields (the
// same manager, operation, apiVersion, time and field set): 100,000 ConfigMaps created by one
// client held ≈ 25 MiB of identical copies of it in the watch cache. The cache keeps each
// version's text without that member (`body`) plus where it goes (`cut`) and the member's text,
// interned by content; the whole text is put together again for a reader (`joinText`), byte for
// byte what was stored.
//
// V8 keeps a substring as a view of its parent and a concatenation as a pair of its parts: the
// body and the interned text are made flat copies (`detached`), so that neither keeps the whole
// text it was cut from alive.

import { setOwn } from '../machinery/objects.js';

const MEMBER = '"managedFields":[';
const METADATA = '"metadata":{';

/** Distinct texts kept for interning at most: the oldest is forgotten first (its users keep it). */
const MAX_INTERNED = 4096;

/** Texts shorter than this are not worth splitting (a body and a reference cost about as much). */
const MIN_MEMBER_LENGTH = 64;

const interned = new Map<string, string>();

/** `a + b` as one flat string of its own (not a pair of views of what a and b are cut from). */
function detached(a: string, b: string): string {
  // An empty part would make the other part itself the result: cut it in two instead.
  if (a.length === 0 || b.length === 0) {
    const whole = a || b;
    if (whole.length < 2) return whole;
    a = whole.slice(0, 1);
    b = whole.slice(1);
  }
  const s = a + b;
  // Reading a character flattens a concatenation in place into a new flat string; the parts (and
  // the text they are views of) are no longer referenced by it.
  s.charCodeAt(0);
  return s;
}

/** A flat copy of `text` that keeps no longer text alive (`text` may be a view of one). */
export function ownCopy(text: string): string {
  return detached(text, '');
}

/** One copy of `text` (a view of a longer text) shared by every caller with the same content. */
function intern(text: string): string {
  const known = interned.get(text);
  if (known !== undefined) return known;
  const own = ownCopy(text);
  if (interned.size >= MAX_INTERNED) interned.delete(interned.keys().next().value!);
  interned.set(own, own);
  return own;
}

/** Index just past the JSON value (array or object) starting at `at`, or -1 if it does not end. */
function valueEnd(json: string, at: number): number {
  let depth = 0;
  for (let i = at; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Skip the string, escapes included.
      for (i++; i < json.length; i++) {
        const d = json.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) depth++;
    else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

export interface SplitText {
  /** The text without the managedFields member (and one comma next to it). */
  readonly body: string;
  /** Where in `body` the member goes back. */
  readonly cut: number;
  /** The member's text (with its comma), shared by every text that has the same one. */
  readonly member: string;
}

/**
 * A stored object's JSON text cut into its managedFields member (interned) and the rest; undefined
 * when it has none (or too short a one to be worth it). Stored values have metadata near their
 * start (spliceResourceVersion relies on it too) and managedFields in it: the first
 * `"managedFields":[` after `"metadata":{` is taken. Whatever it turns out to be, joinText gives
 * back exactly `json`: the same characters are cut out and put back at the same place.
 */
export function splitManagedFields(json: string): SplitText | undefined {
  const meta = json.indexOf(METADATA);
  if (meta < 0 || meta > 200) return undefined;
  const at = json.indexOf(MEMBER, meta);
  if (at < 0) return undefined;
  let end = valueEnd(json, at + MEMBER.length - 1);
  if (end < 0 || end - at < MIN_MEMBER_LENGTH) return undefined;
  // The member leaves with one comma: the one before it, or else the one after it.
  let start = at;
  if (json.charCodeAt(at - 1) === 0x2c /* , */) start--;
  else if (json.charCodeAt(end) === 0x2c) end++;
  return {
    body: detached(json.slice(0, start), json.slice(end)),
    cut: start,
    member: intern(json.slice(start, end)),
  };
}

/** The whole text again (see splitManagedFields). */
export function joinText(body: string, cut: number, member: string | undefined): string {
  return member === undefined ? body : body.slice(0, cut) + member + body.slice(cut);
}

/** How many distinct member texts are interned now (tests). */
export function internedCount(): number {
  return interned.size;
}

// ---- parsed metadata ------------------------------------------------------------------------------
//
// The watch cache keeps each live version's metadata parsed (without managedFields). Parts of it
// repeat across objects: the pods of one ReplicaSet have the same labels and owner reference, and
// objects created in the same second the same creationTimestamp. JSON.parse shares only strings of
// up to 10 characters; the rest is one copy per object. The cache's own metadata copy takes the
// shared instance of these parts instead (frozen: it is handed to informers frozen anyway).

/** Parts kept for sharing at most, per table; the oldest is forgotten first. */
const MAX_SHARED_PARTS = 8192;

/** Longest JSON text of a part worth sharing (the table keeps the text as its key). */
const MAX_PART_TEXT = 1024;

const strings = new Map<string, string>();
const parts = new Map<string, unknown>();

function remember<V>(table: Map<string, V>, key: string, value: V): V {
  if (table.size >= MAX_SHARED_PARTS) table.delete(table.keys().next().value!);
  table.set(key, value);
  return value;
}

function sharedString(s: string): string {
  // JSON.parse already shares strings of up to 10 characters.
  if (s.length <= 10) return s;
  return strings.get(s) ?? remember(strings, s, s);
}

function frozenCopy(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return Object.freeze(v.map(frozenCopy));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) setOwn(out, k, frozenCopy((v as Record<string, unknown>)[k]));
  return Object.freeze(out);
}

function sharedPart(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  const text = JSON.stringify(v);
  if (text.length > MAX_PART_TEXT) return v;
  const known = parts.get(text);
  // The object's own parsed copy keeps its part; the cache's metadata takes a frozen one.
  return known !== undefined ? known : remember(parts, text, frozenCopy(v));
}

const SHARED_STRINGS = ['namespace', 'creationTimestamp', 'generateName'] as const;
const SHARED_PARTS = ['labels', 'annotations', 'ownerReferences', 'finalizers'] as const;

/**
 * Replaces, in `meta` (a metadata object of the caller's own, not yet handed out), repeated
 * strings and parts by one shared instance each. Values are equal before and after; the parts
 * become frozen.
 */
export function shareMetadataParts(meta: Record<string, unknown>): void {
  for (const k of SHARED_STRINGS) {
    const v = meta[k];
    if (typeof v === 'string') meta[k] = sharedString(v);
  }
  for (const k of SHARED_PARTS) {
    const v = meta[k];
    if (v !== undefined) meta[k] = sharedPart(v);
  }
}
