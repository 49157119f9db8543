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

// Blocks are found by a rolling hash (polynomial, mod 2^32), so scanning the text moves one
// character at a time without slicing a string per position; a hash hit is checked character by
// character. (Slicing and hashing 16-character strings made encoding 37 us per pod version, on
// the write path.)
const MULT = 0x01000193;
/** MULT ** (BLOCK - 1), mod 2^32: the weight of a block's first character. */
const FIRST_WEIGHT = (() => {
  let w = 1;
  for (let k = 1; k < BLOCK; k++) w = Math.imul(w, MULT);
  return w;
})();

function blockHash(s: string, at: number): number {
  let h = 0;
  for (let k = 0; k < BLOCK; k++) h = (Math.imul(h, MULT) + s.charCodeAt(at + k)) | 0;
  return h;
}

/**
 * The base's blocks by hash (the first aligned block of each hash), in an open-addressing table
 * reused between calls: `slots` holds offset + 1 (0: empty), `hashes` the hash of that block.
 */
let hashes = new Int32Array(256);
let slots = new Int32Array(256);
let tableMask = 255;

function indexBase(base: string): void {
  const blocks = Math.floor(base.length / BLOCK);
  let size = 256;
  while (size < blocks * 2) size *= 2;
  if (size > slots.length) {
    hashes = new Int32Array(size);
    slots = new Int32Array(size);
  } else slots.fill(0, 0, size);
  tableMask = size - 1;
  for (let b = 0; b < blocks; b++) {
    const at = b * BLOCK;
    const h = blockHash(base, at);
    let j = h & tableMask;
    while (slots[j] !== 0 && hashes[j] !== h) j = (j + 1) & tableMask;
    if (slots[j] === 0) {
      hashes[j] = h;
      slots[j] = at + 1;
    }
  }
}

/** The offset of the base's block with hash `h`, or -1. */
function lookup(h: number): number {
  let j = h & tableMask;
  while (slots[j] !== 0) {
    if (hashes[j] === h) return slots[j] - 1;
    j = (j + 1) & tableMask;
  }
  return -1;
}

function sameBlock(a: string, i: number, b: string, j: number): boolean {
  for (let k = 0; k < BLOCK; k++) if (a.charCodeAt(i + k) !== b.charCodeAt(j + k)) return false;
  return true;
}

/** The delta that turns `base` into `text` (applyDelta(base, encodeDelta(text, base)) === text). */
export function encodeDelta(text: string, base: string): string {
  if (text === base) return text.length ? `=0,${text.length.toString(36)};` : '';
  indexBase(base);
  // Parts joined at the end: join makes a flat string of its own, where `+=` would make a rope of
  // slices keeping the whole `text` alive.
  const out: string[] = [];
  let literalFrom = 0;
  let i = 0;
  let h = text.length >= BLOCK ? blockHash(text, 0) : 0;
  while (i + BLOCK <= text.length) {
    const at = lookup(h);
    if (at < 0 || !sameBlock(text, i, base, at)) {
      if (i + BLOCK < text.length)
        h = (Math.imul(h - Math.imul(text.charCodeAt(i), FIRST_WEIGHT), MULT) + text.charCodeAt(i + BLOCK)) | 0;
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
    if (i + BLOCK <= text.length) h = blockHash(text, i);
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
