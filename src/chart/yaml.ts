// YAML as Helm sees it: parsing the way sigs.k8s.io/yaml does (YAML 1.1 scalars, numbers become
// float64, timestamps stay strings, later duplicate keys win) and emitting the way go-yaml v2
// prints (sorted keys with its natural order, indentless sequences, quoting by resolved tag,
// literal blocks for multi-line strings, folding of long scalars at 80 columns).
import YAML from 'yaml';
import { formatFloat } from './template/gofmt.js';
import { GoStruct, isMap } from './template/values.js';

const parseOptions = {
  version: '1.1' as const,
  uniqueKeys: false,
  merge: true,
  // go-yaml v2 keeps timestamps and sexagesimal numbers as strings when decoding into interface{}.
  customTags: (tags: YAML.Tags) =>
    tags.filter((t) =>
      typeof t === 'string'
        ? t !== 'timestamp' && !t.endsWith('Time')
        : !t.tag.endsWith(':timestamp') && t.format !== 'TIME',
    ),
};

/** YAML text → JS values (maps as plain objects, numbers as float64 `number`). */
export function parseYaml(text: string): unknown {
  const doc = YAML.parseDocument(text, parseOptions);
  if (doc.errors.length > 0) throw new YamlError(goYamlMessage(doc.errors[0], text));
  return normalize(doc.toJS({ maxAliasCount: -1 }));
}

/** Only what Helm's SimpleHead reads (kind, metadata.annotations); the document is still fully checked. */
export function parseYamlHead(text: string): { value: unknown; kind?: unknown; annotations?: unknown } {
  // Syntax does not depend on the schema; the failsafe one skips resolving every scalar's type.
  const doc = YAML.parseDocument(text, { schema: 'failsafe', uniqueKeys: false });
  if (doc.errors.length > 0) throw new YamlError(goYamlMessage(doc.errors[0], text));
  const contents = doc.contents;
  if (!YAML.isMap(contents)) return { value: parseYaml(text) };
  const annotations = doc.getIn(['metadata', 'annotations']);
  return {
    value: {},
    kind: normalize(doc.get('kind')),
    annotations: YAML.isMap(annotations) ? normalize(annotations.toJSON()) : normalize(annotations),
  };
}

/** Every document of a multi-document stream. */
export function parseAllYaml(text: string): unknown[] {
  return YAML.parseAllDocuments(text, parseOptions).map((d) => {
    if ('errors' in d && d.errors.length > 0) throw new YamlError(goYamlMessage(d.errors[0], text));
    return normalize(d.toJS());
  });
}

export class YamlError extends Error {}

/** Approximates go-yaml's scanner messages ("yaml: line N: ...") for the common errors. */
function goYamlMessage(err: YAML.YAMLError, _text: string): string {
  const line = err.linePos?.[0].line ?? 1;
  const endLine = err.linePos?.[1]?.line ?? line;
  switch (err.code) {
    case 'MISSING_CHAR':
      // go-yaml notices the missing ':' only on the next line (or at the stream end's forced newline).
      return `yaml: line ${line + 1}: could not find expected ':'`;
    case 'MULTILINE_IMPLICIT_KEY':
      return `yaml: line ${endLine}: mapping values are not allowed in this context`;
    case 'BAD_INDENT':
      return `yaml: line ${line}: did not find expected key`;
    case 'TAB_AS_INDENT':
      return `yaml: line ${line}: found character that cannot start any token`;
  }
  return `yaml: line ${line}: ${err.message.split('\n')[0]}`;
}

/** Keys become strings (as the YAML→JSON step does), Dates are not produced, undefined → null. */
function normalize(v: unknown): unknown {
  if (v === undefined) return null;
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, val] of v) o[String(k)] = normalize(val);
    return o;
  }
  if (Array.isArray(v)) return v.map(normalize);
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (typeof v === 'object' && v !== null) {
    const o: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) o[k] = normalize(val);
    return o;
  }
  return v;
}

