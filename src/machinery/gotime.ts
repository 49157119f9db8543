// Go's time.Parse for the two layouts the API decodes times with (metav1.Time: RFC 3339,
// metav1.MicroTime: RFC 3339 with exactly six fractional digits), reduced to what a decoder needs:
// whether a text parses, and if not Go's error text, which upstream returns to the client.
//
// Go reads bytes: the value is handled as its UTF-8 bytes (one char per byte) so lengths and
// the quoted remainders in messages come out as Go's.

export type TimeLayout = 'RFC3339' | 'RFC3339Micro';

const LAYOUT_TEXT: Record<TimeLayout, string> = {
  RFC3339: '2006-01-02T15:04:05Z07:00',
  RFC3339Micro: '2006-01-02T15:04:05.000000Z07:00',
};

type Element = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'fraction' | 'zone';

/** The layout split as Go's nextStdChunk does: literal prefix, then one element. */
interface Chunk {
  prefix: string;
  element: Element;
  text: string;
}

const DATE_TIME: Chunk[] = [
  { prefix: '', element: 'year', text: '2006' },
  { prefix: '-', element: 'month', text: '01' },
  { prefix: '-', element: 'day', text: '02' },
  { prefix: 'T', element: 'hour', text: '15' },
  { prefix: ':', element: 'minute', text: '04' },
  { prefix: ':', element: 'second', text: '05' },
];
const ZONE: Chunk = { prefix: '', element: 'zone', text: 'Z07:00' };
const CHUNKS: Record<TimeLayout, Chunk[]> = {
  RFC3339: [...DATE_TIME, ZONE],
  RFC3339Micro: [...DATE_TIME, { prefix: '', element: 'fraction', text: '.000000' }, ZONE],
};

/** Go's time.quote: printable ASCII as is (with " and \ escaped), every other byte as \xNN. */
function quote(bytes: string): string {
  let out = '"';
  for (const ch of bytes) {
    const c = ch.charCodeAt(0);
    if (c >= 0x80 || c < 0x20) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch === '"' || ch === '\\' ? `\\${ch}` : ch;
  }
  return `${out}"`;
}

const isDigit = (s: string, i: number): boolean => i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57;

/** Go's getnum: one or two digits (exactly two when `fixed`). */
function getnum(s: string, fixed: boolean): { n: number; rest: string } | null {
  if (!isDigit(s, 0)) return null;
  if (!isDigit(s, 1)) return fixed ? null : { n: s.charCodeAt(0) - 48, rest: s.slice(1) };
  return { n: (s.charCodeAt(0) - 48) * 10 + (s.charCodeAt(1) - 48), rest: s.slice(2) };
}

/** Go's atoi: an optional sign, then digits only. */
function atoi(s: string): number | null {
  const m = /^([+-]?)([0-9]+)$/.exec(s);
  if (!m) return null;
  return m[1] === '-' ? -Number(m[2]) : Number(m[2]);
}

function daysIn(month: number, year: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

type Step = { rest: string; range?: string } | null;

/** Parse one element from the front of `value`: the rest, a range complaint, or null (bad). */
function parseElement(
  chunk: Chunk,
  value: string,
  fields: { year: number; month: number; day: number },
  next: Chunk | undefined,
): Step {
  switch (chunk.element) {
    case 'year': {
      if (value.length < 4 || !isDigit(value, 0)) return null;
      const y = atoi(value.slice(0, 4));
      if (y === null) return null;
      fields.year = y;
      return { rest: value.slice(4) };
    }
    case 'month': {
      const r = getnum(value, true);
      if (!r) return null;
      fields.month = r.n;
      return { rest: r.rest, range: r.n <= 0 || r.n > 12 ? 'month' : undefined };
    }
    case 'day': {
      const r = getnum(value, true);
      if (!r) return null;
      fields.day = r.n;
      return { rest: r.rest };
    }
    case 'hour': {
      const r = getnum(value, false);
      if (!r) return null;
      return { rest: r.rest, range: r.n >= 24 ? 'hour' : undefined };
    }
    case 'minute': {
      const r = getnum(value, true);
      if (!r) return null;
      return { rest: r.rest, range: r.n >= 60 ? 'minute' : undefined };
    }
    case 'second': {
      const r = getnum(value, true);
      if (!r) return null;
      if (r.n >= 60) return { rest: r.rest, range: 'second' };
      let rest = r.rest;
      // A fraction the layout doesn't spell out is still accepted (any number of digits).
      if (
        next?.element !== 'fraction' &&
        rest.length >= 2 &&
        (rest[0] === '.' || rest[0] === ',') &&
        isDigit(rest, 1)
      ) {
        let n = 2;
        while (isDigit(rest, n)) n++;
        rest = rest.slice(n);
      }
      return { rest };
    }
    case 'fraction': {
      const width = chunk.text.length;
      if (value.length < width || (value[0] !== '.' && value[0] !== ',')) return null;
      const ns = atoi(value.slice(1, width));
      if (ns === null) return null;
      return { rest: value.slice(width), range: ns < 0 ? 'fractional second' : undefined };
    }
    case 'zone': {
      if (value[0] === 'Z') return { rest: value.slice(1) };
      if (value.length < 6 || value[3] !== ':') return null;
      const hr = getnum(value.slice(1, 3), true);
      const mm = hr && getnum(value.slice(4, 6), true);
      // Go notes an out-of-range part (the later one wins) and reports it before a bad one.
      const range = mm && mm.n > 60 ? 'time zone offset minute' : hr && hr.n > 24 ? 'time zone offset hour' : undefined;
      if (range) return { rest: value.slice(6), range };
      if (!hr || !mm || (value[0] !== '+' && value[0] !== '-')) return null;
      return { rest: value.slice(6) };
    }
  }
}

/** Go's time.Parse(layout, text) error message, or undefined when the text parses. */
export function goTimeParseError(layout: TimeLayout, text: string): string | undefined {
  const layoutText = LAYOUT_TEXT[layout];
  const all = Buffer.from(text, 'utf8').toString('latin1');
  const cannotParse = (elem: string, at: string) =>
    `parsing time ${quote(all)} as ${quote(layoutText)}: cannot parse ${quote(at)} as ${quote(elem)}`;
  const fields = { year: 0, month: 1, day: 1 };
  const chunks = CHUNKS[layout];
  let value = all;
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i];
    if (chunk.prefix) {
      if (!value.startsWith(chunk.prefix)) return cannotParse(chunk.prefix, value);
      value = value.slice(chunk.prefix.length);
    }
    const step = parseElement(chunk, value, fields, chunks[i + 1]);
    if (step?.range) return `parsing time ${quote(all)}: ${step.range} out of range`;
    if (!step) return cannotParse(chunk.text, value);
    value = step.rest;
  }
  if (value) return `parsing time ${quote(all)}: extra text: ${quote(value)}`;
  if (fields.day < 1 || fields.day > daysIn(fields.month, fields.year))
    return `parsing time ${quote(all)}: day out of range`;
  return undefined;
}
