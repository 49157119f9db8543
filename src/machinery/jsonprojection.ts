// Reading a few fields out of a JSON text without parsing all of it. A server-side Table row of a
// pod needs its name, a few timestamps, its status and four fields of its spec, and the pod's
// metadata as it is in the text (PartialObjectMetadata): parsing the whole stored object for that
// (a pod's containers, env, probes and managedFields are most of it) cost more than everything
// else the row does. The scanner walks the text, jumping over strings with indexOf, and hands only
// the projected parts to JSON.parse. Texts that are not JSON throw a SyntaxError (callers fall back
// to JSON.parse of the whole text).

/**
 * Which parts of a value to parse: `true` the whole value; an object the listed members only (of
 * an object value; of each element of an array value; a scalar value is parsed whole).
 */
export type Projection = true | { readonly [member: string]: Projection };

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;

const bad = (at: number): never => {
  throw new SyntaxError(`unexpected JSON text at position ${at}`);
};

function skipSpace(text: string, i: number): number {
  for (let c = text.charCodeAt(i); c === 32 || c === 10 || c === 13 || c === 9; c = text.charCodeAt(++i));
  return i;
}

/** The index just past the string whose opening quote is at `i`. */
function skipString(text: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q < 0) return bad(i);
    // The quote ends the string unless an odd number of backslashes escapes it.
    let b = q - 1;
    while (text.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/** The index just past the JSON value that starts at `i` (no leading space). */
export function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return skipString(text, i);
  if (c === LBRACE || c === LBRACKET) {
    let depth = 0;
    const n = text.length;
    for (let j = i; j < n; j++) {
      const d = text.charCodeAt(j);
      if (d === QUOTE) j = skipString(text, j) - 1;
      else if (d === LBRACE || d === LBRACKET) depth++;
      else if (d === RBRACE || d === RBRACKET) {
        if (--depth === 0) return j + 1;
      }
    }
    return bad(i);
  }
  // A number or literal: up to the next delimiter (JSON.parse checks it when it is kept).
  let j = i;
  for (let d = c; d === d && d !== COMMA && d !== RBRACE && d !== RBRACKET && d > 32; d = text.charCodeAt(++j));
  return j === i ? bad(i) : j;
}

/** A member name: sliced when it has no escapes (nearly always). */
function memberName(text: string, start: number, end: number): string {
  const raw = text.slice(start + 1, end - 1);
  return raw.includes('\\') ? (JSON.parse(text.slice(start, end)) as string) : raw;
}

/** Where a value begins and ends in a text (end exclusive). */
export interface Span {
  start: number;
  end: number;
}

/** The name memberHead read last. */
let headName = '';

/** A member whose name's opening quote is at `i`: reads its name (headName), returns where its value starts. */
function memberHead(text: string, i: number): number {
  if (text.charCodeAt(i) !== QUOTE) return bad(i);
  const nameEnd = skipString(text, i);
  headName = memberName(text, i, nameEnd);
  i = skipSpace(text, nameEnd);
  if (text.charCodeAt(i) !== COLON) return bad(i);
  return skipSpace(text, i + 1);
}

/**
 * Calls `visit(name, start)` for each member of the object that starts at `i`; `visit` returns
 * the index just past the member's value (skipValue when it has no use for it). Returns the index
 * just past the object.
 */
function eachMember(text: string, i: number, visit: (name: string, start: number) => number): number {
  if (text.charCodeAt(i) !== LBRACE) return bad(i);
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === RBRACE) return i + 1;
  for (;;) {
    const start = memberHead(text, i);
    i = skipSpace(text, visit(headName, start));
    const c = text.charCodeAt(i);
    if (c === RBRACE) return i + 1;
    if (c !== COMMA) return bad(i);
    i = skipSpace(text, i + 1);
  }
}

/**
 * The span of the top-level member `name` of the JSON object text, undefined without one. The
 * first such member: texts JSON.stringify made have no repeated members.
 */
export function memberSpan(text: string, name: string): Span | undefined {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== LBRACE) return bad(i);
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === RBRACE) return undefined;
  for (;;) {
    const start = memberHead(text, i);
    const end = skipValue(text, start);
    if (headName === name) return { start, end };
    i = skipSpace(text, end);
    const c = text.charCodeAt(i);
    if (c === RBRACE) return undefined;
    if (c !== COMMA) return bad(i);
    i = skipSpace(text, i + 1);
  }
}

/** The index just past the last value `project` read. */
let projectedEnd = 0;

function projectAt(text: string, i: number, proj: Projection): unknown {
  const c = text.charCodeAt(i);
  if (proj === true || (c !== LBRACE && c !== LBRACKET)) {
    projectedEnd = skipValue(text, i);
    return JSON.parse(text.slice(i, projectedEnd));
  }
  if (c === LBRACKET) {
    const out: unknown[] = [];
    i = skipSpace(text, i + 1);
    if (text.charCodeAt(i) === RBRACKET) {
      projectedEnd = i + 1;
      return out;
    }
    for (;;) {
      out.push(projectAt(text, i, proj));
      i = skipSpace(text, projectedEnd);
      const d = text.charCodeAt(i);
      if (d === RBRACKET) break;
      if (d !== COMMA) return bad(i);
      i = skipSpace(text, i + 1);
    }
    projectedEnd = i + 1;
    return out;
  }
  return projectObject(text, i, proj, undefined);
}

/** A member's span to note while projecting (see project). */
export interface SpanOf {
  readonly member: string;
  span?: Span;
}

function projectObject(
  text: string,
  i: number,
  proj: { readonly [member: string]: Projection },
  note: SpanOf | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const end = eachMember(text, i, (name, start) => {
    if (!Object.hasOwn(proj, name)) {
      const skipped = skipValue(text, start);
      if (name === note?.member) note.span = { start, end: skipped };
      return skipped;
    }
    const value = projectAt(text, start, proj[name]);
    if (name === note?.member) note.span = { start, end: projectedEnd };
    // As JSON.parse: "__proto__" is an own member, never the prototype.
    if (name === '__proto__')
      Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
    else out[name] = value;
    return projectedEnd;
  });
  projectedEnd = end;
  return out;
}

/**
 * The value of a JSON text with only the projected parts parsed: members the projection does not
 * name are left out (`{ spec: { containers: {} } }` gives each container as an empty object, so
 * that their count is known). `note`: a top-level member whose span to note on the way. Throws a
 * SyntaxError for text that is not JSON where it was read.
 */
export function project(text: string, proj: Projection, note?: SpanOf): unknown {
  const start = skipSpace(text, 0);
  const value =
    proj !== true && text.charCodeAt(start) === LBRACE
      ? projectObject(text, start, proj, note)
      : projectAt(text, start, proj);
  if (skipSpace(text, projectedEnd) !== text.length) bad(projectedEnd);
  return value;
}

/** Two projections as one that reads what either reads. */
export function mergeProjections(a: Projection, b: Projection): Projection {
  if (a === true || b === true) return true;
  const out: Record<string, Projection> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = Object.hasOwn(out, k) ? mergeProjections(out[k], v) : v;
  return out;
}