// ---- emitter ----

/** What json.Marshal would make of a value (the first half of sigs.k8s.io/yaml.Marshal). */
export function toJsonValue(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (v instanceof GoStruct) return v.json ? toJsonValue(v.json()) : null;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (isMap(v)) {
    const o: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) o[k] = toJsonValue(val);
    return o;
  }
  if (typeof v === 'function') throw new Error('json: unsupported type: func');
  return v;
}

/** go-yaml v2's key order: runs of digits compare as numbers, non-letters before letters. */
export function yamlKeyLess(a: string, b: string): boolean {
  const ar = [...a];
  const br = [...b];
  const isLetter = (c: string) => {
    const code = c.charCodeAt(0);
    return code < 0x80 ? (code >= 65 && code <= 90) || (code >= 97 && code <= 122) : /\p{L}/u.test(c);
  };
  const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) continue;
    const al = isLetter(ar[i]);
    const bl = isLetter(br[i]);
    if (al && bl) return ar[i] < br[i];
    if (al || bl) return bl;
    let an = 0n;
    let bn = 0n;
    if (ar[i] === '0' || br[i] === '0') {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]); j--) {
        if (ar[j] !== '0') {
          an = 1n;
          bn = 1n;
          break;
        }
      }
    }
    let ai = i;
    let bi = i;
    for (; ai < ar.length && isDigit(ar[ai]); ai++) an = an * 10n + BigInt(ar[ai].charCodeAt(0) - 48);
    for (; bi < br.length && isDigit(br[bi]); bi++) bn = bn * 10n + BigInt(br[bi].charCodeAt(0) - 48);
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return ar[i] < br[i];
  }
  return ar.length < br.length;
}

const BOOL_OR_NULL = new Set(
  'y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off OFF null Null NULL ~ .nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF <<'.split(
    ' ',
  ),
);

/** Whether go-yaml would read the plain scalar s as something other than a string. */
function resolvesToNonString(s: string): boolean {
  if (s === '' || BOOL_OR_NULL.has(s)) return true;
  const plain = s.replace(/_/g, '');
  if (/^[-+]?(0b[01]+|0o?[0-7]+|0x[0-9a-fA-F]+|[0-9]+)$/.test(plain)) return true;
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(plain)) return true;
  if (
    /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]*)?(Z|[-+][0-9]{1,2}(:[0-9]{2})?)?)?$/.test(
      s,
    )
  )
    return true;
  return /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/.test(s);
}

interface Analysis {
  multiline: boolean;
  plainAllowed: boolean;
  singleAllowed: boolean;
  blockAllowed: boolean;
}

/** libyaml's is_printable: no tab, CR, NEL or characters beyond the BMP (they force double quotes). */
const isPrintable = (c: number) =>
  c === 0xa || (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff);

/** libyaml's yaml_emitter_analyze_scalar, reduced to block context (flow indicators never matter here). */
function analyze(s: string): Analysis {
  if (s === '') return { multiline: false, plainAllowed: false, singleAllowed: true, blockAllowed: false };
  let blockIndicators = s.startsWith('---') || s.startsWith('...');
  let special = false;
  let lineBreaks = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let precededByWhitespace = true;
  let previousSpace = false;
  let previousBreak = false;
  const chars = [...s];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    const c = ch.codePointAt(0)!;
    const next = chars[i + 1];
    const followedByWhitespace = next === undefined || next === ' ' || next === '\t' || next === '\n' || next === '\r';
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) {
        blockIndicators = true;
      }
      if (ch === '?' || ch === ':') {
        if (followedByWhitespace) blockIndicators = true;
      }
      if (ch === '-' && followedByWhitespace) {
        blockIndicators = true;
      }
    } else {
      if (ch === ':') {
        if (followedByWhitespace) blockIndicators = true;
      }
      if (ch === '#' && precededByWhitespace) {
        blockIndicators = true;
      }
    }
    if (!isPrintable(c) || (c > 0x7f && false)) special = true;
    const isBreak = ch === '\n' || ch === '\r' || c === 0x85 || c === 0x2028 || c === 0x2029;
    if (isBreak) lineBreaks = true;
    if (ch === ' ') {
      if (i === 0) leadingSpace = true;
      if (i === chars.length - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak) {
      if (i === 0) leadingBreak = true;
      if (i === chars.length - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = ch === ' ' || ch === '\t' || isBreak;
  }
  let plain = true;
  let single = true;
  let block = true;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) plain = false;
  if (trailingSpace) block = false;
  if (breakSpace) {
    plain = false;
    single = false;
  }
  if (spaceBreak || special) {
    plain = false;
    single = false;
    block = false;
  }
  if (lineBreaks) plain = false;
  if (blockIndicators) plain = false;
  return { multiline: lineBreaks, plainAllowed: plain, singleAllowed: single, blockAllowed: block };
}

