// Static (worst-case) cost of a CRD validation rule, in the manner of cel-go's checker/cost.go
// as the apiextensions-apiserver uses it: every identifier and field selection costs 1,
// functions 1 plus, for those that walk strings or lists, a share of the input's largest size;
// a comprehension (all, exists, exists_one, map, filter) pays its body once per element of the
// largest list or map the schema allows. Sizes come from maxLength/maxItems/maxProperties; where
// the schema sets none, from the largest request the server accepts (3 MiB), as upstream.
// The estimate is an upper bound on the runtime cost counted by cost.ts, not the same number.
import type { RuleSchema } from './schemarules.js';
import { AUTHZ_CHECK_COST } from './libraries/authz.js';

/** Upstream's per-rule limit (celconfig.StaticEstimatedCostLimit). */
export const STATIC_ESTIMATED_COST_LIMIT = 10_000_000;
/** Upstream's limit for all the rules of one CRD schema (StaticEstimatedCRDCostLimit). */
export const STATIC_ESTIMATED_CRD_COST_LIMIT = 100_000_000;
/** The largest request body (upstream's maxRequestSizeBytes), which bounds unbounded sizes. */
const MAX_REQUEST_SIZE_BYTES = 3 * 1024 * 1024;
/** cel-go's cost factors for walking strings and for regular expressions. */
const STRING_TRAVERSAL_FACTOR = 0.1;
const REGEX_STRING_LENGTH_FACTOR = 0.25;

/** What the estimator knows of a value: its schema (if from self) and its largest size. */
interface Estimate {
  cost: number;
  schema?: RuleSchema;
  /** Largest length of a string or list, or number of map entries; undefined when unknown. */
  size?: number;
}

type Node = { op: string; args: unknown };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The smallest JSON text of a value of `s` (upstream estimateMinSizeJSON). */
function minJsonSize(s: RuleSchema | undefined): number {
  if (s?.['x-kubernetes-int-or-string']) return 1;
  switch (s?.type) {
    case 'string':
      return 2; // ""
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return 4; // true
    default:
      return 2; // {} or []
  }
}

/** The largest size a value of `s` can have (undefined for scalars other than strings). */
export function maxSize(s: RuleSchema | undefined): number | undefined {
  if (!s) return undefined;
  const declared = s;
  if (s.type === 'string') return declared.maxLength ?? MAX_REQUEST_SIZE_BYTES - 2;
  if (s.type === 'array')
    return declared.maxItems ?? Math.floor((MAX_REQUEST_SIZE_BYTES - 2) / (minJsonSize(s.items) + 1));
  if (s.type === 'object') {
    if (declared.maxProperties !== undefined) return declared.maxProperties;
    if (isObject(s.additionalProperties))
      return Math.floor((MAX_REQUEST_SIZE_BYTES - 2) / (minJsonSize(s.additionalProperties) + 4));
    return s.properties ? Object.keys(s.properties).length : undefined;
  }
  return undefined;
}

/** The schema of an element of a list, or of a value of a map, described by `s`. */
function elementSchema(s: RuleSchema | undefined): RuleSchema | undefined {
  if (!s) return undefined;
  if (s.type === 'array') return s.items;
  return isObject(s.additionalProperties) ? s.additionalProperties : undefined;
}

const fromSchema = (cost: number, schema: RuleSchema | undefined): Estimate => ({
  cost,
  schema,
  size: maxSize(schema),
});

const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

class Estimator {
  /** Comprehension variables in scope: their schemas (undefined for map keys and unknowns). */
  private readonly scopes: Map<string, Estimate>[] = [];

  constructor(private readonly vars: Record<string, RuleSchema | undefined>) {}

