// Compiling and running CEL expressions the way the Kubernetes API server does: the CEL standard
// library with optional types, plus Kubernetes' libraries (lists, regex, strings, URLs,
// quantities, IPs/CIDRs, formats, authorizer), declared variables, compile errors in cel-go's layout and a
// runtime cost limit per evaluation.
//
// The evaluator is @marcbachmann/cel-js (docs/security.md#cel explains the choice). Its type
// checker runs at compile time against the declared variables; values typed `dyn` (self,
// object, ...) are checked at run time, as cel-go does for int-or-string and unknown fields.
import { Environment, Optional } from '@marcbachmann/cel-js';
import { CostLimitExceeded, PER_CALL_LIMIT, metered, tick } from './cost.js';
import { registerAuthz } from './libraries/authz.js';
import { registerFormat } from './libraries/format.js';
import { registerIP } from './libraries/ip.js';
import { registerJsonPatch } from './libraries/jsonpatch.js';
import { registerLists } from './libraries/lists.js';
import { registerObjectConstruction } from './objectconstruction.js';
import { registerQuantity } from './libraries/quantity.js';
import { registerRegex } from './libraries/regex.js';
import { registerStrings } from './libraries/strings.js';
import { registerURLs } from './libraries/urls.js';
import { byKey } from '../machinery/order.js';

/** A variable's CEL type as the evaluator spells it: 'dyn', 'optional<dyn>', 'map<string, dyn>'… */
export type VariableTypes = Record<string, string>;

/** An expression that did not compile; `detail` is cel-go's "compilation failed: ERROR: …" text. */
export class CelCompileError extends Error {
  constructor(
    readonly expression: string,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'CelCompileError';
  }
}

/** An evaluation that failed (no such key, no such overload, cost exceeded…). */
export class CelEvaluationError extends Error {
  constructor(
    message: string,
    /** Cost spent before the failure. */
    readonly cost: number,
    readonly costExceeded = false,
  ) {
    super(message);
    this.name = 'CelEvaluationError';
  }
}

export interface EvalResult {
  value: unknown;
  /** Runtime cost (one unit per evaluated node, plus library charges). */
  cost: number;
}

/** A compiled expression, safe to evaluate many times (and cached by its owner). */
export interface Program {
  readonly expression: string;
  /** The variables the expression mentions (e.g. to tell a transition rule by `oldSelf`). */
  readonly references: ReadonlySet<string>;
  /** The checked result type ('bool', 'string', 'dyn'…). */
  readonly resultType: string;
  /** The evaluator's syntax tree (the static cost estimate walks it). */
  readonly ast: unknown;
  /** Evaluates with the variables bound; throws CelEvaluationError. */
  evaluate(vars: Record<string, unknown>, costLimit?: number): EvalResult;
}

type EvalFn = ((ctx: Record<string, unknown>) => unknown) & {
  check(): { valid: boolean; type?: string; error?: Error };
  ast: unknown;
};

/** The environment every expression starts from: options and libraries, no variables. */
function baseEnvironment(): Environment {
  const env = new Environment({
    enableOptionalTypes: true,
    homogeneousAggregateLiterals: false,
    unlistedVariablesAreDyn: false,
  });
  registerLists(env);
  registerRegex(env);
  registerStrings(env);
  registerURLs(env);
  registerQuantity(env);
  registerIP(env);
  registerFormat(env);
  registerJsonPatch(env);
  registerAuthz(env);
  registerObjectConstruction(env);
  exposeEvaluator(env);
  return env;
}

/** The evaluator's AST nodes evaluate themselves, handed the evaluator back. */
interface EvaluatorNode {
  evaluate(ev: Evaluator, ast: EvaluatorNode, ctx: unknown): unknown;
}
type Evaluator = { run(ast: EvaluatorNode, ctx: unknown): unknown };
let reached: Evaluator | undefined;

/** Lets meterEvaluator reach an environment's evaluator: a macro is handed it when run. */
function exposeEvaluator(env: Environment): void {
  env.registerFunction('__k8ts_evaluator(ast): bool', () => ({
    typeCheck: (checker: { getType(t: string): unknown }) => checker.getType('bool'),
    evaluate(ev: Evaluator) {
      reached = ev;
      return true;
    },
  }));
}

/**
 * Every node evaluation goes through the environment's evaluator's run() (each environment,
 * clones included, has its own): wrapping it there counts the cost of any expression.
 */
