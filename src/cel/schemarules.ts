// x-kubernetes-validations of CRD structural schemas (upstream apiextensions-apiserver
// pkg/apiserver/schema/cel): every rule is compiled once per schema into a tree that mirrors
// the schema's nodes that carry rules, then evaluated against objects on create and update,
// with `self` bound to the value at the node and `oldSelf` to its correlated old value.
import { CelCompileError, type Program, compile, optionalOf } from './environment.js';
import { COST_EXCEEDED_MESSAGE, PER_CALL_LIMIT, RUNTIME_COST_BUDGET } from './cost.js';
import { type ValueSchema, toCel } from './values.js';
import {
  STATIC_ESTIMATED_COST_LIMIT,
  STATIC_ESTIMATED_CRD_COST_LIMIT,
  costErrorMessage,
  estimateRuleCost,
  maxSize,
} from './estimate.js';
import {
  type FieldError,
  type FieldPath,
  duplicate,
  forbidden,
  invalid,
  notSupported,
  required,
} from '../machinery/fielderrors.js';

/** One x-kubernetes-validations entry as written in the CRD. */
export interface ValidationRule {
  rule?: string;
  message?: string;
  messageExpression?: string;
  reason?: string;
  fieldPath?: string;
  optionalOldSelf?: boolean;
}

/** A structural schema node (loosely typed: it is user input). */
export type RuleSchema = ValueSchema & {
  'x-kubernetes-validations'?: ValidationRule[];
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: string;
  properties?: Record<string, RuleSchema>;
  additionalProperties?: RuleSchema | boolean;
  items?: RuleSchema;
  allOf?: RuleSchema[];
  /** Bounds the static cost estimate reads (estimate.ts). */
  maxLength?: number;
  maxItems?: number;
  maxProperties?: number;
};

const REASONS = ['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate'];
const MAX_MESSAGE_EXPRESSION_RESULT = 5 * 1024;

interface CompiledRule {
  source: ValidationRule;
  program: Program;
  message?: Program;
  usesOldSelf: boolean;
  optionalOldSelf: boolean;
  /** The rule's fieldPath without its leading dot (appended to the node's path on failure). */
  fieldPath: string;
}

/** The rules of one schema node and of the nodes below it that have any. */
interface RuleNode {
  type: string;
  rules: CompiledRule[];
  properties?: Map<string, RuleNode>;
  additionalProperties?: RuleNode;
  items?: RuleNode;
  /** For map-type lists: the keys that correlate new items with old ones. */
  listMapKeys?: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Upstream's ruleErrorString: the message when there is one, else the rule. */
const ruleText = (r: ValidationRule): string => (r.message?.trim() ? r.message.trim() : (r.rule ?? '').trim());

/** Go's %#v of the rule, as upstream prints an invalid ValidationRule. */
function showRule(r: ValidationRule): string {
  const reason = r.reason ? `"${r.reason}"` : '(*apiextensions.FieldValueErrorReason)(nil)';
  const opt = r.optionalOldSelf === undefined ? '(*bool)(nil)' : `${r.optionalOldSelf}`;
  return (
    `apiextensions.ValidationRule{Rule:${JSON.stringify(r.rule ?? '')}, Message:${JSON.stringify(r.message ?? '')}, ` +
    `MessageExpression:${JSON.stringify(r.messageExpression ?? '')}, Reason:${reason}, ` +
    `FieldPath:${JSON.stringify(r.fieldPath ?? '')}, OptionalOldSelf:${opt}}`
  );
}

/** An invalid-rule field error whose value prints as upstream's struct. */
function invalidRule(p: FieldPath, r: ValidationRule, detail: string): FieldError {
  const e = invalid(p, '', detail);
  return { ...e, detail: `Invalid value: ${showRule(r)}: ${detail}` };
}

/**
 * Resolves a rule's fieldPath (`.spec.replicas`, `.labels['app']`) against the schema; returns
 * the normalized path or an error text.
 */
function resolveFieldPath(fieldPath: string, schema: RuleSchema): string | { error: string } {
  const parts: string[] = [];
  let s: RuleSchema | undefined = schema;
  const re = /\.([^.[\]]+)|\['((?:[^'\\]|\\.)*)'\]/y;
  let pos = 0;
  while (pos < fieldPath.length) {
    re.lastIndex = pos;
    const m = re.exec(fieldPath);
    if (!m) return { error: `expected [ or . but got: ${fieldPath.slice(pos)}` };
    pos = re.lastIndex;
    const name = m[1] ?? m[2].replace(/\\(.)/g, '$1');
    if (s?.properties) {
      if (!Object.hasOwn(s.properties, name)) return { error: 'does not refer to a valid field' };
      s = s.properties[name];
      parts.push(name);
    } else if (isObject(s?.additionalProperties)) {
      s = s.additionalProperties;
      parts.push(`[${name}]`);
    } else {
      return { error: 'does not refer to a valid field' };
    }
  }
  return parts.join('.').replace(/\.\[/g, '[');
}

