// Executor of Go's text/template trees, following text/template/exec.go: pipelines, variables,
// control structures, field chains over maps and structs, and Go's error messages.
import { BUILTINS, BUILTIN_NAMES } from './builtins.js';
import { formatValue } from './gofmt.js';
import {
  errorContext,
  nodeString,
  type ChainNode,
  type CommandNode,
  type FieldNode,
  type IdentifierNode,
  type ListNode,
  type Node,
  type PipeNode,
  type TemplateNode,
  type VariableNode,
} from './nodes.js';
import { isEmptyTree, parseTemplate } from './parse.js';
import { GoStruct, goTypeName, isMap, isTrue, sortedKeys } from './values.js';

import type { FuncDef, FuncMap, ParamType } from './functypes.js';
export type { FuncDef, FuncMap, ParamType } from './functypes.js';

/** text/template's ExecError: "template: NAME:LINE:COL: executing "NAME" at <...>: msg". */
export class ExecError extends Error {
  constructor(
    message: string,
    /** The original cause (e.g. the error a function returned). */
    readonly causeMessage: string,
  ) {
    super(message);
  }
}

export type MissingKey = 'zero' | 'error' | 'default';

/** {{break}} and {{continue}} unwind to their range loop as these sentinels. */
class LoopControl extends Error {}
const BREAK = new LoopControl('break');
const CONTINUE = new LoopControl('continue');
const MAX_EXEC_DEPTH = 100000;

interface Var {
  name: string;
  value: unknown;
}

/** A set of named templates sharing one function map, like a Go *template.Template and its associates. */
export class TemplateSet {
  trees = new Map<string, ListNode>();
  missingKey: MissingKey = 'zero';
  /** The name of the template the set belongs to (Helm's is "gotpl"), as ExecuteTemplate errors name it. */
  rootName = 'root';

  constructor(public funcs: FuncMap) {}

  /** Parses text as template NAME; its defines join the set (a later non-empty definition wins). */
  /**
   * Parses text as template NAME; its defines join the set. As Go's associate() does, an empty
   * (whitespace-only) tree never replaces an existing definition. Returns NAME's own tree, which is
   * what Template.Execute runs even when the set kept an older definition under that name.
   */
  parse(name: string, text: string): ListNode {
    const parsed = parseTemplate(name, text, (f) => this.funcs.has(f) || BUILTIN_NAMES.has(f));
    for (const [n, tree] of parsed.trees) {
      if (this.trees.has(n) && isEmptyTree(tree)) continue;
      this.trees.set(n, tree);
    }
    return parsed.trees.get(name)!;
  }

  clone(): TemplateSet {
    const c = new TemplateSet(new Map(this.funcs));
    c.trees = new Map(this.trees);
    c.missingKey = this.missingKey;
    c.rootName = this.rootName;
    return c;
  }

  execute(name: string, data: unknown, tree = this.trees.get(name)): string {
    if (!tree) throw new Error(`template: no template "${name}" associated with template "${this.rootName}"`);
    const state = new State(this, name, [{ name: '$', value: data }], 0);
    state.walk(data, false, tree);
    return state.out.join('');
  }
}

class State {
  out: string[] = [];
  private node: Node | undefined;

  constructor(
    private set: TemplateSet,
    private name: string,
    private vars: Var[],
    private depth: number,
  ) {}

  private at(n: Node): void {
    this.node = n;
  }

  errorf(msg: string): never {
    const name = this.name;
    if (!this.node) throw new ExecError(`template: ${name}: ${msg}`, msg);
    const { location, context } = errorContext(this.node);
    throw new ExecError(`template: ${location}: executing "${name}" at <${context}>: ${msg}`, msg);
  }

  walk(dot: unknown, dotIface: boolean, node: Node): void {
    this.at(node);
    switch (node.type) {
      case 'list':
        for (const n of node.nodes) this.walk(dot, dotIface, n);
        return;
      case 'text':
        this.out.push(node.text);
        return;
      case 'action': {
        const val = this.evalPipeline(dot, dotIface, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, val);
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const val = this.evalPipeline(dot, dotIface, node.pipe);
        if (isTrue(val)) {
          if (node.type === 'with') this.walk(val, false, node.list);
          else this.walk(dot, dotIface, node.list);
        } else if (node.elseList) this.walk(dot, dotIface, node.elseList);
        this.vars.length = mark;
        return;
      }
      case 'range':
        return this.walkRange(dot, dotIface, node);
      case 'template':
        return this.walkTemplate(dot, dotIface, node);
      case 'break':
        throw BREAK;
      case 'continue':
        throw CONTINUE;
      default:
        this.errorf(`unknown node: ${nodeString(node)}`);
    }
  }

