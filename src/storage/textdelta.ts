// A text as the difference from another text: what the watch cache keeps of a past version, against
// the version that superseded it (an object's versions differ in a few fields: a lease's renewTime,
// a pod's status). Copy-and-insert, in the manner of xdelta: the base is indexed by blocks of
// BLOCK characters, the text is scanned for them, and each match is grown both ways.
//
// The encoding is one string of operations, read left to right:
//   "+" <length> ":" <that many characters>   insert text
//   "=" <offset> "," <length> ";"             copy base.slice(offset, offset + length)
// Lengths and offsets are base 36. A text shares nothing with its base encodes as one insert.

const BLOCK = 16;

/** The delta that turns `base` into `text` (applyDelta(base, encodeDelta(text, base)) === text). */
export function encodeDelta(text: string, base: string): string {
  if (text === base) return text.length ? `=0,${text.length.toString(36)};` : '';
  const index = new Map<string, number>();
  for (let i = 0; i + BLOCK <= base.length; i += BLOCK) {
    const block = base.slice(i, i + BLOCK);
    if (!index.has(block)) index.set(block, i);
  }
  // Parts joined at the end: join makes a flat string of its own, where `+=` would make a rope of
  // slices keeping the whole `text` alive.
  const out: string[] = [];
  let literalFrom = 0;
  let i = 0;
  while (i + BLOCK <= text.length) {
    const at = index.get(text.slice(i, i + BLOCK));
    if (at === undefined) {
      i++;
      continue;
    }
    // Grow the match backwards into the pending literal, then forwards.
    let start = i;
    let from = at;
    while (start > literalFrom && from > 0 && text.charCodeAt(start - 1) === base.charCodeAt(from - 1)) {
      start--;
      from--;
    }
    let end = i + BLOCK;
    let to = at + BLOCK;
    while (end < text.length && to < base.length && text.charCodeAt(end) === base.charCodeAt(to)) {
      end++;
      to++;
    }
    if (start > literalFrom) out.push(`+${(start - literalFrom).toString(36)}:`, text.slice(literalFrom, start));
    out.push(`=${from.toString(36)},${(end - start).toString(36)};`);
    literalFrom = i = end;
  }
  if (literalFrom < text.length) out.push(`+${(text.length - literalFrom).toString(36)}:`, text.slice(literalFrom));
  return out.join('');
}

/** The text `delta` (from encodeDelta) describes against `base`. Throws on a malformed delta. */
export function applyDelta(base: string, delta: string): string {
  const parts: string[] = [];
  let i = 0;
  while (i < delta.length) {
    const op = delta[i];
    if (op === '+') {
      const colon = delta.indexOf(':', i);
      const n = parseInt(delta.slice(i + 1, colon), 36);
      if (colon < 0 || !(n >= 0) || colon + 1 + n > delta.length) throw new Error('malformed text delta');
      parts.push(delta.slice(colon + 1, colon + 1 + n));
      i = colon + 1 + n;
    } else if (op === '=') {
      const comma = delta.indexOf(',', i);
      const semi = delta.indexOf(';', comma);
      const from = parseInt(delta.slice(i + 1, comma), 36);
      const n = parseInt(delta.slice(comma + 1, semi), 36);
      if (comma < 0 || semi < 0 || !(from >= 0) || !(n >= 0) || from + n > base.length)
        throw new Error('malformed text delta');
      parts.push(base.slice(from, from + n));
      i = semi + 1;
    } else {
      throw new Error('malformed text delta');
    }
  }
  return parts.join('');
}
