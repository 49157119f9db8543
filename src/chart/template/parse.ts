// Parser of Go's text/template: builds the main tree of a text plus the trees of its `define`s.
import { lex, TemplateSyntaxError, type Token } from './lex.js';
import {
  lineOf,
  type CommandNode,
  type ListNode,
  type Node,
  type PipeNode,
  type TreeSource,
  type VariableNode,
} from './nodes.js';

/** Thrown for syntax errors; message is Go's "template: NAME:LINE: ...". */
export class ParseError extends Error {}

export interface ParsedTemplates {
  /** Trees by template name; the main text is under the given name. */
  trees: Map<string, ListNode>;
}

/** Go's parse.IsEmptyTree: only whitespace text (and nothing else). */
export function isEmptyTree(n: ListNode): boolean {
  return n.nodes.every((c) => c.type === 'text' && c.text.trim() === '');
}

export function parseTemplate(name: string, text: string, hasFunction: (name: string) => boolean): ParsedTemplates {
  const src: TreeSource = { name, text };
  let tokens: Token[];
  try {
    tokens = lex(text);
  } catch (e) {
    if (e instanceof TemplateSyntaxError) throw new ParseError(`template: ${name}:${lineOf(src, e.pos)}: ${e.message}`);
    throw e;
  }
  return new Parser(src, tokens, hasFunction).parseTop();
}

type EndKind = 'end' | 'else' | 'eof';

class Parser {
  private i = 0;
  private vars: string[][] = [['$']];
  private rangeDepth = 0;
  private trees = new Map<string, ListNode>();

  constructor(
    private src: TreeSource,
    private tokens: Token[],
    private hasFunction: (name: string) => boolean,
  ) {}

  private fail(msg: string, pos = this.tokens[Math.max(0, this.i - 1)].pos): never {
    throw new ParseError(`template: ${this.src.name}:${lineOf(this.src, pos)}: ${msg}`);
  }
  private peek(): Token {
    return this.tokens[this.i];
  }
  private next(): Token {
    return this.tokens[this.i++];
  }
  private peekNonSpace(): Token {
    while (this.tokens[this.i].kind === 'space') this.i++;
    return this.tokens[this.i];
  }
  private nextNonSpace(): Token {
    this.peekNonSpace();
    return this.next();
  }
  private expect(kind: Token['kind'], context: string): Token {
    const t = this.nextNonSpace();
    if (t.kind !== kind) this.unexpected(t, context);
    return t;
  }
  private unexpected(t: Token, context: string): never {
    const desc = t.kind === 'right' ? '"}}"' : t.kind === 'eof' ? 'EOF' : `<${t.value}>`;
    return this.fail(`unexpected ${desc} in ${context}`, t.pos);
  }