function meterEvaluator(env: Environment): void {
  reached = undefined;
  (env.parse('__k8ts_evaluator(0)') as EvalFn)({});
  const evaluator = reached as Evaluator | undefined;
  if (!evaluator) throw new Error('CEL evaluator not reachable: cost accounting unavailable');
  evaluator.run = function run(this: Evaluator, ast: EvaluatorNode, ctx: unknown): unknown {
    tick();
    return ast.evaluate(this, ast, ctx);
  };
}

let base: Environment | undefined;
const environments = new Map<string, Environment>();

/** The environment with `vars` declared (one per distinct set of declarations). */
function environmentFor(vars: VariableTypes): Environment {
  const key = Object.entries(vars)
    .sort(byKey)
    .map(([k, v]) => `${k}:${v}`)
    .join(',');
  let env = environments.get(key);
  if (env) return env;
  base ??= baseEnvironment();
  env = base.clone();
  for (const [name, type] of Object.entries(vars)) env.registerVariable(name, type);
  meterEvaluator(env);
  environments.set(key, env);
  return env;
}

/** cel-go's error layout: "ERROR: <input>:1:6: msg\n | expr\n | .....^". */
function celGoError(expression: string, err: unknown): string {
  const e = err as { summary?: string; message?: string; range?: { start?: number }; node?: { pos?: number } };
  const summary = (e.summary ?? e.message ?? String(err)).split('\n')[0];
  const offset = e.range?.start ?? e.node?.pos ?? 0;
  const before = expression.slice(0, offset);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const column = offset - lineStart;
  const source = expression.split('\n')[line - 1] ?? '';
  return `ERROR: <input>:${line}:${column + 1}: ${summary}\n | ${source}\n | ${'.'.repeat(column)}^`;
}

/** Names of the identifiers an AST reads (walks the evaluator's AST generically). */
function referencedIdentifiers(ast: unknown, out = new Set<string>(), seen = new Set<unknown>()): Set<string> {
  if (!ast || typeof ast !== 'object' || seen.has(ast)) return out;
  seen.add(ast);
  const node = ast as { op?: string; args?: unknown };
  if (node.op === 'id' && typeof node.args === 'string') out.add(node.args);
  const args = node.args;
  if (Array.isArray(args)) for (const a of args) referencedIdentifiers(a, out, seen);
  else if (args && typeof args === 'object') for (const a of Object.values(args)) referencedIdentifiers(a, out, seen);
  return out;
}

export const PRIVATE_FUNCTION = /__k8ts_/;

/**
 * Compiles `expression` against the declared variables. Throws CelCompileError with cel-go's
 * "compilation failed: …" detail for syntax and type errors.
 */
export function compile(expression: string, vars: VariableTypes, opts: { rewritten?: boolean } = {}): Program {
  const env = environmentFor(vars);
  // (`rewritten`: the caller produced the private calls itself and checked the source for them.)
  if (!opts.rewritten && PRIVATE_FUNCTION.test(expression)) {
    throw new CelCompileError(expression, `compilation failed: ERROR: <input>:1:1: undeclared reference`);
  }
  let fn: EvalFn;
  try {
    fn = env.parse(expression) as EvalFn;
  } catch (err) {
    throw new CelCompileError(expression, `compilation failed: ${celGoError(expression, err)}`);
  }
  const checked = fn.check();
  if (!checked.valid) {
    throw new CelCompileError(expression, `compilation failed: ${celGoError(expression, checked.error)}`);
  }
  const references = referencedIdentifiers(fn.ast);
  return {
    expression,
    references,
    resultType: checked.type ?? 'dyn',
    ast: fn.ast,
    evaluate(bindings, costLimit = PER_CALL_LIMIT) {
      let spent = 0;
      try {
        const r = metered(costLimit, () => fn(bindings));
        spent = r.cost;
        return r;
      } catch (err) {
        if (err instanceof CostLimitExceeded) throw new CelEvaluationError(err.message, costLimit, true);
        const e = err as { summary?: string; message?: string };
        throw new CelEvaluationError((e.summary ?? e.message ?? String(err)).split('\n')[0], spent);
      }
    },
  };
}

/** optional.none() / optional.of(v) for binding optional variables (oldSelf of optionalOldSelf rules). */
export const optionalOf = (v: unknown): unknown => (v === undefined ? Optional.none() : Optional.of(v));
