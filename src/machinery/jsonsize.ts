// How big an object's JSON would be, decided without serialising it: the store refuses objects
// over its size limit, and refusing a huge one must cost no more than accepting a small one.

/**
 * Whether JSON.stringify(value) would be longer than `limit` characters. A lower bound is
 * counted (strings without their escapes, every number as one character), and the walk stops
 * as soon as it passes `limit`, so its cost is bounded by the limit rather than the value's size.
 * Iterative: a value nested thousands deep does not exhaust the stack.
 */
export function jsonLengthExceeds(value: unknown, limit: number): boolean {
  let total = 0;
  const pending: unknown[] = [value];
  while (pending.length) {
    const v = pending.pop();
    switch (typeof v) {
      case 'string':
        total += v.length + 2;
        break;
      case 'number':
      case 'bigint':
        total += 1;
        break;
      case 'boolean':
        total += v ? 4 : 5;
        break;
      case 'object':
        if (v === null) {
          total += 4;
        } else if (Array.isArray(v)) {
          total += 2 + Math.max(0, v.length - 1);
          // Each element is at least one character: a long enough list is decided by its length.
          if (total + v.length > limit) return true;
          for (let i = v.length - 1; i >= 0; i--) pending.push(v[i]);
        } else {
          total += 2;
          const keys = Object.keys(v);
          for (let i = 0; i < keys.length; i++) {
            const k = keys[i];
            const item = (v as Record<string, unknown>)[k];
            if (item === undefined || typeof item === 'function') continue;
            // "key": (the commas between members are left out of the bound)
            total += k.length + 3;
            pending.push(item);
            if (total > limit) return true;
          }
        }
        break;
      default:
        break; // undefined, functions, symbols: left out by JSON.stringify
    }
    if (total > limit) return true;
  }
  return false;
}

const isJSONSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isNumberChar = (c: number) =>
  (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45; // 0-9 - + . e E

/**
 * Whether the JSON text, once parsed and serialised again, would certainly be longer than `limit`
 * characters: the same lower bound as jsonLengthExceeds, read off the text so a body too big to
 * store is refused before it is parsed (parsing 3 MiB takes the event loop ~100 ms). Whitespace
 * counts nothing, an escape sequence one character, a number one. Not a validator: text that
 * isn't JSON gets some count and is left to the parser. A key repeated in one object is counted
 * twice, though the parsed value keeps one; strict field validation refuses such bodies anyway.
 */
export function jsonTextLengthExceeds(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  let total = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // The string's characters, each escape sequence counted once.
      let j = i + 1;
      total += 2;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x22) break;
        if (d === 0x5c /* \ */) j += text.charCodeAt(j + 1) === 0x75 /* u */ ? 6 : 2;
        else j++;
        total++;
      }
      i = j + 1;
    } else if (isNumberChar(c)) {
      total++;
      while (i < n && isNumberChar(text.charCodeAt(i))) i++;
    } else {
      if (!isJSONSpace(c)) total++;
      i++;
    }
    if (total > limit) return true;
  }
  return false;
}