const BEST_WIDTH = 80;

class Emitter {
  out = '';
  column = 0;

  /** yaml.v3 style (toYamlPretty) indents sequences under their key. */
  constructor(private indentSequences = false) {}

  write(s: string): void {
    this.out += s;
    const nl = s.lastIndexOf('\n');
    this.column = nl < 0 ? this.column + [...s].length : [...s.slice(nl + 1)].length;
  }
  newline(indent: number): void {
    this.write('\n' + ' '.repeat(Math.max(0, indent)));
  }

  /** Writes a string scalar; `indent` is where continuation lines go; `key` disables folding and blocks. */
  scalarString(s: string, indent: number, key: boolean): void {
    const a = analyze(s);
    let style: 'plain' | 'single' | 'double' | 'literal';
    if (s.includes('\n')) style = 'literal';
    else if (!resolvesToNonString(s)) style = 'plain';
    else style = 'double';
    if (style === 'plain' && (!a.plainAllowed || (key && a.multiline))) style = 'single';
    if (style === 'single' && (!a.singleAllowed || (key && a.multiline))) style = 'double';
    if (style === 'literal' && (!a.blockAllowed || key)) style = 'double';
    switch (style) {
      case 'plain':
        return this.writeFolded(s, indent, !key, false);
      case 'single':
        this.write("'");
        this.writeFolded(s.replace(/'/g, "''"), indent, !key, true);
        return this.write("'");
      case 'double':
        return this.writeDouble(s, indent, !key);
      case 'literal':
        return this.writeLiteral(s, indent);
    }
  }

  private writeFolded(s: string, indent: number, allowBreaks: boolean, quoted: boolean): void {
    const chars = [...s];
    let spaces = false;
    for (let i = 0; i < chars.length; i++) {
      const ch = chars[i];
      if (ch === ' ') {
        const edge = quoted && (i === 0 || i === chars.length - 1);
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && !edge && chars[i + 1] !== ' ') this.newline(indent);
        else this.write(ch);
        spaces = true;
      } else {
        this.write(ch);
        spaces = false;
      }
    }
  }

  private writeDouble(s: string, indent: number, allowBreaks: boolean): void {
    this.write('"');
    const chars = [...s];
    let spaces = false;
    for (let i = 0; i < chars.length; i++) {
      const ch = chars[i];
      const c = ch.codePointAt(0)!;
      const isBreak = ch === '\n' || ch === '\r' || c === 0x85 || c === 0x2028 || c === 0x2029;
      if (!isPrintable(c) || c === 0xfeff || isBreak || ch === '"' || ch === '\\') {
        const named: Record<string, string> = {
          '\0': '0',
          '\x07': 'a',
          '\b': 'b',
          '\t': 't',
          '\n': 'n',
          '\v': 'v',
          '\f': 'f',
          '\r': 'r',
          '\x1b': 'e',
          '"': '"',
          '\\': '\\',
          '\x85': 'N',
          '\xa0': '_',
          '\u2028': 'L',
          '\u2029': 'P',
        };
        if (named[ch]) this.write('\\' + named[ch]);
        else if (c <= 0xff) this.write('\\x' + c.toString(16).toUpperCase().padStart(2, '0'));
        else if (c <= 0xffff) this.write('\\u' + c.toString(16).toUpperCase().padStart(4, '0'));
        else this.write('\\U' + c.toString(16).toUpperCase().padStart(8, '0'));
        spaces = false;
      } else if (ch === ' ') {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && i !== 0 && i !== chars.length - 1) {
          this.newline(indent);
          if (chars[i + 1] === ' ') this.write('\\');
        } else this.write(ch);
        spaces = true;
      } else {
        this.write(ch);
        spaces = false;
      }
    }
    this.write('"');
  }

