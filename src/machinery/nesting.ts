// How deeply a JSON or YAML text nests, found by a linear scan before any parser or recursive
// walker sees it. JSON.parse copes with any depth, but everything that walks the value
// afterwards recurses; the YAML parser recurses itself, and deep enough recursion there ends in
// V8 failing to compile a regular expression, which kills the process rather than throwing.

/** Index just past the JSON/YAML double-quoted string whose body starts at `from`. */
export function skipDoubleQuoted(text: string, from: number): number {
  for (let j = text.indexOf('"', from); j >= 0; j = text.indexOf('"', j + 1)) {
    // Escaped when preceded by an odd number of backslashes.
    let backslashes = 0;
    while (text.charCodeAt(j - 1 - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 0) return j + 1;
  }
  return text.length;
}

/** Index just past a YAML single-quoted scalar whose body starts at `from` ('' is a quote inside). */
function skipSingleQuoted(text: string, from: number): number {
  let j = text.indexOf("'", from);
  while (j >= 0 && text.charCodeAt(j + 1) === 0x27) j = text.indexOf("'", j + 2);
  return j < 0 ? text.length : j + 1;
}

/** Whether JSON arrays and objects nest deeper than `limit` (brackets outside strings). */
export function jsonNestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limit) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      if (depth > 0) depth--;
    } else if (c === 0x22 /* " */) {
      i = skipDoubleQuoted(text, i + 1) - 1;
    }
  }
  return false;
}

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB || c === LF || c === CR || Number.isNaN(c);
}

/**
 * An upper bound on how deeply a YAML document nests, compared with `limit`. Every level is one
 * of: a deeper indentation than the lines above it, an indicator on a line that opens a compact
 * nested collection (`- `, `? `, `: `), or a flow bracket. Counting each of those as a level
 * over-estimates (a plain `key: value` line counts its mapping once more than needed), never
 * under-estimates. Quoted scalars, comments and block scalars (| and >) are skipped.
 */
export function yamlNestedDeeperThan(text: string, limit: number): boolean {
  const indents: number[] = [];
  let flow = 0;
  let blockScalarParent = -1; // the indentation of the line that opened a | or > scalar
  let i = 0;
  while (i < text.length) {
    // One line: its indentation first.
    let col = 0;
    while (text.charCodeAt(i + col) === SPACE) col++;
    const start = i + col;
    const first = text.charCodeAt(start);
    const blankLine = first === LF || first === CR || Number.isNaN(first) || first === 0x23; /* # */
    if (blockScalarParent >= 0 && (blankLine || col > blockScalarParent)) {
      i = nextLine(text, start);
      continue;
    }
    blockScalarParent = -1;
    if (blankLine) {
      i = nextLine(text, start);
      continue;
    }
    if (flow === 0) {
      while (indents.length && indents[indents.length - 1] >= col) indents.pop();
      indents.push(col);
    }
    let levels = 0;
    let lastToken = -1; // the first character of the line's last token, for | and >
    let j = start;
    for (; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (c === LF) break;
      const prev = j === start ? SPACE : text.charCodeAt(j - 1);
      if (c === 0x22 /* " */) {
        lastToken = j;
        j = skipDoubleQuoted(text, j + 1) - 1;
      } else if (
        c === 0x27 /* ' */ &&
        (isBlank(prev) || prev === 0x5b || prev === 0x7b || prev === 0x2c || prev === 0x3a)
      ) {
        lastToken = j;
        j = skipSingleQuoted(text, j + 1) - 1;
      } else if (c === 0x23 /* # */ && isBlank(prev)) {
        j = text.indexOf('\n', j);
        if (j < 0) j = text.length;
        break;
      } else if (c === 0x5b || c === 0x7b) {
        flow++;
      } else if (c === 0x5d || c === 0x7d) {
        if (flow > 0) flow--;
      } else if (
        (c === 0x2d /* - */ || c === 0x3f /* ? */ || c === 0x3a) /* : */ &&
        isBlank(text.charCodeAt(j + 1)) &&
        (c === 0x3a || isBlank(prev))
      ) {
        levels++;
      } else if (!isBlank(c) && isBlank(prev)) {
        lastToken = j;
      }
      if (indents.length + levels + flow > limit) return true;
    }
    // A line ending in a block scalar header (|, >, with indentation/chomping indicators).
    if (lastToken >= 0 && flow === 0) {
      const h = text.charCodeAt(lastToken);
      if (
        (h === 0x7c /* | */ || h === 0x3e) /* > */ &&
        /^[|>][0-9+-]{0,2}\s*$/.test(text.slice(lastToken, Math.min(j, lastToken + 8)))
      ) {
        blockScalarParent = col;
      }
    }
    i = j + 1;
  }
  return false;
}

function nextLine(text: string, from: number): number {
  const nl = text.indexOf('\n', from);
  return nl < 0 ? text.length : nl + 1;
}
