// Label selectors as upstream k8s.io/apimachinery/pkg/labels: the same grammar, lexer quirks,
// error messages, value validation, ordering and string form.
//
//   <selector>    ::= <requirement> | <requirement> "," <selector>
//   <requirement> ::= [!] KEY [ ("in" | "notin") "(" VALUES ")" | ("=" | "==" | "!=" | ">" | "<") VALUE ]
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import { badRequest } from './errors.js';
import { isQualifiedName, isValidLabelValue } from './validation.js';
import { compareStrings } from './order.js';

export type Operator =
  'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Equals' | 'DoubleEquals' | 'NotEquals' | 'GreaterThan' | 'LessThan';

export interface Requirement {
  key: string;
  operator: Operator;
  values: string[];
}

/** Upstream selection.Operator spellings, used in messages. */
const OP_TEXT: Record<Operator, string> = {
  In: 'in',
  NotIn: 'notin',
  Exists: 'exists',
  DoesNotExist: '!',
  Equals: '=',
  DoubleEquals: '==',
  NotEquals: '!=',
  GreaterThan: 'gt',
  LessThan: 'lt',
};
const BINARY_OPERATORS: Operator[] = ['In', 'NotIn', 'Equals', 'DoubleEquals', 'NotEquals', 'GreaterThan', 'LessThan'];
const VALID_OPERATORS: Operator[] = [...BINARY_OPERATORS, 'Exists', 'DoesNotExist'];

/** A parse or validation failure; carried to clients as a 400 by parseSelector. */
export class SelectorError extends Error {}

// ---------------------------------------------------------------------------------------------
// Requirements

/** Go strconv.ParseInt(s, 10, 64) succeeds. */
function isInt64(s: string): boolean {
  if (!/^[+-]?[0-9]+$/.test(s)) return false;
  const n = BigInt(s);
  return n >= -(1n << 63n) && n < 1n << 63n;
}

/** Go %q-ish quoting used in field.Invalid messages. */
const q = (s: string): string => JSON.stringify(s);
/** Go %#v of a []string. */
const goStrings = (vs: string[]): string => `[]string{${vs.map(q).join(', ')}}`;

/** Joins messages like upstream's utilerrors aggregate (deduplicated, bracketed when several). */
function aggregate(msgs: string[]): string {
  const uniq = [...new Set(msgs)];
  return uniq.length === 1 ? uniq[0] : `[${uniq.join(', ')}]`;
}

function keyError(key: string, fieldPath: string): string | null {
  const errs = isQualifiedName(key);
  return errs.length ? `${fieldPath}: Invalid value: ${q(key)}: ${errs.join('; ')}` : null;
}

/**
 * Upstream labels.NewRequirement: validates key, operator/values arity and values. Throws
 * SelectorError with the aggregated field errors. `root` is the field path prefix ('' = none).
 */
export function newRequirement(key: string, operator: Operator, values: string[], root = ''): Requirement {
  const pre = root ? `${root}.` : '';
  const errs: string[] = [];
  const ke = keyError(key, `${pre}key`);
  if (ke) errs.push(ke);
  const vp = `${pre}values`;
  switch (operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0)
        errs.push(`${vp}: Invalid value: ${goStrings(values)}: for 'in', 'notin' operators, values set can't be empty`);
      break;
    case 'Equals':
    case 'DoubleEquals':
    case 'NotEquals':
      if (values.length !== 1)
        errs.push(`${vp}: Invalid value: ${goStrings(values)}: exact-match compatibility requires one single value`);
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length !== 0)
        errs.push(`${vp}: Invalid value: ${goStrings(values)}: values set must be empty for exists and does not exist`);
      break;
    case 'GreaterThan':
    case 'LessThan':
      if (values.length !== 1)
        errs.push(
          `${vp}: Invalid value: ${goStrings(values)}: for 'Gt', 'Lt' operators, exactly one value is required`,
        );
      values.forEach((v, i) => {
        if (!isInt64(v))
          errs.push(`${vp}[${i}]: Invalid value: ${q(v)}: for 'Gt', 'Lt' operators, the value must be an integer`);
      });
      break;
    default:
      errs.push(
        `${pre}operator: Unsupported value: ${q(String(operator))}: supported values: ${VALID_OPERATORS.map((o) => q(OP_TEXT[o])).join(', ')}`,
      );
  }
  values.forEach((v, i) => {
    const ve = isValidLabelValue(v);
    if (ve.length) errs.push(`${vp}[${i}][${key}]: Invalid value: ${q(v)}: ${ve.join('; ')}`);
  });
  if (errs.length) throw new SelectorError(aggregate(errs));
  return { key, operator, values };
}

