// Lexer of Go's text/template language: text, actions between {{ }}, with the `{{- ` / ` -}}`
// whitespace-trimming markers and `/* */` comments handled as Go's lexer does.

export type TokenKind =
  | 'text'
  | 'left'
  | 'right'
  | 'space'
  | 'ident'
  | 'field'
  | 'variable'
  | 'string'
  | 'rawString'
  | 'char'
  | 'number'
  | 'bool'
  | 'nil'
  | 'dot'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'assign'
  | 'declare'
  | 'comma'
  | 'keyword'
  | 'comment'
  | 'eof';

export interface Token {
  kind: TokenKind;
  value: string;
  /** Byte offset (UTF-16 offset here) into the template text. */
  pos: number;
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);
const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
/** Letters, digits and '_' (ASCII fast path; Unicode letters/digits as Go's isAlphaNumeric). */
const isAlnum = (c: string) => {
  const code = c.charCodeAt(0);
  if (code < 0x80)
    return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
  return /[\p{L}\p{Nd}]/u.test(c);
};

/** " -}}" (any one space character before the marker) at pos. */
function isRightTrim(text: string, pos: number): boolean {
  return pos < text.length && isSpace(text[pos]) && text.startsWith('-}}', pos + 1);
}

export class TemplateSyntaxError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