/** The estimated costs of a schema's rules, each weighed by how often it can run per object. */
interface CostTally {
  total: number;
  rules: { path: FieldPath; cost: number }[];
}

function compileNodeRules(
  schema: RuleSchema,
  p: FieldPath,
  errors: FieldError[],
  cardinality: number,
  tally: CostTally,
): CompiledRule[] {
  const list = schema['x-kubernetes-validations'];
  if (!Array.isArray(list)) return [];
  const out: CompiledRule[] = [];
  list.forEach((r, i) => {
    const rp = p.child('x-kubernetes-validations').index(i);
    const rule = typeof r?.rule === 'string' ? r.rule : '';
    if (!rule.trim()) {
      errors.push(required(rp.child('rule'), 'rule is not specified'));
      return;
    }
    if (/[\n\r]/.test(rule) && !r.message?.trim() && !r.messageExpression)
      errors.push(required(rp.child('message'), 'message must be specified if rule contains line breaks'));
    if (r.message && /[\n\r]/.test(r.message))
      errors.push(invalid(rp.child('message'), r.message, 'message must not contain line breaks'));
    if (r.reason !== undefined && !REASONS.includes(r.reason))
      errors.push(notSupported(rp.child('reason'), r.reason, REASONS));
    let fieldPath = '';
    if (r.fieldPath) {
      const resolved = resolveFieldPath(r.fieldPath, schema);
      if (typeof resolved === 'string') fieldPath = resolved;
      else
        errors.push(invalid(rp.child('fieldPath'), r.fieldPath, `fieldPath must be a valid path: ${resolved.error}`));
    }
    const optionalOldSelf = r.optionalOldSelf === true;
    const vars = { self: 'dyn', oldSelf: optionalOldSelf ? 'optional<dyn>' : 'dyn' };
    let program: Program;
    try {
      program = compile(rule, vars);
    } catch (err) {
      errors.push(invalidRule(rp.child('rule'), r, err instanceof CelCompileError ? err.detail : String(err)));
      return;
    }
    if (!['bool', 'dyn'].includes(program.resultType)) {
      errors.push(invalidRule(rp.child('rule'), r, 'cel expression must evaluate to a bool'));
      return;
    }
    const cost = estimateRuleCost(program.ast, schema);
    if (cost > STATIC_ESTIMATED_COST_LIMIT)
      errors.push(
        forbidden(rp.child('rule'), costErrorMessage('estimated rule cost', cost, STATIC_ESTIMATED_COST_LIMIT)),
      );
    tally.total += cost * cardinality;
    tally.rules.push({ path: rp.child('rule'), cost: cost * cardinality });
    const usesOldSelf = program.references.has('oldSelf');
    if (optionalOldSelf && !usesOldSelf) {
      errors.push(invalid(rp.child('optionalOldSelf'), true, 'may not be set if oldSelf is not used in rule'));
    }
    let message: Program | undefined;
    if (r.messageExpression) {
      try {
        message = compile(r.messageExpression, vars);
        const messageCost = estimateRuleCost(message.ast, schema);
        if (messageCost > STATIC_ESTIMATED_COST_LIMIT)
          errors.push(
            forbidden(
              rp.child('messageExpression'),
              costErrorMessage('estimated messageExpression cost', messageCost, STATIC_ESTIMATED_COST_LIMIT),
            ),
          );
        tally.total += messageCost * cardinality;
        tally.rules.push({ path: rp.child('messageExpression'), cost: messageCost * cardinality });
        if (!['string', 'dyn'].includes(message.resultType)) {
          errors.push(invalidRule(rp.child('messageExpression'), r, 'must evaluate to a string'));
          message = undefined;
        }
      } catch (err) {
        const detail = err instanceof CelCompileError ? err.detail : String(err);
        errors.push(invalidRule(rp.child('messageExpression'), r, `messageExpression ${detail}`));
      }
    }
    out.push({ source: r, program, message, usesOldSelf, optionalOldSelf, fieldPath });
  });
  return out;
}