/** Go strconv.ParseInt for matching (returns null when not an int64). */
function parseInt64(s: string): bigint | null {
  return isInt64(s) ? BigInt(s) : null;
}

export function requirementMatches(r: Requirement, labels: Record<string, string> | undefined | null): boolean {
  const has = labels != null && Object.prototype.hasOwnProperty.call(labels, r.key);
  const value = has ? labels[r.key] : '';
  switch (r.operator) {
    case 'In':
    case 'Equals':
    case 'DoubleEquals':
      return has && r.values.includes(value);
    case 'NotIn':
    case 'NotEquals':
      return !has || !r.values.includes(value);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'GreaterThan':
    case 'LessThan': {
      if (!has || r.values.length !== 1) return false;
      const lv = parseInt64(value);
      const rv = parseInt64(r.values[0]);
      if (lv === null || rv === null) return false;
      return r.operator === 'GreaterThan' ? lv > rv : lv < rv;
    }
    default:
      return false;
  }
}

export function requirementString(r: Requirement): string {
  let s = r.operator === 'DoesNotExist' ? `!${r.key}` : r.key;
  switch (r.operator) {
    case 'Exists':
    case 'DoesNotExist':
      return s;
    case 'Equals':
      s += '=';
      break;
    case 'DoubleEquals':
      s += '==';
      break;
    case 'NotEquals':
      s += '!=';
      break;
    case 'In':
      s += ' in ';
      break;
    case 'NotIn':
      s += ' notin ';
      break;
    case 'GreaterThan':
      s += '>';
      break;
    case 'LessThan':
      s += '<';
      break;
  }
  const vals = r.values.length === 1 ? r.values[0] : [...r.values].sort(compareStrings).join(',');
  return r.operator === 'In' || r.operator === 'NotIn' ? `${s}(${vals})` : s + vals;
}

// ---------------------------------------------------------------------------------------------
// Selector

const sortByKey = (reqs: Requirement[]): Requirement[] => [...reqs].sort((a, b) => compareStrings(a.key, b.key));

export class Selector {
  readonly requirements: Requirement[];

  /** Requirements are kept sorted by key, as upstream. */
  constructor(
    requirements: Requirement[] = [],
    private readonly nothing = false,
  ) {
    this.requirements = sortByKey(requirements);
  }

  /** Matches every object (also what the empty string parses to). */
  static everything(): Selector {
    return new Selector([]);
  }

  /** Matches no object (a nil metav1.LabelSelector). */
  static nothing(): Selector {
    return new Selector([], true);
  }

  matches(labels: Record<string, string> | undefined | null): boolean {
    if (this.nothing) return false;
    for (const r of this.requirements) if (!requirementMatches(r, labels)) return false;
    return true;
  }

  /** True for the selector matching everything (upstream Empty()); false for nothing(). */
  isEmpty(): boolean {
    return !this.nothing && this.requirements.length === 0;
  }

  /** True for Selector.nothing(). */
  isNothing(): boolean {
    return this.nothing;
  }

  /** A new selector with more requirements (upstream Add). */
  add(...reqs: Requirement[]): Selector {
    return new Selector([...this.requirements, ...reqs], this.nothing);
  }