  private writeLiteral(s: string, indent: number): void {
    let header = '|';
    if (s.startsWith(' ') || s.startsWith('\n')) header += '2';
    if (!s.endsWith('\n')) header += '-';
    else if (s === '\n' || s.endsWith('\n\n')) header += '+';
    this.write(header);
    const body = s.endsWith('\n') ? s.slice(0, -1) : s;
    for (const line of body.split('\n')) {
      if (line === '') {
        this.write('\n');
      } else {
        this.newline(indent);
        this.write(line);
      }
    }
  }

  scalar(v: unknown, indent: number, key = false): void {
    if (v === null || v === undefined) return this.write('null');
    switch (typeof v) {
      case 'boolean':
        return this.write(v ? 'true' : 'false');
      case 'bigint':
        return this.write(v.toString());
      case 'number':
        if (Number.isInteger(v) && Math.abs(v) < 1e21) return this.write(Object.is(v, -0) ? '0' : v.toFixed(0));
        if (Number.isNaN(v)) return this.write('.nan');
        if (!Number.isFinite(v)) return this.write(v > 0 ? '.inf' : '-.inf');
        return this.write(formatFloat(v));
      case 'string':
        return this.scalarString(v, indent, key);
    }
    this.write('null');
  }

  /** A node at block indentation `indent`, the cursor placed where its first line starts. */
  node(v: unknown, indent: number): void {
    if (Array.isArray(v)) {
      if (v.length === 0) return this.write('[]');
      v.forEach((item, i) => {
        if (i > 0) this.newline(indent);
        // Items (maps and lists too) start on the dash's line: "- a: 1", "- - x".
        this.write('- ');
        this.node(item, indent + 2);
      });
      return;
    }
    if (isMap(v)) {
      const keys = Object.keys(v).sort((a, b) => (yamlKeyLess(a, b) ? -1 : yamlKeyLess(b, a) ? 1 : 0));
      if (keys.length === 0) return this.write('{}');
      keys.forEach((k, i) => {
        if (i > 0) this.newline(indent);
        this.scalar(k, indent, true);
        this.write(':');
        const val = v[k];
        if (isMap(val) && Object.keys(val).length > 0) {
          this.newline(indent + 2);
          this.node(val, indent + 2);
        } else if (Array.isArray(val) && val.length > 0) {
          const seqIndent = this.indentSequences ? indent + 2 : indent;
          this.newline(seqIndent);
          this.node(val, seqIndent);
        } else {
          this.write(' ');
          this.scalarOrEmpty(val, indent + 2);
        }
      });
      return;
    }
    this.scalar(v, indent);
  }

  private scalarOrEmpty(v: unknown, indent: number): void {
    if (Array.isArray(v) || isMap(v)) return this.node(v, indent);
    this.scalar(v, indent);
  }
}

/** sigs.k8s.io/yaml.Marshal: the YAML text with its trailing newline. */
export function marshalYaml(v: unknown, opts: { indentSequences?: boolean } = {}): string {
  const e = new Emitter(opts.indentSequences);
  const jv = toJsonValue(v);
  e.node(jv, 0);
  return e.out + '\n';
}