function compileNode(
  schema: RuleSchema | undefined,
  p: FieldPath,
  errors: FieldError[],
  cardinality: number,
  tally: CostTally,
): RuleNode | undefined {
  if (!isObject(schema)) return undefined;
  const node: RuleNode = {
    type: typeof schema.type === 'string' ? schema.type : '',
    rules: compileNodeRules(schema, p, errors, cardinality, tally),
  };
  // allOf rules apply at the same node (upstream AllOfValidators).
  (Array.isArray(schema.allOf) ? schema.allOf : []).forEach((sub, i) => {
    if (isObject(sub)) node.rules.push(...compileNodeRules(sub, p.child('allOf').index(i), errors, cardinality, tally));
  });
  // Rules below a list or map run once per item or entry.
  const below = cardinality * (maxSize(schema) ?? 1);
  let any = node.rules.length > 0;
  if (isObject(schema.properties)) {
    for (const [k, sub] of Object.entries(schema.properties as Record<string, RuleSchema>)) {
      const child = compileNode(sub, p.child('properties').key(k), errors, cardinality, tally);
      if (!child) continue;
      (node.properties ??= new Map()).set(k, child);
      any = true;
    }
  }
  if (isObject(schema.additionalProperties)) {
    node.additionalProperties = compileNode(
      schema.additionalProperties,
      p.child('additionalProperties'),
      errors,
      below,
      tally,
    );
    any ||= node.additionalProperties !== undefined;
  }
  if (isObject(schema.items)) {
    node.items = compileNode(schema.items, p.child('items'), errors, below, tally);
    any ||= node.items !== undefined;
  }
  if (schema['x-kubernetes-list-type'] === 'map' && Array.isArray(schema['x-kubernetes-list-map-keys']))
    node.listMapKeys = schema['x-kubernetes-list-map-keys'];
  return any ? node : undefined;
}

/** The compiled rules of one schema: evaluate with validate(); compile errors in `errors`. */
export class SchemaRules {
  readonly errors: FieldError[] = [];
  /** The estimated cost of all the rules, weighed by how often each can run per object. */
  readonly costs: CostTally = { total: 0, rules: [] };
  private readonly root: RuleNode | undefined;

  constructor(
    readonly schema: RuleSchema | undefined,
    /** Where the schema sits in its CRD, for compile errors. */
    at: FieldPath,
  ) {
    this.root = compileNode(schema, at, this.errors, 1, this.costs);
  }

  get empty(): boolean {
    return this.root === undefined;
  }

  /** Errors of the rules for `obj` (and `old` on update), under field path `p`. */
  validate(obj: unknown, old: unknown, p: FieldPath): FieldError[] {
    if (!this.root) return [];
    const errs: FieldError[] = [];
    const self = toCel(withNarrowMetadata(obj), this.schema);
    const oldSelf = old === undefined ? undefined : toCel(withNarrowMetadata(old), this.schema);
    walk(this.root, self, oldSelf, p, { remaining: RUNTIME_COST_BUDGET }, errs);
    return errs;
  }
}

/** Rules at the root see only metadata.name and generateName, as upstream's WithTypeAndObjectMeta. */
function withNarrowMetadata(obj: unknown): unknown {
  if (!isObject(obj) || !isObject(obj.metadata)) return obj;
  const { name, generateName } = obj.metadata;
  const metadata: Record<string, unknown> = {};
  if (name !== undefined) metadata.name = name;
  if (generateName !== undefined) metadata.generateName = generateName;
  return { ...obj, metadata };
}

/** Compile errors of the rules in one schema (CRD create/update validation). */
export function schemaRuleErrors(schema: RuleSchema | undefined, at: FieldPath): FieldError[] {
  const rules = new SchemaRules(schema, at);
  const errs = [...rules.errors];
  const { total } = rules.costs;
  if (total > STATIC_ESTIMATED_CRD_COST_LIMIT) {
    // Upstream names the most expensive rules (those that make up most of the total), then the total.
    const expensive = [...rules.costs.rules].sort((a, b) => b.cost - a.cost);
    let named = 0;
    for (const r of expensive) {
      if (named > STATIC_ESTIMATED_CRD_COST_LIMIT) break;
      errs.push(
        forbidden(r.path, 'contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema'),
      );
      named += r.cost;
    }
    errs.push(
      forbidden(
        at,
        costErrorMessage(
          'x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema',
          total,
          STATIC_ESTIMATED_CRD_COST_LIMIT,
        ),
      ),
    );
  }
  return errs;
}

interface Budget {
  remaining: number;
}

function shownValue(node: RuleNode, v: unknown): unknown {
  if (node.type === 'object' || node.type === 'array' || isObject(v) || Array.isArray(v)) return node.type || 'object';
  return typeof v === 'bigint' ? Number(v) : v;
}