/** Splits template text into tokens; throws TemplateSyntaxError with the offending position. */
export function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let trimNextText = false;
  while (pos < text.length) {
    const open = text.indexOf('{{', pos);
    const end = open < 0 ? text.length : open;
    let chunk = text.slice(pos, end);
    const trimLeft = open >= 0 && text.startsWith('{{- ', open) && true;
    const trimLeftAny = open >= 0 && /^\{\{-[ \t\r\n]/.test(text.slice(open, open + 4));
    if (trimNextText) chunk = chunk.replace(/^[ \t\r\n]+/, '');
    if (trimLeftAny || trimLeft) chunk = chunk.replace(/[ \t\r\n]+$/, '');
    if (chunk.length > 0) tokens.push({ kind: 'text', value: chunk, pos });
    trimNextText = false;
    if (open < 0) break;
    pos = lexAction(text, open, trimLeftAny, tokens, (t) => (trimNextText = t));
  }
  tokens.push({ kind: 'eof', value: '', pos: text.length });
  return tokens;
}

function lexAction(
  text: string,
  open: number,
  trimLeft: boolean,
  tokens: Token[],
  setTrim: (t: boolean) => void,
): number {
  let pos = open + 2 + (trimLeft ? 2 : 0);
  // A comment must start right after the delimiter.
  if (text.startsWith('/*', pos)) {
    const close = text.indexOf('*/', pos + 2);
    if (close < 0) throw new TemplateSyntaxError('unclosed comment', open);
    let after = close + 2;
    let trimRight = false;
    if (isRightTrim(text, after)) {
      trimRight = true;
      after += 2;
    }
    if (!text.startsWith('}}', after)) throw new TemplateSyntaxError('comment ends before closing delimiter', open);
    tokens.push({ kind: 'comment', value: text.slice(pos, close + 2), pos });
    setTrim(trimRight);
    return after + 2;
  }
  tokens.push({ kind: 'left', value: '{{', pos: open });
  let parenDepth = 0;
  for (;;) {
    if (pos >= text.length) throw new TemplateSyntaxError('unclosed action', pos);
    const c = text[pos];
    if (isRightTrim(text, pos) || text.startsWith('}}', pos)) {
      const trimRight = !text.startsWith('}}', pos);
      const closeAt = trimRight ? pos + 2 : pos;
      if (trimRight) tokens.push({ kind: 'space', value: ' ', pos });
      if (parenDepth > 0) throw new TemplateSyntaxError('unclosed left paren', closeAt);
      tokens.push({ kind: 'right', value: '}}', pos: closeAt });
      setTrim(trimRight);
      return closeAt + 2;
    }
    if (isSpace(c)) {
      const start = pos;
      while (pos < text.length && isSpace(text[pos]) && !isRightTrim(text, pos)) pos++;
      if (start === pos) pos++;
      tokens.push({ kind: 'space', value: text.slice(start, pos), pos: start });
      continue;
    }
    if (c === '=') {
      tokens.push({ kind: 'assign', value: '=', pos });
      pos++;
    } else if (c === ':') {
      if (text[pos + 1] !== '=') throw new TemplateSyntaxError('expected :=', pos);
      tokens.push({ kind: 'declare', value: ':=', pos });
      pos += 2;
    } else if (c === '|') {
      tokens.push({ kind: 'pipe', value: '|', pos });
      pos++;
    } else if (c === ',') {
      tokens.push({ kind: 'comma', value: ',', pos });
      pos++;
    } else if (c === '(') {
      parenDepth++;
      tokens.push({ kind: 'lparen', value: '(', pos });
      pos++;
    } else if (c === ')') {
      parenDepth--;
      if (parenDepth < 0) throw new TemplateSyntaxError(`unexpected right paren`, pos);
      tokens.push({ kind: 'rparen', value: ')', pos });
      pos++;
    } else if (c === '"') {
      const start = pos++;
      while (pos < text.length && text[pos] !== '"') {
        if (text[pos] === '\\') pos++;
        if (text[pos] === '\n') throw new TemplateSyntaxError('unterminated quoted string', start);
        pos++;
      }
      if (pos >= text.length) throw new TemplateSyntaxError('unterminated quoted string', start);
      pos++;
      tokens.push({ kind: 'string', value: text.slice(start, pos), pos: start });
    } else if (c === '`') {
      const close = text.indexOf('`', pos + 1);
      if (close < 0) throw new TemplateSyntaxError('unterminated raw quoted string', pos);
      tokens.push({ kind: 'rawString', value: text.slice(pos, close + 1), pos });
      pos = close + 1;
    } else if (c === "'") {
      const start = pos++;
      while (pos < text.length && text[pos] !== "'") {
        if (text[pos] === '\\') pos++;
        pos++;
      }
      pos++;
      tokens.push({ kind: 'char', value: text.slice(start, pos), pos: start });
    } else if (c === '$') {
      const start = pos++;
      while (pos < text.length && isAlnum(text[pos])) pos++;
      tokens.push({ kind: 'variable', value: text.slice(start, pos), pos: start });
    } else if (c === '.') {
      if (pos + 1 < text.length && /[0-9]/.test(text[pos + 1])) {
        pos = lexNumber(text, pos, tokens);
        continue;
      }
      const start = pos++;
      while (pos < text.length && isAlnum(text[pos])) pos++;
      tokens.push(
        pos === start + 1
          ? { kind: 'dot', value: '.', pos: start }
          : { kind: 'field', value: text.slice(start, pos), pos: start },
      );
    } else if (/[0-9+-]/.test(c)) {
      pos = lexNumber(text, pos, tokens);
    } else if (isAlnum(c)) {
      const start = pos;
      while (pos < text.length && isAlnum(text[pos])) pos++;
      const word = text.slice(start, pos);
      const kind: TokenKind = KEYWORDS.has(word)
        ? 'keyword'
        : word === 'true' || word === 'false'
          ? 'bool'
          : word === 'nil'
            ? 'nil'
            : 'ident';
      tokens.push({ kind, value: word, pos: start });
    } else {
      throw new TemplateSyntaxError(`unrecognized character in action: ${JSON.stringify(c)}`, pos);
    }
  }
}

function lexNumber(text: string, pos: number, tokens: Token[]): number {
  const m =
    /^[+-]?(0[xX][0-9a-fA-F_]+(\.[0-9a-fA-F_]*)?([pP][+-]?\d+)?|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?[\d_]*([eE][+-]?\d+)?)i?/.exec(
      text.slice(pos),
    );
  const word = m ? m[0] : '';
  if (!word || word === '+' || word === '-' || isAlnum(text[pos + word.length] ?? ' ')) {
    const bad = /^[^\s})|]+/.exec(text.slice(pos))?.[0] ?? text[pos];
    throw new TemplateSyntaxError(`bad number syntax: "${bad}"`, pos);
  }
  tokens.push({ kind: 'number', value: word, pos });
  return pos + word.length;
}