  /**
   * Upstream RequiresExactMatch: the value `label` must have for the selector to match
   * (from a single-valued =, == or in), or undefined.
   */
  requiresExactMatch(label: string): string | undefined {
    for (const r of this.requirements) {
      if (r.key !== label) continue;
      if ((r.operator === 'Equals' || r.operator === 'DoubleEquals' || r.operator === 'In') && r.values.length === 1)
        return r.values[0];
      return undefined;
    }
    return undefined;
  }

  toString(): string {
    return this.requirements.map(requirementString).join(',');
  }
}

// ---------------------------------------------------------------------------------------------
// Lexer

const enum Tok {
  Error = 1,
  End,
  ClosedPar,
  Comma,
  DoesNotExist,
  DoubleEquals,
  Equals,
  GreaterThan,
  Identifier,
  In,
  LessThan,
  NotEquals,
  NotIn,
  OpenPar,
}

const STRING_TO_TOKEN: Record<string, Tok> = {
  ')': Tok.ClosedPar,
  ',': Tok.Comma,
  '!': Tok.DoesNotExist,
  '==': Tok.DoubleEquals,
  '=': Tok.Equals,
  '>': Tok.GreaterThan,
  in: Tok.In,
  '<': Tok.LessThan,
  '!=': Tok.NotEquals,
  notin: Tok.NotIn,
  '(': Tok.OpenPar,
};
const tokenOf = (s: string): Tok | undefined =>
  Object.prototype.hasOwnProperty.call(STRING_TO_TOKEN, s) ? STRING_TO_TOKEN[s] : undefined;

const isWhitespace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isSpecial = (c: string): boolean => '=!(),><'.includes(c) && c !== '';

interface Item {
  tok: Tok;
  lit: string;
}

/**
 * Upstream's Lexer, which reads bytes and takes a NUL for "no more input": a NUL ends the word
 * or symbol being read (and is consumed with it), and ends the input only where a token would
 * start. So "a\0b" is two words, "a \0b" one.
 */
function lex(s: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  const read = (): string => (pos < s.length ? s[pos++] : '\0');
  const unread = () => void pos--;
  const scanWord = (): Item => {
    let word = '';
    for (;;) {
      const ch = read();
      if (ch === '\0') break;
      if (isSpecial(ch) || isWhitespace(ch)) {
        unread();
        break;
      }
      word += ch;
    }
    return { tok: tokenOf(word) ?? Tok.Identifier, lit: word };
  };
  const scanSymbol = (): Item => {
    let buf = '';
    let last: Item | null = null;
    for (;;) {
      const ch = read();
      if (ch === '\0') break;
      if (!isSpecial(ch)) {
        unread();
        break;
      }
      buf += ch;
      const t = tokenOf(buf);
      if (t !== undefined) last = { tok: t, lit: buf };
      else if (last) {
        unread();
        break;
      }
    }
    return last ?? { tok: Tok.Error, lit: `error expected: keyword found '${buf}'` };
  };
  for (;;) {
    let ch = read();
    while (isWhitespace(ch)) ch = read();
    if (ch === '\0') {
      items.push({ tok: Tok.End, lit: '' });
      return items;
    }
    unread();
    items.push(isSpecial(ch) ? scanSymbol() : scanWord());
  }
}

// ---------------------------------------------------------------------------------------------
// Parser

class Parser {
  private pos = 0;
  constructor(private readonly items: Item[]) {}

  /** In the "values" context the keywords in/notin are plain identifiers. */
  private look(values = true): Item {
    const it = this.items[Math.min(this.pos, this.items.length - 1)];
    return values && (it.tok === Tok.In || it.tok === Tok.NotIn) ? { tok: Tok.Identifier, lit: it.lit } : it;
  }

  private next(values = true): Item {
    const it = this.look(values);
    if (this.pos < this.items.length - 1) this.pos++;
    else this.pos = this.items.length - 1;
    return it;
  }