function errorForReason(p: FieldPath, value: unknown, detail: string, reason: string | undefined): FieldError {
  switch (reason) {
    case 'FieldValueForbidden':
      return forbidden(p, detail);
    case 'FieldValueRequired':
      return required(p, detail);
    case 'FieldValueDuplicate':
      return duplicate(p, value);
    default:
      return invalid(p, value, detail);
  }
}

/** cel-go spells its runtime errors in lower case ("no such key: x"). */
const celGoText = (m: string): string => m.charAt(0).toLowerCase() + m.slice(1);

/** Returns false when the budget ran out (no further rules are run, as upstream). */
function runRules(node: RuleNode, self: unknown, oldSelf: unknown, p: FieldPath, budget: Budget, errs: FieldError[]) {
  const shown = shownValue(node, self);
  for (const c of node.rules) {
    if (c.usesOldSelf && oldSelf === undefined && !c.optionalOldSelf) continue;
    if (budget.remaining <= 0) {
      errs.push(
        invalid(
          p,
          shown,
          'validation failed due to running out of cost budget, no further validation rules will be run',
        ),
      );
      return false;
    }
    const vars = { self, oldSelf: c.optionalOldSelf ? optionalOf(oldSelf) : (oldSelf ?? null) };
    let ok: unknown;
    try {
      const r = c.program.evaluate(vars, Math.min(PER_CALL_LIMIT, budget.remaining));
      budget.remaining -= r.cost;
      ok = r.value;
    } catch (err) {
      const e = err as { message: string; cost?: number; costExceeded?: boolean };
      budget.remaining -= e.cost ?? 0;
      if (e.costExceeded) {
        const why = `'${COST_EXCEEDED_MESSAGE}': no further validation rules will be run due to call cost exceeds limit for rule: ${ruleText(c.source)}`;
        errs.push(invalid(p, shown, why));
        return false;
      }
      const msg = celGoText(e.message);
      const detail = msg.startsWith('no such overload')
        ? `'${msg}': call arguments did not match a supported operator, function or macro signature for rule: ${ruleText(c.source)}`
        : `${msg} evaluating rule: ${ruleText(c.source)}`;
      errs.push(invalid(p, shown, detail));
      continue;
    }
    if (ok === true) continue;
    const at = c.fieldPath ? p.child(c.fieldPath) : p;
    let detail = c.source.message?.trim() ? c.source.message.trim() : `failed rule: ${ruleText(c.source)}`;
    if (c.message) {
      try {
        const r = c.message.evaluate(vars, Math.min(PER_CALL_LIMIT, budget.remaining));
        budget.remaining -= r.cost;
        const text = typeof r.value === 'string' ? r.value.trim() : '';
        if (text && !/\n/.test(text) && text.length <= MAX_MESSAGE_EXPRESSION_RESULT) detail = text;
      } catch {
        // Upstream logs a failed messageExpression and falls back to the message.
      }
    }
    errs.push(errorForReason(at, shown, detail, c.source.reason));
  }
  return true;
}

/** Upstream's correlation of list items: by key for map-type lists, none for others. */
function oldItemFor(node: RuleNode, item: unknown, old: unknown[] | undefined): unknown {
  if (!old || !node.listMapKeys || !isObject(item)) return undefined;
  const keys = node.listMapKeys;
  return old.find((o) => isObject(o) && keys.every((k) => o[k] === item[k]));
}

function walk(node: RuleNode, self: unknown, oldSelf: unknown, p: FieldPath, budget: Budget, errs: FieldError[]) {
  if (self === null || self === undefined) return true;
  if (oldSelf === null) oldSelf = undefined;
  if (!runRules(node, self, oldSelf, p, budget, errs)) return false;
  if (Array.isArray(self) && node.items) {
    const old = Array.isArray(oldSelf) ? oldSelf : undefined;
    for (let i = 0; i < self.length; i++) {
      if (!walk(node.items, self[i], oldItemFor(node, self[i], old), p.index(i), budget, errs)) return false;
    }
  } else if (isObject(self)) {
    const old = isObject(oldSelf) ? oldSelf : undefined;
    for (const [k, v] of Object.entries(self)) {
      const child = node.properties?.get(k);
      const sub = child ?? node.additionalProperties;
      if (!sub) continue;
      const childPath = child ? p.child(k) : p.key(k);
      if (!walk(sub, v, old?.[k], childPath, budget, errs)) return false;
    }
  }
  return true;
}
