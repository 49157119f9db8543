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