  private walkRange(dot: unknown, dotIface: boolean, node: Extract<Node, { type: 'range' }>): void {
    const mark = this.vars.length;
    const val = this.evalPipeline(dot, dotIface, node.pipe);
    const decl = node.pipe.decl;
    const iteration = (key: unknown, elem: unknown): boolean => {
      if (decl.length > 0) {
        if (decl.length > 1) {
          this.setTopVar(2, key);
          this.setTopVar(1, elem);
        } else this.setTopVar(1, elem);
      }
      const inner = this.vars.length;
      try {
        this.walk(elem, true, node.list);
      } catch (e) {
        if (e === CONTINUE) return true;
        if (e === BREAK) return false;
        throw e;
      } finally {
        this.vars.length = inner;
      }
      return true;
    };
    let ran = false;
    if (Array.isArray(val) || val instanceof Uint8Array) {
      const arr = Array.from(val as ArrayLike<unknown>);
      for (let i = 0; i < arr.length; i++) {
        ran = true;
        if (!iteration(BigInt(i), val instanceof Uint8Array ? BigInt(arr[i] as number) : arr[i])) break;
      }
    } else if (typeof val === 'bigint') {
      if (decl.length > 1) this.errorf(`can't use ${formatValue(val)} to iterate over more than one variable`);
      for (let i = 0n; i < val; i++) {
        ran = true;
        if (!iteration(i, i)) break;
      }
    } else if (isMap(val) || (val instanceof GoStruct && val.entries)) {
      const m = isMap(val) ? val : val.entries!;
      for (const k of sortedKeys(m)) {
        ran = true;
        if (!iteration(k, m[k])) break;
      }
    } else if (val !== undefined && val !== null) {
      this.errorf(`range can't iterate over ${formatValue(val)}`);
    }
    if (!ran && node.elseList) this.walk(dot, dotIface, node.elseList);
    this.vars.length = mark;
  }

  private walkTemplate(dot: unknown, dotIface: boolean, node: TemplateNode): void {
    this.at(node);
    const tree = this.set.trees.get(node.name);
    if (!tree) this.errorf(`template "${node.name}" not defined`);
    if (this.depth >= MAX_EXEC_DEPTH) this.errorf(`exceeded maximum template depth (${MAX_EXEC_DEPTH})`);
    const newDot = node.pipe ? this.evalPipeline(dot, dotIface, node.pipe) : undefined;
    const sub = new State(this.set, node.name, [{ name: '$', value: newDot }], this.depth + 1);
    sub.out = this.out;
    sub.walk(newDot, false, tree);
  }

  private setTopVar(n: number, value: unknown): void {
    this.vars[this.vars.length - n].value = value;
  }