  parseTop(): ParsedTemplates {
    const root: ListNode = { type: 'list', nodes: [], pos: 0, src: this.src };
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') break;
      if (t.kind === 'left') {
        const save = this.i;
        this.next();
        const kw = this.peekNonSpace();
        if (kw.kind === 'keyword' && kw.value === 'define') {
          this.next();
          this.parseDefine();
          continue;
        }
        this.i = save;
      }
      const [node, end] = this.textOrAction();
      if (end) this.fail(`unexpected {{${end}}}`, t.pos);
      if (node) root.nodes.push(node);
    }
    this.addTree(this.src.name, root);
    return { trees: this.trees };
  }

  private addTree(name: string, list: ListNode): void {
    const old = this.trees.get(name);
    if (old && !isEmptyTree(old) && !isEmptyTree(list))
      this.fail(`template: multiple definition of template "${name}"`);
    if (!old || isEmptyTree(old)) this.trees.set(name, list);
  }

  private parseDefine(): void {
    const nameTok = this.nextNonSpace();
    if (nameTok.kind !== 'string' && nameTok.kind !== 'rawString') this.unexpected(nameTok, 'define clause');
    const name = unquote(nameTok.value);
    this.expect('right', 'define clause');
    const savedVars = this.vars;
    this.vars = [['$']];
    const [list, end] = this.itemList(nameTok.pos);
    if (end !== 'end') this.fail(`unexpected {{else}} in define clause`);
    this.vars = savedVars;
    this.addTree(name, list);
  }

  /** Parses items up to {{end}} or {{else}}; returns which one ended it (the keyword is consumed). */
  private itemList(pos: number): [ListNode, EndKind] {
    const list: ListNode = { type: 'list', nodes: [], pos, src: this.src };
    for (;;) {
      if (this.peek().kind === 'eof') this.fail('unexpected EOF', this.peek().pos);
      const [node, end] = this.textOrAction();
      if (end) return [list, end];
      if (node) list.nodes.push(node);
    }
  }

  private textOrAction(): [Node | undefined, EndKind | undefined] {
    const t = this.next();
    if (t.kind === 'text') return [{ type: 'text', text: t.value, pos: t.pos, src: this.src }, undefined];
    if (t.kind === 'comment') return [undefined, undefined];
    if (t.kind !== 'left') this.unexpected(t, 'input');
    return this.action(t.pos);
  }

  private action(leftPos: number): [Node | undefined, EndKind | undefined] {
    const t = this.peekNonSpace();
    if (t.kind === 'keyword') {
      this.next();
      switch (t.value) {
        case 'end':
          this.expect('right', 'end');
          return [undefined, 'end'];
        case 'else':
          return [undefined, 'else'];
        case 'if':
        case 'range':
        case 'with':
          return [this.branch(t.value, t.pos), undefined];
        case 'template':
        case 'block':
          return [this.templateCall(t.value, t.pos), undefined];
        case 'break':
        case 'continue':
          if (this.rangeDepth === 0) this.fail(`{{${t.value}}} outside {{range}}`, t.pos);
          this.expect('right', t.value);
          return [{ type: t.value, pos: t.pos, src: this.src }, undefined];
        case 'define':
          this.fail('unexpected <define> in command', t.pos);
      }
    }
    const pipe = this.pipeline('command', 'right');
    return [{ type: 'action', pipe, pos: leftPos, src: this.src }, undefined];
  }

  private branch(kind: 'if' | 'range' | 'with', pos: number): Node {
    this.vars.push([]);
    const pipe = this.pipeline(kind, 'right');
    if (kind === 'range') this.rangeDepth++;
    const [list, end] = this.itemList(pos);
    if (kind === 'range') this.rangeDepth--;
    let elseList: ListNode | undefined;
    if (end === 'else') {
      const nxt = this.peekNonSpace();
      // "{{else if ...}}" / "{{else with ...}}" nest a branch in the else list with a shared {{end}}.
      if (
        (kind === 'if' && nxt.kind === 'keyword' && nxt.value === 'if') ||
        (kind === 'with' && nxt.kind === 'keyword' && nxt.value === 'with')
      ) {
        this.next();
        this.vars.pop();
        const inner = this.branch(kind, nxt.pos);
        elseList = { type: 'list', nodes: [inner], pos: nxt.pos, src: this.src };
        return { type: kind, pipe, list, elseList, pos, src: this.src };
      }
      this.expect('right', 'else');
      const [els, end2] = this.itemList(pos);
      if (end2 !== 'end') this.fail('expected end; found {{else}}');
      elseList = els;
    }
    this.vars.pop();
    return { type: kind, pipe, list, elseList, pos, src: this.src };
  }

  private templateCall(kind: string, pos: number): Node {
    const context = `${kind} clause`;
    const nameTok = this.nextNonSpace();
    if (nameTok.kind !== 'string' && nameTok.kind !== 'rawString') this.unexpected(nameTok, context);
    const name = unquote(nameTok.value);
    let pipe: PipeNode | undefined;
    if (this.peekNonSpace().kind !== 'right') pipe = this.pipeline(context, 'right');
    else this.next();
    if (kind === 'block') {
      const savedVars = this.vars;
      this.vars = [['$']];
      const [list, end] = this.itemList(pos);
      this.vars = savedVars;
      if (end !== 'end') this.fail('unexpected {{else}} in block clause');
      this.addTree(name, list);
    }
    return { type: 'template', name, pipe, pos, src: this.src };
  }

  /** Go's pipeline(): optional declarations, then commands separated by '|' up to the end token. */
  private pipeline(context: string, end: 'right' | 'rparen'): PipeNode {
    const start = this.peekNonSpace();
    const pipe: PipeNode = { type: 'pipe', isAssign: false, decl: [], cmds: [], pos: start.pos, src: this.src };
    if (start.kind === 'variable') {
      const save = this.i;
      const decls: VariableNode[] = [];
      let ok = false;
      for (;;) {
        const v = this.nextNonSpace();
        if (v.kind !== 'variable') break;
        const op = this.peekNonSpace();
        if (op.kind === 'declare' || op.kind === 'assign') {
          this.next();
          decls.push({ type: 'variable', ident: [v.value], pos: v.pos, src: this.src });
          pipe.isAssign = op.kind === 'assign';
          ok = true;
          break;
        }
        if (op.kind === 'comma' && context === 'range' && decls.length === 0) {
          this.next();
          decls.push({ type: 'variable', ident: [v.value], pos: v.pos, src: this.src });
          continue;
        }
        break;
      }
      if (ok) {
        pipe.decl = decls;
        for (const d of decls) {
          if (pipe.isAssign) {
            if (!this.hasVar(d.ident[0])) this.fail(`undefined variable "${d.ident[0]}"`, d.pos);
          } else this.vars[this.vars.length - 1].push(d.ident[0]);
        }
      } else this.i = save;
    }
    for (;;) {
      const t = this.peekNonSpace();
      if (t.kind === end) {
        this.next();
        if (pipe.cmds.length === 0) this.fail(`missing value for ${context}`, t.pos);
        // Only the first stage may be a constant; later ones receive the previous value.
        pipe.cmds.slice(1).forEach((c, i) => {
          if (['bool', 'dot', 'nil', 'number', 'string'].includes(c.args[0].type))
            this.fail(`non executable command in pipeline stage ${i + 2}`, t.pos);
        });
        return pipe;
      }
      if (t.kind === 'eof' || t.kind === 'right' || t.kind === 'rparen') this.unexpected(t, context);
      pipe.cmds.push(this.command());
    }
  }

  private hasVar(name: string): boolean {
    return this.vars.some((scope) => scope.includes(name));
  }

  private command(): CommandNode {
    const cmd: CommandNode = { type: 'command', args: [], pos: this.peekNonSpace().pos, src: this.src };
    for (;;) {
      this.peekNonSpace();
      const op = this.operand();
      if (op) cmd.args.push(op);
      const t = this.next();
      if (t.kind === 'space') continue;
      if (t.kind === 'right' || t.kind === 'rparen') this.i--;
      else if (t.kind !== 'pipe') this.unexpected(t, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.fail('empty command');
    return cmd;
  }

  private operand(): Node | undefined {
    const term = this.term();
    if (!term) return undefined;
    if (this.peek().kind !== 'field') return term;
    const fields: string[] = [];
    const pos = this.peek().pos;
    while (this.peek().kind === 'field') fields.push(this.next().value.slice(1));
    // Go positions a field/variable chain at its first chained field (parse.go operand()).
    switch (term.type) {
      case 'field':
        return { ...term, ident: [...term.ident, ...fields], pos };
      case 'variable':
        return { ...term, ident: [...term.ident, ...fields], pos };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        this.fail(
          `unexpected . after term "${term.type === 'string' ? term.quoted : term.type === 'dot' ? '.' : term.type === 'nil' ? 'nil' : term.type === 'bool' ? String(term.value) : term.text}"`,
          pos,
        );
        break;
      default:
        return { type: 'chain', node: term, field: fields, pos, src: this.src };
    }
  }

  private term(): Node | undefined {
    const t = this.nextNonSpace();
    const src = this.src;
    switch (t.kind) {
      case 'ident':
        if (!this.hasFunction(t.value)) this.fail(`function "${t.value}" not defined`, t.pos);
        return { type: 'identifier', name: t.value, pos: t.pos, src };
      case 'dot':
        return { type: 'dot', pos: t.pos, src };
      case 'nil':
        return { type: 'nil', pos: t.pos, src };
      case 'variable':
        if (!this.hasVar(t.value)) this.fail(`undefined variable "${t.value}"`, t.pos);
        return { type: 'variable', ident: [t.value], pos: t.pos, src };
      case 'field':
        return { type: 'field', ident: [t.value.slice(1)], pos: t.pos, src };
      case 'bool':
        return { type: 'bool', value: t.value === 'true', pos: t.pos, src };
      case 'char':
      case 'number':
        return { type: 'number', text: t.value, value: this.number(t), pos: t.pos, src };
      case 'lparen': {
        const p = this.pipeline('parenthesized pipeline', 'rparen');
        return p;
      }
      case 'string':
      case 'rawString':
        return { type: 'string', quoted: t.value, text: unquote(t.value), pos: t.pos, src };
    }
    this.i--;
    return undefined;
  }

  private number(t: Token): bigint | number {
    if (t.kind === 'char') {
      const s = unquote('"' + t.value.slice(1, -1).replace(/"/g, '\\"') + '"');
      return BigInt(s.codePointAt(0) ?? 0);
    }
    const text = t.value.replace(/_/g, '');
    if (text.endsWith('i')) this.fail(`complex constants are not supported: ${t.value}`, t.pos);
    const isHex = /^[+-]?0[xX]/.test(text);
    if (!isHex && /[.eE]/.test(text)) {
      const f = Number(text);
      if (Number.isNaN(f)) this.fail(`illegal number syntax: "${t.value}"`, t.pos);
      return f;
    }
    try {
      const neg = text.startsWith('-');
      const body = text.replace(/^[+-]/, '');
      let v: bigint;
      if (/^0[oO]/.test(body)) v = BigInt('0o' + body.slice(2));
      else if (/^0[0-7]+$/.test(body)) v = BigInt('0o' + body.slice(1));
      else v = BigInt(body);
      return neg ? -v : v;
    } catch {
      return this.fail(`illegal number syntax: "${t.value}"`, t.pos);
    }
  }
}

/** Go's strconv.Unquote for "..." and `...` literals. */
export function unquote(q: string): string {
  if (q.startsWith('`')) return q.slice(1, -1);
  const body = q.slice(1, -1);
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g, (_m, e: string) => {
    switch (e[0]) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'a':
        return '\x07';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case 'x':
        return String.fromCharCode(parseInt(e.slice(1), 16));
      case 'u':
      case 'U':
        return String.fromCodePoint(parseInt(e.slice(1), 16));
      default:
        if (/^[0-7]{3}$/.test(e)) return String.fromCharCode(parseInt(e, 8));
        return e;
    }
  });
}