  estimate(node: unknown): Estimate {
    if (!isObject(node) || typeof node.op !== 'string') return { cost: 0 };
    const n = node as Node;
    const args = n.args as unknown[];
    switch (n.op) {
      case 'value':
        return { cost: 0, size: typeof n.args === 'string' ? n.args.length : undefined };
      case 'id':
        return this.identifier(n.args as string);
      case '.':
      case '.?': {
        const operand = this.estimate(args[0]);
        const field = args[1] as string;
        const props = operand.schema?.properties;
        const sub = props && Object.hasOwn(props, field) ? props[field] : elementSchema(operand.schema);
        return fromSchema(operand.cost + 1, sub);
      }
      case '[]':
      case '[?]': {
        const operand = this.estimate(args[0]);
        const index = this.estimate(args[1]);
        return fromSchema(operand.cost + index.cost + 1, elementSchema(operand.schema));
      }
      case '?:': {
        const [cond, a, b] = args.map((x) => this.estimate(x));
        return { cost: cond.cost + Math.max(a.cost, b.cost), size: Math.max(a.size ?? 0, b.size ?? 0) || undefined };
      }
      case '&&':
      case '||':
        return { cost: args.reduce((sum: number, x) => sum + this.estimate(x).cost, 0) };
      case 'list': {
        const items = args.map((x) => this.estimate(x));
        return { cost: 10 + items.reduce((s, x) => s + x.cost, 0), size: items.length };
      }
      case 'map': {
        const entries = (args as unknown[][]).flatMap((e) => e.map((x) => this.estimate(x)));
        return { cost: 30 + entries.reduce((s, x) => s + x.cost, 0), size: args.length };
      }
      case 'call': {
        const [name, callArgs] = args as [string, unknown[]];
        if (name === 'has') return { cost: this.estimate(callArgs[0]).cost };
        return this.call(name, undefined, callArgs);
      }
      case 'rcall': {
        const [name, receiver, callArgs] = args as [string, unknown, unknown[]];
        if (MACROS.has(name)) return this.comprehension(name, receiver, callArgs);
        return this.call(name, receiver, callArgs);
      }
      case '==':
      case '!=': {
        const [a, b] = args.map((x) => this.estimate(x));
        // Equality of strings or lists walks the smaller one.
        const walked = Math.min(a.size ?? 0, b.size ?? 0);
        return { cost: a.cost + b.cost + 1 + Math.ceil(walked * STRING_TRAVERSAL_FACTOR) };
      }
      case '+': {
        const [a, b] = args.map((x) => this.estimate(x));
        const size = a.size !== undefined || b.size !== undefined ? (a.size ?? 0) + (b.size ?? 0) : undefined;
        return { cost: a.cost + b.cost + 1 + Math.ceil((size ?? 0) * STRING_TRAVERSAL_FACTOR), size };
      }
      case 'in': {
        const [a, b] = args.map((x) => this.estimate(x));
        // `x in list` walks the list; `k in map` is a lookup.
        const walked = b.schema?.type === 'array' ? (b.size ?? 0) : 0;
        return { cost: a.cost + b.cost + 1 + walked };
      }
      default: {
        const list = Array.isArray(n.args) ? (n.args as unknown[]) : [n.args];
        return { cost: 1 + list.reduce((s: number, x) => s + this.estimate(x).cost, 0) };
      }
    }
  }

  private identifier(name: string): Estimate {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const v = this.scopes[i].get(name);
      if (v) return { ...v, cost: 1 };
    }
    return fromSchema(1, this.vars[name]);
  }

  /** A function: 1, plus a share of the size of what it walks (cel-go's per-function costs). */
  private call(name: string, receiver: unknown, callArgs: unknown[]): Estimate {
    const r = receiver === undefined ? undefined : this.estimate(receiver);
    const a = callArgs.map((x) => this.estimate(x));
    const base = (r?.cost ?? 0) + a.reduce((s, x) => s + x.cost, 0) + 1;
    const subject = r ?? a[0];
    const size = subject?.size ?? 0;
    switch (name) {
      case 'contains':
      case 'startsWith':
      case 'endsWith':
      case 'lowerAscii':
      case 'upperAscii':
      case 'trim':
      case 'replace':
      case 'split':
      case 'indexOf':
      case 'lastIndexOf':
      case 'join':
      case 'reverse':
      case 'isSorted':
      case 'sum':
      case 'min':
      case 'max':
      case 'find':
      case 'findAll':
        return { cost: base + Math.ceil(size * STRING_TRAVERSAL_FACTOR), size: subject?.size };
      case 'matches': {
        const pattern = r ? a[0] : a[1];
        return { cost: base + Math.ceil(size * REGEX_STRING_LENGTH_FACTOR * (pattern?.size ?? 1)) };
      }
      case 'size':
        return { cost: base };
      case 'check':
        // An authorization check (authorizer library): a fixed price, as upstream.
        return { cost: base + AUTHZ_CHECK_COST };
      default:
        return { cost: base, size: subject?.size };
    }
  }

  /** A macro over a list or map: its range once, its body once per element. */
  private comprehension(name: string, receiver: unknown, callArgs: unknown[]): Estimate {
    const range = this.estimate(receiver);
    const variable = (callArgs[0] as Node | undefined)?.args;
    const isList = range.schema?.type === 'array';
    // Over a map the variable is the key (a string); over a list, an element.
    const element: Estimate = isList ? fromSchema(1, range.schema?.items) : { cost: 1 };
    this.scopes.push(new Map(typeof variable === 'string' ? [[variable, element]] : []));
    try {
      const body = callArgs.slice(1).reduce((s: number, x) => s + this.estimate(x).cost, 0);
      const count = range.size ?? 0;
      // The loop's own steps (accumulator read, condition, append) beside the body.
      const result: Estimate = { cost: range.cost + count * (body + 3) };
      if (name === 'map' || name === 'filter') result.size = count;
      return result;
    } finally {
      this.scopes.pop();
    }
  }
}

/** The estimated worst-case cost of `ast` (a compiled rule's AST) with `self` of schema `self`. */
export function estimateRuleCost(ast: unknown, self: RuleSchema | undefined): number {
  return new Estimator({ self, oldSelf: self }).estimate(ast).cost;
}

/** Upstream getCostErrorMessage. */
export function costErrorMessage(costName: string, cost: number, limit: number): string {
  const factor = cost / limit;
  const shown = factor > 100 ? 'more than 100x' : factor < 1.5 ? `${factor.toFixed(6)}x` : `${factor.toFixed(1)}x`;
  return `${costName} exceeds budget by factor of ${shown} (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)`;
}
