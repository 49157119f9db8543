// Helm's strvals: the --set / --set-string / --set-json syntax (a.b=c, list[0]=x, {a,b}, escapes).
import { isMap, type GoMap } from './template/values.js';

const MAX_INDEX = 65536;
const MAX_NESTED = 30;

class EOF extends Error {}
class NotList extends Error {}

type Mode = 'typed' | 'string' | 'json';

/** Sets each comma-separated assignment of `text` into `into`. */
export function parseInto(text: string, into: GoMap, mode: Mode = 'typed'): void {
  const p = new Parser([...text], into, mode);
  for (;;) {
    try {
      p.key(p.data, 0);
    } catch (e) {
      if (e instanceof EOF) return;
      throw e;
    }
  }
}

function typedVal(v: string, asString: boolean): unknown {
  if (asString) return v;
  const lower = v.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  if (lower === 'null') return null;
  if (v === '0') return 0n;
  if (v.length > 0 && v[0] !== '0' && /^[+-]?\d+$/.test(v)) {
    const n = BigInt(v);
    if (n >= -(2n ** 63n) && n < 2n ** 63n) return n;
  }
  return v;
}

class Parser {
  private pos = 0;
  constructor(
    private runes: string[],
    readonly data: GoMap,
    private mode: Mode,
  ) {}

  private read(): string | undefined {
    return this.pos < this.runes.length ? this.runes[this.pos++] : undefined;
  }

  /** Reads up to (and consuming) a stop rune; backslash escapes the next rune. */
  private until(stop: string): { text: string; last?: string } {
    let text = '';
    for (;;) {
      const r = this.read();
      if (r === undefined) return { text };
      if (r === '\\') {
        const n = this.read();
        if (n === undefined) return { text };
        text += n;
        continue;
      }
      if (stop.includes(r)) return { text, last: r };
      text += r;
    }
  }

  key(data: GoMap, level: number): void {
    const { text: k, last } = this.until('=[,.');
    if (last === undefined) {
      if (k.length === 0) throw new EOF();
      throw new Error(`key "${k}" has no value`);
    }
    switch (last) {
      case '[': {
        const i = this.keyIndex();
        const list = Array.isArray(data[k]) ? (data[k] as unknown[]) : [];
        data[k] = this.listItem(list, i, level, (partial) => (data[k] = partial));
        return;
      }
      case '=': {
        if (this.mode === 'json') {
          const text = this.jsonValue();
          try {
            data[k] = JSON.parse(text) as unknown;
          } catch (e) {
            throw new Error(`failed to parse json for key "${k}": ${(e as Error).message}`, { cause: e });
          }
          return;
        }
        let list: unknown[];
        try {
          list = this.valList();
        } catch (e) {
          if (e instanceof EOF) {
            data[k] = '';
            throw e;
          }
          if (!(e instanceof NotList)) throw e;
          const { text, last: l } = this.until(',');
          data[k] = typedVal(text, this.mode === 'string');
          if (l === undefined) throw new EOF();
          return;
        }
        data[k] = list;
        return;
      }
      case ',':
        data[k] = '';
        throw new Error(`key "${k}" has no value (cannot end with ,)`);
      case '.': {
        if (level + 1 > MAX_NESTED)
          throw new Error(`value name nested level is greater than maximum supported nested level of ${MAX_NESTED}`);
        const inner: GoMap = isMap(data[k]) ? data[k] : {};
        let err: Error | undefined;
        try {
          this.key(inner, level + 1);
        } catch (e) {
          err = e as Error;
        }
        if (err === undefined && Object.keys(inner).length === 0) throw new Error(`key map "${k}" has no value`);
        if (Object.keys(inner).length > 0) data[k] = inner;
        if (err !== undefined) throw err;
        return;
      }
    }
  }

  /** One JSON value (commas inside brackets and strings belong to it), consuming a following ','. */
  private jsonValue(): string {
    let depth = 0;
    let inString = false;
    let text = '';
    for (;;) {
      const r = this.read();
      if (r === undefined) return text;
      if (inString) {
        if (r === '\\') text += r + (this.read() ?? '');
        else {
          if (r === '"') inString = false;
          text += r;
        }
        continue;
      }
      if (r === ',' && depth === 0) return text;
      if (r === '"') inString = true;
      else if (r === '[' || r === '{') depth++;
      else if (r === ']' || r === '}') depth--;
      text += r;
    }
  }

  private keyIndex(): number {
    const { text } = this.until(']');
    if (!/^\d+$/.test(text)) throw new Error(`strconv.Atoi: parsing "${text}": invalid syntax`);
    const i = Number(text);
    if (i > MAX_INDEX) throw new Error(`index of ${i} is greater than maximum supported index of ${MAX_INDEX}`);
    return i;
  }

  /** Sets list[i] from what follows "]"; `onPartial` stores the list before an end-of-input unwinds. */
  private listItem(list: unknown[], i: number, level: number, onPartial: (l: unknown[]) => void): unknown[] {
    if (i < 0) throw new Error(`negative ${i} index not allowed`);
    const r = this.read();
    const out = [...list];
    while (out.length <= i) out.push(null);
    switch (r) {
      case undefined:
        throw new EOF();
      case '=': {
        if (this.mode === 'json') {
          out[i] = JSON.parse(this.jsonValue()) as unknown;
          return out;
        }
        try {
          out[i] = this.valList();
        } catch (e) {
          if (e instanceof EOF) {
            out[i] = '';
            return out;
          }
          if (!(e instanceof NotList)) throw e;
          out[i] = typedVal(this.until(',').text, this.mode === 'string');
        }
        return out;
      }
      case '[': {
        const j = this.keyIndex();
        const inner = Array.isArray(out[i]) ? (out[i] as unknown[]) : [];
        out[i] = this.listItem(inner, j, level, (partial) => {
          out[i] = partial;
          onPartial(out);
        });
        return out;
      }
      case '.': {
        const inner: GoMap = isMap(out[i]) ? out[i] : {};
        out[i] = inner;
        onPartial(out);
        this.key(inner, level);
        return out;
      }
      default:
        throw new Error(`parse error: unexpected token ${r}`);
    }
  }

  private valList(): unknown[] {
    const r = this.read();
    if (r === undefined) throw new EOF();
    if (r !== '{') {
      this.pos--;
      throw new NotList();
    }
    const list: unknown[] = [];
    for (;;) {
      const { text, last } = this.until(',}');
      if (last === undefined) throw new Error("list must terminate with '}'");
      if (last === '}') {
        const n = this.read();
        if (n !== undefined && n !== ',') this.pos--;
        if (text.length > 0) list.push(typedVal(text, this.mode === 'string'));
        return list;
      }
      list.push(typedVal(text, this.mode === 'string'));
    }
  }
}

/** Helm's mergeMaps for values files and flags: later wins, maps merge recursively. */
export function mergeMaps(a: GoMap, b: GoMap): GoMap {
  const out: GoMap = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (isMap(v) && isMap(out[k])) out[k] = mergeMaps(out[k], v);
    else out[k] = v;
  }
  return out;
}