  parse(): Requirement[] {
    const reqs: Requirement[] = [];
    for (;;) {
      const { tok, lit } = this.look();
      if (tok === Tok.End) return reqs;
      if (tok !== Tok.Identifier && tok !== Tok.DoesNotExist) {
        throw new SelectorError(`found '${lit}', expected: !, identifier, or 'end of string'`);
      }
      try {
        reqs.push(this.requirement());
      } catch (e) {
        throw new SelectorError(`unable to parse requirement: ${(e as Error).message}`);
      }
      const t = this.next();
      if (t.tok === Tok.End) return reqs;
      if (t.tok !== Tok.Comma) throw new SelectorError(`found '${t.lit}', expected: ',' or 'end of string'`);
      const t2 = this.look();
      if (t2.tok !== Tok.Identifier && t2.tok !== Tok.DoesNotExist) {
        throw new SelectorError(`found '${t2.lit}', expected: identifier after ','`);
      }
    }
  }

  private requirement(): Requirement {
    let t = this.next();
    let op: Operator | null = null;
    if (t.tok === Tok.DoesNotExist) {
      op = 'DoesNotExist';
      t = this.next();
    }
    if (t.tok !== Tok.Identifier) throw new SelectorError(`found '${t.lit}', expected: identifier`);
    const key = t.lit;
    const ke = keyError(key, '<nil>');
    if (ke) throw new SelectorError(ke);
    const after = this.look().tok;
    if ((after === Tok.End || after === Tok.Comma) && op === null) op = 'Exists';
    if (op === 'Exists' || op === 'DoesNotExist') return newRequirement(key, op, []);

    const o = this.next(false);
    const OPS: Partial<Record<Tok, Operator>> = {
      [Tok.In]: 'In',
      [Tok.Equals]: 'Equals',
      [Tok.DoubleEquals]: 'DoubleEquals',
      [Tok.GreaterThan]: 'GreaterThan',
      [Tok.LessThan]: 'LessThan',
      [Tok.NotIn]: 'NotIn',
      [Tok.NotEquals]: 'NotEquals',
    };
    const operator = OPS[o.tok];
    if (!operator)
      throw new SelectorError(`found '${o.lit}', expected: ${BINARY_OPERATORS.map((x) => OP_TEXT[x]).join(', ')}`);
    const values = operator === 'In' || operator === 'NotIn' ? this.setValues() : this.exactValue();
    return newRequirement(key, operator, [...new Set(values)].sort(compareStrings));
  }

  private setValues(): string[] {
    const open = this.next();
    if (open.tok !== Tok.OpenPar) throw new SelectorError(`found '${open.lit}' expected: '('`);
    const first = this.look();
    if (first.tok === Tok.ClosedPar) {
      this.next();
      return [''];
    }
    if (first.tok !== Tok.Identifier && first.tok !== Tok.Comma) {
      throw new SelectorError(`found '${first.lit}', expected: ',', ')' or identifier`);
    }
    const vals = this.identifiers();
    // Upstream reports the literal seen before the list here.
    if (this.next().tok !== Tok.ClosedPar) throw new SelectorError(`found '${first.lit}', expected: ')'`);
    return vals;
  }

  private identifiers(): string[] {
    const s = new Set<string>();
    for (;;) {
      const { tok, lit } = this.next();
      if (tok === Tok.Identifier) {
        s.add(lit);
        const t2 = this.look();
        if (t2.tok === Tok.Comma) continue;
        if (t2.tok === Tok.ClosedPar) return [...s];
        throw new SelectorError(`found '${t2.lit}', expected: ',' or ')'`);
      } else if (tok === Tok.Comma) {
        if (s.size === 0) s.add('');
        const t2 = this.look();
        if (t2.tok === Tok.ClosedPar) {
          s.add('');
          return [...s];
        }
        if (t2.tok === Tok.Comma) {
          this.next();
          s.add('');
        }
      } else {
        throw new SelectorError(`found '${lit}', expected: ',', or identifier`);
      }
    }
  }

