// Parse-tree nodes of Go's text/template, with the String() forms Go prints in error contexts.

/** The text a node was parsed from: errors name the template and compute line:column from it. */
export interface TreeSource {
  name: string;
  text: string;
}

interface Base {
  pos: number;
  src: TreeSource;
}

export type Node =
  | ListNode
  | TextNode
  | ActionNode
  | IfNode
  | RangeNode
  | WithNode
  | TemplateNode
  | BreakNode
  | ContinueNode
  | PipeNode
  | CommandNode
  | FieldNode
  | VariableNode
  | IdentifierNode
  | ChainNode
  | DotNode
  | NilNode
  | BoolNode
  | NumberNode
  | StringNode;

export interface ListNode extends Base {
  type: 'list';
  nodes: Node[];
}
export interface TextNode extends Base {
  type: 'text';
  text: string;
}
export interface ActionNode extends Base {
  type: 'action';
  pipe: PipeNode;
}
interface BranchBase extends Base {
  pipe: PipeNode;
  list: ListNode;
  elseList?: ListNode;
}
export interface IfNode extends BranchBase {
  type: 'if';
}
export interface RangeNode extends BranchBase {
  type: 'range';
}
export interface WithNode extends BranchBase {
  type: 'with';
}
export interface TemplateNode extends Base {
  type: 'template';
  name: string;
  pipe?: PipeNode;
}
export interface BreakNode extends Base {
  type: 'break';
}
export interface ContinueNode extends Base {
  type: 'continue';
}
export interface PipeNode extends Base {
  type: 'pipe';
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}
export interface CommandNode extends Base {
  type: 'command';
  args: Node[];
}
export interface FieldNode extends Base {
  type: 'field';
  ident: string[];
}
export interface VariableNode extends Base {
  type: 'variable';
  ident: string[];
}
export interface IdentifierNode extends Base {
  type: 'identifier';
  name: string;
}
export interface ChainNode extends Base {
  type: 'chain';
  node: Node;
  field: string[];
}
export interface DotNode extends Base {
  type: 'dot';
}
export interface NilNode extends Base {
  type: 'nil';
}
export interface BoolNode extends Base {
  type: 'bool';
  value: boolean;
}
export interface NumberNode extends Base {
  type: 'number';
  text: string;
  /** bigint for Go int constants, number for float constants. */
  value: bigint | number;
}
export interface StringNode extends Base {
  type: 'string';
  quoted: string;
  text: string;
}

/** Go's Node.String(): the source-like form shown in "executing ... at <...>". */
export function nodeString(n: Node): string {
  switch (n.type) {
    case 'list':
      return n.nodes.map(nodeString).join('');
    case 'text':
      return n.text;
    case 'action':
      return `{{${nodeString(n.pipe)}}}`;
    case 'if':
    case 'range':
    case 'with': {
      const els = n.elseList ? `{{else}}${nodeString(n.elseList)}` : '';
      return `{{${n.type} ${nodeString(n.pipe)}}}${nodeString(n.list)}${els}{{end}}`;
    }
    case 'template':
      return n.pipe
        ? `{{template ${JSON.stringify(n.name)} ${nodeString(n.pipe)}}}`
        : `{{template ${JSON.stringify(n.name)}}}`;
    case 'break':
      return '{{break}}';
    case 'continue':
      return '{{continue}}';
    case 'pipe': {
      let s = '';
      if (n.decl.length > 0) s = n.decl.map(nodeString).join(', ') + (n.isAssign ? ' = ' : ' := ');
      return s + n.cmds.map(nodeString).join(' | ');
    }
    case 'command':
      return n.args.map((a) => (a.type === 'pipe' ? `(${nodeString(a)})` : nodeString(a))).join(' ');
    case 'field':
      return n.ident.map((i) => '.' + i).join('');
    case 'variable':
      return n.ident.join('.');
    case 'identifier':
      return n.name;
    case 'chain':
      return (
        (n.node.type === 'pipe' ? `(${nodeString(n.node)})` : nodeString(n.node)) + n.field.map((f) => '.' + f).join('')
      );
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(n.value);
    case 'number':
      return n.text;
    case 'string':
      return n.quoted;
  }
}

/** Go's parse.ErrorContext: "name:line:col" (col counted from 0 in the line) and the node text, cut at 20. */
export function errorContext(n: Node): { location: string; context: string } {
  const before = n.src.text.slice(0, n.pos);
  const lastNl = before.lastIndexOf('\n');
  const col = lastNl < 0 ? n.pos : n.pos - lastNl - 1;
  const line = 1 + (before.match(/\n/g)?.length ?? 0);
  let context = nodeString(n);
  if (context.length > 20) context = context.slice(0, 20) + '...';
  return { location: `${n.src.name}:${line}:${col}`, context };
}

export function lineOf(src: TreeSource, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < src.text.length; i++) if (src.text.charCodeAt(i) === 10) line++;
  return line;
}
