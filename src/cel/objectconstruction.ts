// CEL object construction (`Object.spec{replicas: 3}`, `JSONPatch{op: "add", ...}`) for the
// expressions of MutatingAdmissionPolicies. The evaluator has no message literals, so they are
// rewritten to map literals before compiling: each field name becomes a quoted key, and the
// literal is passed to a private function with the type name, which tags the map it returns
// (`objectTypeName`). The result is the JSON the construction denotes, which is what upstream
// makes of it too (an apply configuration or a patch operation); the type names are checked
// against the field paths they sit at (`objectTypeErrors`, upstream's
// CheckTypeNamesMatchFieldPathNames) and the result against the object's schema when applied.
import type { Environment } from '@marcbachmann/cel-js';

/** The private function a construction becomes (user expressions may not name `__k8ts_` functions). */
const OBJECT_FUNCTION = '__k8ts_object';

/** The type names of constructed maps (the maps are the evaluator's own, made per evaluation). */
const typeNames = new WeakMap<object, string>();

export function registerObjectConstruction(env: Environment): void {
  env.registerFunction(`${OBJECT_FUNCTION}(string, dyn): map<string, dyn>`, (name: string, fields: unknown) => {
    // A copy: the evaluator may share one object between evaluations of a constant literal.
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields as Record<string, unknown>))
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    typeNames.set(out, name);
    return out;
  });
}

/** The type name a value was constructed with (`Object.spec`), undefined for anything else. */
export function objectTypeName(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null ? typeNames.get(value) : undefined;
}

/**
 * Upstream's CheckTypeNamesMatchFieldPathNames: a construction under field `f` of one typed
 * `T` must be typed `T.f` (lists and plain maps in between are transparent).
 */
export function objectTypeErrors(value: unknown, path: string = objectTypeName(value) ?? ''): string[] {
  const errs: string[] = [];
  const name = objectTypeName(value);
  if (name !== undefined) {
    if (name !== path)
      errs.push(
        `unexpected type name "${name}", expected "${path}", which matches field name path from root Object type`,
      );
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      errs.push(...objectTypeErrors(v, `${path}.${k}`));
  } else if (Array.isArray(value)) {
    for (const v of value) errs.push(...objectTypeErrors(v, path));
  } else if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) errs.push(...objectTypeErrors(v, path));
  }
  return errs;
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

/** Index just past the string literal starting at `i` (quotes, triple quotes, r/b prefixes). */
function skipString(src: string, i: number): number {
  let j = i;
  let raw = false;
  while (/[rRbB]/.test(src[j])) {
    if (src[j] === 'r' || src[j] === 'R') raw = true;
    j++;
  }
  const quote = src[j];
  const triple = src.startsWith(quote.repeat(3), j);
  const close = triple ? quote.repeat(3) : quote;
  j += close.length;
  while (j < src.length) {
    if (!raw && src[j] === '\\') {
      j += 2;
      continue;
    }
    if (src.startsWith(close, j)) return j + close.length;
    if (!triple && src[j] === '\n') return j;
    j++;
  }
  return j;
}

/** Whether a string literal starts at `i` (a quote, or r/b prefixes followed by one). */
function stringStartsAt(src: string, i: number): boolean {
  let j = i;
  for (let n = 0; n < 2 && /[rRbB]/.test(src[j] ?? ''); n++) j++;
  return src[j] === '"' || src[j] === "'";
}

const skipSpace = (src: string, i: number): number => {
  let j = i;
  while (j < src.length && /\s/.test(src[j])) j++;
  return j;
};

function readIdent(src: string, i: number): number {
  let j = i;
  while (j < src.length && IDENT_PART.test(src[j])) j++;
  return j;
}

/**
 * The expression with every object construction turned into a tagged map literal. Expressions
 * without one come back unchanged.
 */
export function desugarObjectConstruction(src: string): string {
  let out = '';
  // For each open bracket: whether it is an object construction's brace.
  const stack: boolean[] = [];
  // Inside a construction's braces, whether the next token starts a field initializer.
  let atFieldStart = false;
  // The last significant character emitted (a '.' before an identifier continues a selection).
  let previous = '';
  let i = 0;
  while (i < src.length) {
    const ch = src[i];
    if (/\s/.test(ch)) {
      out += ch;
      i++;
      continue;
    }
    if (stringStartsAt(src, i)) {
      const end = skipString(src, i);
      out += src.slice(i, end);
      i = end;
      previous = '"';
      atFieldStart = false;
      continue;
    }
    if (IDENT_START.test(ch)) {
      if (atFieldStart) {
        // A field initializer: `name:` becomes `"name":`.
        const end = readIdent(src, i);
        const colon = skipSpace(src, end);
        if (src[colon] === ':') {
          out += `"${src.slice(i, end)}"`;
          i = end;
          atFieldStart = false;
          previous = '"';
          continue;
        }
      }
      atFieldStart = false;
      // A qualified name not selected from something: a type name if a brace follows.
      const end = readIdent(src, i);
      if (previous !== '.') {
        let j = end;
        for (;;) {
          const dot = skipSpace(src, j);
          if (src[dot] !== '.') break;
          const next = skipSpace(src, dot + 1);
          if (!IDENT_START.test(src[next] ?? '')) break;
          j = readIdent(src, next);
        }
        const brace = skipSpace(src, j);
        if (src[brace] === '{') {
          out += `${OBJECT_FUNCTION}(${JSON.stringify(src.slice(i, brace).replace(/\s/g, ''))}, {`;
          stack.push(true);
          atFieldStart = true;
          previous = '{';
          i = brace + 1;
          continue;
        }
      }
      out += src.slice(i, end);
      previous = 'a';
      i = end;
      continue;
    }
    if (ch === '(' || ch === '[' || ch === '{') stack.push(false);
    else if ((ch === ')' || ch === ']' || ch === '}') && stack.pop() && ch === '}') {
      // The end of a construction: its map literal and the call tagging it.
      out += '})';
      i++;
      atFieldStart = false;
      previous = ')';
      continue;
    } else if (ch === ',' && stack.at(-1) === true) {
      out += ch;
      i++;
      atFieldStart = true;
      previous = ',';
      continue;
    } else if (ch === '?' && atFieldStart) {
      // An optional field initializer (`?name: optionalValue`).
      out += ch;
      i++;
      continue;
    }
    atFieldStart = false;
    out += ch;
    previous = ch;
    i++;
  }
  return out;
}