  private exactValue(): string[] {
    const t = this.look();
    if (t.tok === Tok.End || t.tok === Tok.Comma) return [''];
    const v = this.next();
    if (v.tok === Tok.Identifier) return [v.lit];
    throw new SelectorError(`found '${v.lit}', expected: identifier`);
  }
}

/** Parses a label selector without turning errors into ApiErrors (throws SelectorError). */
export function parseSelectorRaw(s: string): Selector {
  return new Selector(new Parser(lex(s)).parse());
}

/** Upstream labels.Parse. Throws ApiError 400 (BadRequest) with upstream's message. */
export function parseSelector(s: string): Selector {
  try {
    return parseSelectorRaw(s);
  } catch (e) {
    if (e instanceof SelectorError) throw badRequest(e.message);
    throw e;
  }
}

/** Upstream labels.SelectorFromSet: exact matches, not validated; empty set matches everything. */
export function selectorFromSet(set: Record<string, string> | undefined | null): Selector {
  if (!set) return Selector.everything();
  return new Selector(Object.entries(set).map(([key, v]) => ({ key, operator: 'Equals' as const, values: [v] })));
}

const LS_OPS: Record<string, Operator> = { In: 'In', NotIn: 'NotIn', Exists: 'Exists', DoesNotExist: 'DoesNotExist' };

/** metav1.LabelSelectorAsSelector, throwing SelectorError. */
export function selectorFromLabelSelectorRaw(ls: LabelSelector | undefined | null): Selector {
  if (ls === undefined || ls === null) return Selector.nothing();
  const ml = ls.matchLabels ?? {};
  const me = ls.matchExpressions ?? [];
  if (Object.keys(ml).length + me.length === 0) return Selector.everything();
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries(ml)) reqs.push(newRequirement(k, 'Equals', [v]));
  for (const e of me) {
    const op = Object.prototype.hasOwnProperty.call(LS_OPS, e.operator) ? LS_OPS[e.operator] : undefined;
    if (!op) throw new SelectorError(`${q(String(e.operator))} is not a valid label selector operator`);
    reqs.push(newRequirement(e.key, op, [...(e.values ?? [])]));
  }
  return new Selector(reqs);
}

/**
 * metav1.LabelSelectorAsSelector: null/undefined matches nothing, {} matches everything.
 * Throws ApiError 400 on an invalid selector.
 */
export function selectorFromLabelSelector(ls: LabelSelector | undefined | null): Selector {
  try {
    return selectorFromLabelSelectorRaw(ls);
  } catch (e) {
    if (e instanceof SelectorError) throw badRequest(e.message);
    throw e;
  }
}

/** metav1.FormatLabelSelector: `<none>` for nil/empty, `<error>` for an invalid selector. */
export function formatLabelSelector(ls: LabelSelector | undefined | null): string {
  let sel: Selector;
  try {
    sel = selectorFromLabelSelectorRaw(ls);
  } catch {
    return '<error>';
  }
  return sel.toString() || '<none>';
}

/** Whether labels match a metav1.LabelSelector (nil matches nothing; invalid matches nothing). */
export function labelSelectorMatches(
  ls: LabelSelector | undefined | null,
  labels: Record<string, string> | undefined | null,
): boolean {
  try {
    return selectorFromLabelSelectorRaw(ls).matches(labels);
  } catch {
    return false;
  }
}

/** labels.FormatLabels / Set.String(): `k=v,...` sorted by key, `<none>` when empty. */
export function formatLabels(set: Record<string, string> | undefined | null): string {
  const keys = Object.keys(set ?? {}).sort(compareStrings);
  if (keys.length === 0) return '<none>';
  return keys.map((k) => `${k}=${(set as Record<string, string>)[k]}`).join(',');
}
