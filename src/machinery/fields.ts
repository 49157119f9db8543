// Field selectors as upstream k8s.io/apimachinery/pkg/fields: comma-separated `field=value`,
// `field==value` and `field!=value` terms; values escape `\`, `,` and `=` with a backslash.
// An absent field reads as the empty string, as upstream's fields.Set.Get.
import { badRequest } from './errors.js';
import { compareStrings } from './order.js';

export type FieldOp = '=' | '!=';

export interface FieldRequirement {
  field: string;
  op: FieldOp;
  value: string;
}

/** A parse failure; parseFieldSelector turns it into a 400. */
export class FieldSelectorError extends Error {}

/** Upstream EscapeValue: `\` → `\\`, `,` → `\,`, `=` → `\=`. */
export function escapeFieldValue(s: string): string {
  return s.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/** Upstream UnescapeValue, with its error messages (an unescaped rune is printed as a number). */
export function unescapeFieldValue(s: string): string {
  if (!/[\\,=]/.test(s)) return s;
  let out = '';
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c === '\\' || c === ',' || c === '=') out += c;
      else throw new FieldSelectorError(`invalid field selector: invalid escape sequence: \\${c}`);
      inSlash = false;
      continue;
    }
    if (c === '\\') inSlash = true;
    else if (c === ',' || c === '=')
      throw new FieldSelectorError(`invalid field selector: unescaped character in value: ${c.codePointAt(0)}`);
    else out += c;
  }
  if (inSlash) throw new FieldSelectorError('invalid field selector: invalid escape sequence: \\');
  return out;
}

/** Splits on commas not escaped by a backslash (the backslashes are kept). */
function splitTerms(s: string): string[] {
  if (s.length === 0) return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

const TERM_OPERATORS = ['!=', '==', '='] as const;

/** The first operator occurrence splits a term (no escaping on the left-hand side). */
function splitTerm(term: string): { lhs: string; op: (typeof TERM_OPERATORS)[number]; rhs: string } | null {
  for (let i = 0; i < term.length; i++) {
    for (const op of TERM_OPERATORS) {
      if (term.startsWith(op, i)) return { lhs: term.slice(0, i), op, rhs: term.slice(i + op.length) };
    }
  }
  return null;
}

export class FieldSelector {
  readonly requirements: FieldRequirement[];

  constructor(requirements: FieldRequirement[] = []) {
    this.requirements = requirements;
  }

  static everything(): FieldSelector {
    return new FieldSelector([]);
  }

  /** Upstream fields.SelectorFromSet / OneTermEqualSelector. */
  static fromSet(set: Record<string, string>): FieldSelector {
    return new FieldSelector(
      Object.keys(set)
        .sort()
        .map((field) => ({ field, op: '=' as const, value: set[field] })),
    );
  }

  /** `get` returns a field's value for the object; undefined counts as the empty string. */
  matches(get: (field: string) => string | undefined): boolean {
    for (const r of this.requirements) {
      const v = get(r.field) ?? '';
      if (r.op === '=' ? v !== r.value : v === r.value) return false;
    }
    return true;
  }

  /** Matches against a plain map of field values (upstream fields.Set). */
  matchesSet(set: Record<string, string>): boolean {
    return this.matches((f) => (Object.prototype.hasOwnProperty.call(set, f) ? set[f] : undefined));
  }

  isEmpty(): boolean {
    return this.requirements.length === 0;
  }

  /** The distinct field names used, in order. */
  fields(): string[] {
    return [...new Set(this.requirements.map((r) => r.field))];
  }

  /** Upstream RequiresExactMatch: the value an `=` term demands for `field`, if any. */
  requiresExactMatch(field: string): string | undefined {
    for (const r of this.requirements) if (r.field === field && r.op === '=') return r.value;
    return undefined;
  }

  /** A copy with field names rewritten (e.g. legacy labels), keeping terms. */
  transform(fn: (field: string, value: string) => { field: string; value: string }): FieldSelector {
    return new FieldSelector(this.requirements.map((r) => ({ ...fn(r.field, r.value), op: r.op })));
  }

  toString(): string {
    return this.requirements.map((r) => `${r.field}${r.op}${escapeFieldValue(r.value)}`).join(',');
  }
}

/** Upstream fields.ParseSelector, throwing FieldSelectorError. Terms come out sorted as upstream. */
export function parseFieldSelectorRaw(selector: string): FieldSelector {
  const parts = splitTerms(selector).sort(compareStrings);
  const reqs: FieldRequirement[] = [];
  for (const part of parts) {
    if (part === '') continue;
    const t = splitTerm(part);
    if (!t) throw new FieldSelectorError(`invalid selector: '${selector}'; can't understand '${part}'`);
    const value = unescapeFieldValue(t.rhs);
    reqs.push({ field: t.lhs, op: t.op === '!=' ? '!=' : '=', value });
  }
  return new FieldSelector(reqs);
}

/** Upstream fields.ParseSelector. Throws ApiError 400 (BadRequest) on bad syntax. */
export function parseFieldSelector(selector: string): FieldSelector {
  try {
    return parseFieldSelectorRaw(selector);
  } catch (e) {
    if (e instanceof FieldSelectorError) throw badRequest(e.message);
    throw e;
  }
}