  private setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i].name === name) {
        this.vars[i].value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }

  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i].name === name) return this.vars[i].value;
    return this.errorf(`undefined variable: ${name}`);
  }

  evalPipeline(dot: unknown, dotIface: boolean, pipe: PipeNode): unknown {
    this.at(pipe);
    let value: unknown = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, dotIface, cmd, value);
      // A nil interface turns into "no value" (Go's invalid reflect.Value).
      if (value === null) value = undefined;
    }
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v.ident[0], value);
      else this.vars.push({ name: v.ident[0], value });
    }
    return value;
  }

  private notAFunction(args: Node[], final: unknown): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${nodeString(args[0])}`);
  }

  private evalCommand(dot: unknown, dotIface: boolean, cmd: CommandNode, final: unknown): unknown {
    const first = cmd.args[0];
    switch (first.type) {
      case 'field':
        return this.evalFieldNode(dot, dotIface, first, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, dotIface, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, dotIface, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, dotIface, first);
      case 'variable':
        return this.evalVariableNode(dot, first, cmd.args, final);
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        this.errorf('nil is not a command');
        break;
      case 'number':
        return first.value;
      case 'string':
        return first.text;
    }
    return this.errorf(`can't evaluate command ${nodeString(first)}`);
  }

  private evalFieldNode(dot: unknown, dotIface: boolean, field: FieldNode, args: Node[], final: unknown): unknown {
    this.at(field);
    return this.evalFieldChain(dot, dotIface, dot, field, field.ident, args, final);
  }

  private evalChainNode(dot: unknown, dotIface: boolean, chain: ChainNode, args: Node[], final: unknown): unknown {
    if (chain.field.length === 0) this.errorf('internal error: no fields in evalChainNode');
    if (chain.node.type === 'nil') this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const pipe = this.evalArg(dot, dotIface, 'any', chain.node);
    return this.evalFieldChain(dot, dotIface, pipe, chain, chain.field, args, final);
  }

  private evalVariableNode(dot: unknown, variable: VariableNode, args: Node[], final: unknown): unknown {
    this.at(variable);
    const value = this.varValue(variable.ident[0]);
    if (variable.ident.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, false, value, variable, variable.ident.slice(1), args, final);
  }

  private evalFieldChain(
    dot: unknown,
    dotIface: boolean,
    receiver: unknown,
    node: Node,
    ident: string[],
    args: Node[],
    final: unknown,
  ): unknown {
    let iface = receiver === dot ? dotIface : false;
    for (let i = 0; i < ident.length - 1; i++) {
      receiver = this.evalField(dot, ident[i], node, [], MISSING, receiver, iface);
      iface = true;
    }
    return this.evalField(dot, ident[ident.length - 1], node, args, final, receiver, iface);
  }

  private evalField(
    dot: unknown,
    fieldName: string,
    node: Node,
    args: Node[],
    final: unknown,
    receiver: unknown,
    iface: boolean,
  ): unknown {
    if (receiver === undefined) {
      if (this.set.missingKey === 'error') this.errorf(`nil data; no entry for key "${fieldName}"`);
      return undefined;
    }
    const typ = iface ? 'interface {}' : goTypeName(receiver);
    if (receiver === null) this.errorf(`nil pointer evaluating ${typ}.${fieldName}`);
    const hasArgs = args.length > 1 || final !== MISSING;
    if (receiver instanceof GoStruct) {
      const method = receiver.methods[fieldName];
      if (method) return this.evalCall(dot, false, { fn: method }, node, fieldName, args, final);
      if (Object.prototype.hasOwnProperty.call(receiver.fields, fieldName)) {
        if (hasArgs) this.errorf(`${fieldName} has arguments but cannot be invoked as function`);
        return receiver.fields[fieldName];
      }
      if (receiver.entries) {
        if (hasArgs) this.errorf(`${fieldName} is not a method but has arguments`);
        return receiver.entries[fieldName];
      }
    } else if (isMap(receiver)) {
      if (hasArgs) this.errorf(`${fieldName} is not a method but has arguments`);
      if (Object.prototype.hasOwnProperty.call(receiver, fieldName)) return receiver[fieldName];
      if (this.set.missingKey === 'error') this.errorf(`map has no entry for key "${fieldName}"`);
      return this.set.missingKey === 'zero' ? null : undefined;
    }
    return this.errorf(`can't evaluate field ${fieldName} in type ${typ}`);
  }

  private evalFunction(
    dot: unknown,
    dotIface: boolean,
    node: IdentifierNode,
    cmd: CommandNode,
    args: Node[],
    final: unknown,
  ): unknown {
    this.at(node);
    const name = node.name;
    if (name === 'and' || name === 'or') return this.evalAndOr(dot, dotIface, name, cmd, args, final);
    const def = this.set.funcs.get(name) ?? BUILTINS.get(name);
    if (!def) return this.errorf(`"${name}" is not a defined function`);
    return this.evalCall(dot, dotIface, def, cmd, name, args, final);
  }

  /** and/or evaluate their arguments lazily and return the deciding one (Go 1.18+). */
  private evalAndOr(
    dot: unknown,
    dotIface: boolean,
    name: string,
    cmd: CommandNode,
    args: Node[],
    final: unknown,
  ): unknown {
    const operands = args.slice(1);
    const count = operands.length + (final !== MISSING ? 1 : 0);
    if (count < 1) {
      this.at(cmd);
      this.errorf(`wrong number of args for ${name}: want at least 1 got 0`);
    }
    let v: unknown;
    for (let i = 0; i < count; i++) {
      v = i < operands.length ? this.evalArg(dot, dotIface, 'any', operands[i]) : final;
      if (isTrue(v) === (name === 'or')) return v;
    }
    return v;
  }

  private evalCall(
    dot: unknown,
    dotIface: boolean,
    def: FuncDef,
    node: Node,
    name: string,
    args: Node[],
    final: unknown,
  ): unknown {
    const argNodes = args.slice(1);
    const params = def.params ?? [];
    const variadic = def.variadic ?? (def.params ? undefined : 'any');
    const numIn = argNodes.length + (final !== MISSING ? 1 : 0);
    if (variadic !== undefined) {
      if (numIn < params.length) {
        this.at(node);
        this.errorf(`wrong number of args for ${name}: want at least ${params.length} got ${numIn}`);
      }
    } else if (numIn !== params.length) {
      this.at(node);
      this.errorf(`wrong number of args for ${name}: want ${params.length} got ${numIn}`);
    }
    const argv: unknown[] = [];
    argNodes.forEach((a, i) => argv.push(this.evalArg(dot, dotIface, params[i] ?? variadic ?? 'any', a)));
    if (final !== MISSING) {
      const t = numIn - 1 < params.length ? params[numIn - 1] : (variadic ?? 'any');
      argv.push(this.validateType(final, t, true));
    }
    try {
      return def.fn(...argv);
    } catch (e) {
      if (e === BREAK || e === CONTINUE) throw e;
      this.at(node);
      const msg = e instanceof Error ? e.message : String(e);
      if (e instanceof RangeError && /call stack/.test(msg)) throw e;
      return this.errorf(`error calling ${name}: ${msg}`);
    }
  }

  private validateType(value: unknown, t: ParamType, piped: boolean): unknown {
    if (t === 'any') return value === undefined ? null : value;
    if (value === undefined || value === null) {
      if (t === 'list' || t === 'map') return null;
      if (piped || value === undefined) this.errorf(`invalid value; expected ${goParamName(t)}`);
      this.errorf(`wrong type for value; expected ${goParamName(t)}; got interface {}`);
    }
    const ok =
      (t === 'string' && typeof value === 'string') ||
      (t === 'int' && typeof value === 'bigint') ||
      (t === 'float64' && typeof value === 'number') ||
      (t === 'bool' && typeof value === 'boolean') ||
      (t === 'list' && Array.isArray(value)) ||
      (t === 'map' && isMap(value));
    if (!ok) this.errorf(`wrong type for value; expected ${goParamName(t)}; got ${goTypeName(value)}`);
    return value;
  }

  private evalArg(dot: unknown, dotIface: boolean, t: ParamType, n: Node): unknown {
    this.at(n);
    switch (n.type) {
      case 'dot':
        return this.validateType(dot, t, false);
      case 'nil':
        if (t === 'any' || t === 'list' || t === 'map') return null;
        return this.errorf(`cannot assign nil to ${goParamName(t)}`);
      case 'field':
        return this.validateType(this.evalFieldNode(dot, dotIface, n, [n], MISSING), t, false);
      case 'variable':
        return this.validateType(this.evalVariableNode(dot, n, [], MISSING), t, false);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, dotIface, n), t, false);
      case 'identifier': {
        const def = this.set.funcs.get(n.name) ?? BUILTINS.get(n.name);
        if (n.name === 'and' || n.name === 'or')
          return this.validateType(
            this.evalAndOr(dot, dotIface, n.name, { type: 'command', args: [n], pos: n.pos, src: n.src }, [n], MISSING),
            t,
            false,
          );
        return this.validateType(this.evalCall(dot, dotIface, def!, n, n.name, [], MISSING), t, false);
      }
      case 'chain':
        return this.validateType(this.evalChainNode(dot, dotIface, n, [], MISSING), t, false);
    }
    switch (t) {
      case 'bool':
        if (n.type === 'bool') return n.value;
        return this.errorf(`expected bool; found ${nodeString(n)}`);
      case 'string':
        if (n.type === 'string') return n.text;
        return this.errorf(`expected string; found ${nodeString(n)}`);
      case 'int':
        if (n.type === 'number' && typeof n.value === 'bigint') return n.value;
        if (n.type === 'number' && Number.isInteger(n.value)) return BigInt(n.value);
        return this.errorf(`expected integer; found ${nodeString(n)}`);
      case 'float64':
        if (n.type === 'number') return Number(n.value);
        return this.errorf(`expected float; found ${nodeString(n)}`);
      case 'any':
        if (n.type === 'bool') return n.value;
        if (n.type === 'string') return n.text;
        if (n.type === 'number') return n.value;
    }
    return this.errorf(`can't handle ${nodeString(n)} for arg of type ${goParamName(t)}`);
  }

  private printValue(n: Node, v: unknown): void {
    this.at(n);
    if (v === undefined || v === null) {
      this.out.push('<no value>');
      return;
    }
    if (typeof v === 'function') this.errorf(`can't print ${nodeString(n)} of type func`);
    this.out.push(formatValue(v));
  }
}

function goParamName(t: ParamType): string {
  return t === 'list' ? '[]interface {}' : t === 'map' ? 'map[string]interface {}' : t;
}

const MISSING = Symbol('missing');

/** Parses one text and executes it; a convenience for tests and one-off templates (e.g. --name-template). */
export function renderString(name: string, text: string, data: unknown, funcs: FuncMap = new Map()): string {
  const set = new TemplateSet(funcs);
  set.rootName = name;
  set.parse(name, text);
  return set.execute(name, data);
}
