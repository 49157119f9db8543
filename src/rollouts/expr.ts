// The condition language of Argo Rollouts' metrics (successCondition/failureCondition, evaluated
// by expr-lang/expr over `result`): the part conditions use — literals (numbers, 'strings',
// "strings", true, false, nil, [lists]), `result` and member/index access (result.a, result[0],
// result['k']), unary ! not -, * / %, + -, comparisons, == !=, in, && and, || or, `a ? b : c`,
// and the functions Argo adds or expr has that conditions call: len, asInt, asFloat, isNaN,
// isInf, isNil, default, abs, min, max, all/any/none with `{# > 0}`-style predicates.

type Value = unknown;
type Node =
  | { t: 'lit'; v: Value }
  | { t: 'id'; name: string }
  | { t: 'hash' }
  | { t: 'list'; items: Node[] }
  | { t: 'member'; obj: Node; key: Node }
  | { t: 'call'; fn: string; args: Node[] }
  | { t: 'pred'; body: Node }
  | { t: 'un'; op: string; x: Node }
  | { t: 'bin'; op: string; a: Node; b: Node }
  | { t: 'cond'; c: Node; a: Node; b: Node };

export class ExprError extends Error {}

const TOKEN =
  /\s*(?:(\d+\.\d*(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?|\d+(?:e[+-]?\d+)?)|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|([A-Za-z_$][\w$]*)|(==|!=|<=|>=|&&|\|\||[-+*/%<>!()[\]{}.,?:#]))/y;

function tokenize(src: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(src);
    if (!m) throw new ExprError(`unexpected character at ${pos} in ${JSON.stringify(src)}`);
    out.push(m[1] ?? m[2] ?? m[3] ?? m[4]);
    pos = TOKEN.lastIndex;
  }
  return out;
}

const BINARY: Record<string, number> = {
  '||': 1,
  or: 1,
  '&&': 2,
  and: 2,
  '==': 3,
  '!=': 3,
  '<': 4,
  '<=': 4,
  '>': 4,
  '>=': 4,
  in: 4,
  '+': 5,
  '-': 5,
  '*': 6,
  '/': 6,
  '%': 6,
};

function parse(src: string): Node {
  const toks = tokenize(src);
  let i = 0;
  const peek = () => toks[i];
  const next = () => toks[i++];
  const expect = (t: string) => {
    if (toks[i] !== t) throw new ExprError(`expected ${t} in ${JSON.stringify(src)}`);
    i++;
  };
  const unescape = (s: string) => JSON.parse(`"${s.slice(1, -1).replace(/\\'/g, "'").replace(/"/g, '\\"')}"`) as string;

  function primary(): Node {
    const t = next();
    if (t === undefined) throw new ExprError(`unexpected end of ${JSON.stringify(src)}`);
    let n: Node;
    if (/^[\d.]/.test(t) && t !== '.') n = { t: 'lit', v: Number(t) };
    else if (t[0] === "'" || t[0] === '"') n = { t: 'lit', v: unescape(t) };
    else if (t === '(') {
      n = expression(0);
      expect(')');
    } else if (t === '[') {
      const items: Node[] = [];
      while (peek() !== ']') {
        items.push(expression(0));
        if (peek() === ',') next();
      }
      expect(']');
      n = { t: 'list', items };
    } else if (t === '{') {
      n = { t: 'pred', body: expression(0) };
      expect('}');
    } else if (t === '#') n = { t: 'hash' };
    else if (t === '!' || t === 'not' || t === '-') n = { t: 'un', op: t === 'not' ? '!' : t, x: unary() };
    else if (t === 'true' || t === 'false') n = { t: 'lit', v: t === 'true' };
    else if (t === 'nil') n = { t: 'lit', v: null };
    else if (/^[A-Za-z_$]/.test(t)) {
      if (peek() === '(') {
        next();
        const args: Node[] = [];
        while (peek() !== ')') {
          args.push(expression(0));
          if (peek() === ',') next();
        }
        expect(')');
        n = { t: 'call', fn: t, args };
      } else n = { t: 'id', name: t };
    } else throw new ExprError(`unexpected ${t} in ${JSON.stringify(src)}`);
    for (;;) {
      if (peek() === '.') {
        next();
        const key = next();
        if (!key || !/^[A-Za-z_$]/.test(key)) throw new ExprError(`expected a field name in ${JSON.stringify(src)}`);
        n = { t: 'member', obj: n, key: { t: 'lit', v: key } };
      } else if (peek() === '[') {
        next();
        const key = expression(0);
        expect(']');
        n = { t: 'member', obj: n, key };
      } else return n;
    }
  }
  function unary(): Node {
    return primary();
  }
  function expression(minPrec: number): Node {
    let left = unary();
    for (;;) {
      const op = peek();
      if (op === '?' && minPrec === 0) {
        next();
        const a = expression(0);
        expect(':');
        const b = expression(0);
        left = { t: 'cond', c: left, a, b };
        continue;
      }
      const prec = op === undefined ? undefined : BINARY[op];
      if (prec === undefined || prec < minPrec) return left;
      next();
      const right = expression(prec + 1);
      left = { t: 'bin', op, a: left, b: right };
    }
  }
  const tree = expression(0);
  if (i < toks.length) throw new ExprError(`unexpected ${toks[i]} in ${JSON.stringify(src)}`);
  return tree;
}

const isNum = (v: Value): v is number => typeof v === 'number';

function num(v: Value, what: string): number {
  if (typeof v === 'number') return v;
  throw new ExprError(`${what}: ${JSON.stringify(v)} is not a number`);
}

function equal(a: Value, b: Value): boolean {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (isNum(a) && isNum(b)) return a === b;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return a === b;
  return JSON.stringify(a) === JSON.stringify(b);
}

function asFloat(v: Value): number {
  if (typeof v === 'number') return v;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (Number.isNaN(n) && !/^\s*nan\s*$/i.test(String(v)))
    throw new ExprError(`asFloat: cannot convert ${JSON.stringify(v)}`);
  return n;
}

function evaluate(n: Node, env: Record<string, Value>, hash?: Value): Value {
  const ev = (x: Node) => evaluate(x, env, hash);
  switch (n.t) {
    case 'lit':
      return n.v;
    case 'hash':
      return hash;
    case 'id':
      if (!(n.name in env)) throw new ExprError(`unknown name ${n.name}`);
      return env[n.name];
    case 'list':
      return n.items.map(ev);
    case 'pred':
      return n;
    case 'member': {
      const obj = ev(n.obj);
      const key = ev(n.key);
      if (obj === null || obj === undefined) return null;
      if (Array.isArray(obj)) {
        const idx = num(key, 'index');
        const at = idx < 0 ? obj.length + idx : idx;
        if (at < 0 || at >= obj.length)
          throw new ExprError(`index out of range: ${idx} (array of length ${obj.length})`);
        return obj[at] as Value;
      }
      if (typeof obj === 'object') return (obj as Record<string, Value>)[String(key)] ?? null;
      throw new ExprError(`cannot fetch ${String(key)} from ${typeof obj}`);
    }
    case 'un': {
      const x = ev(n.x);
      if (n.op === '!') return !truthy(x);
      return -num(x, 'unary -');
    }
    case 'cond':
      return truthy(ev(n.c)) ? ev(n.a) : ev(n.b);
    case 'bin': {
      if (n.op === '&&' || n.op === 'and') return truthy(ev(n.a)) && truthy(ev(n.b));
      if (n.op === '||' || n.op === 'or') return truthy(ev(n.a)) || truthy(ev(n.b));
      const a = ev(n.a);
      const b = ev(n.b);
      switch (n.op) {
        case '==':
          return equal(a, b);
        case '!=':
          return !equal(a, b);
        case 'in':
          if (Array.isArray(b)) return b.some((x) => equal(x, a));
          if (b && typeof b === 'object') return String(a) in b;
          if (typeof b === 'string') return b.includes(String(a));
          throw new ExprError(`operator in not defined on ${typeof b}`);
        case '+':
          if (typeof a === 'string' && typeof b === 'string') return a + b;
          return num(a, '+') + num(b, '+');
        case '-':
          return num(a, '-') - num(b, '-');
        case '*':
          return num(a, '*') * num(b, '*');
        case '/':
          return num(a, '/') / num(b, '/');
        case '%':
          return num(a, '%') % num(b, '%');
        default: {
          if (typeof a === 'string' && typeof b === 'string') {
            return n.op === '<' ? a < b : n.op === '<=' ? a <= b : n.op === '>' ? a > b : a >= b;
          }
          const x = num(a, n.op);
          const y = num(b, n.op);
          return n.op === '<' ? x < y : n.op === '<=' ? x <= y : n.op === '>' ? x > y : x >= y;
        }
      }
    }
    case 'call':
      return call(n, env, hash);
  }
}

function truthy(v: Value): boolean {
  if (typeof v !== 'boolean') throw new ExprError(`expected a bool, got ${JSON.stringify(v)}`);
  return v;
}

function call(n: Extract<Node, { t: 'call' }>, env: Record<string, Value>, hash?: Value): Value {
  const args = () => n.args.map((a) => evaluate(a, env, hash));
  const list = (v: Value): Value[] => {
    if (!Array.isArray(v)) throw new ExprError(`${n.fn}: expected an array`);
    return v as Value[];
  };
  switch (n.fn) {
    case 'len': {
      const [v] = args();
      if (typeof v === 'string' || Array.isArray(v)) return v.length;
      if (v && typeof v === 'object') return Object.keys(v).length;
      throw new ExprError(`len: invalid argument ${JSON.stringify(v)}`);
    }
    case 'asFloat':
      return asFloat(args()[0]);
    case 'asInt': {
      const v = args()[0];
      const f = typeof v === 'string' ? Number(v) : v;
      if (typeof f !== 'number' || !Number.isInteger(f))
        throw new ExprError(`asInt: cannot convert ${JSON.stringify(v)} to an integer`);
      return f;
    }
    case 'isNaN':
      return Number.isNaN(num(args()[0], 'isNaN'));
    case 'isInf': {
      const v = num(args()[0], 'isInf');
      return v === Infinity || v === -Infinity;
    }
    case 'isNil': {
      const v = args()[0];
      return v === null || v === undefined;
    }
    case 'default': {
      const [v, d] = args();
      return v === null || v === undefined || v === '' ? d : v;
    }
    case 'abs':
      return Math.abs(num(args()[0], 'abs'));
    case 'min':
    case 'max': {
      const xs = args().flatMap((v) => (Array.isArray(v) ? (v as Value[]) : [v]));
      const ns = xs.map((x) => num(x, n.fn));
      return n.fn === 'min' ? Math.min(...ns) : Math.max(...ns);
    }
    case 'all':
    case 'any':
    case 'none':
    case 'filter': {
      const items = list(evaluate(n.args[0], env, hash));
      const p = n.args[1];
      if (p?.t !== 'pred') throw new ExprError(`${n.fn}: the second argument must be a predicate {...}`);
      const test = (x: Value) => truthy(evaluate(p.body, env, x));
      if (n.fn === 'all') return items.every(test);
      if (n.fn === 'any') return items.some(test);
      if (n.fn === 'none') return !items.some(test);
      return items.filter(test);
    }
    default:
      throw new ExprError(`unknown function ${n.fn}`);
  }
}

/** Evaluates a condition over `result`; it must give a bool (as Argo requires). */
export function evalCondition(condition: string, result: unknown): boolean {
  const v = evaluate(parse(condition), { result });
  if (typeof v !== 'boolean') throw new ExprError(`expected bool, but got ${typeof v}`);
  return v;
}
