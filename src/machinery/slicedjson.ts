// JSON.parse in slices of the event loop. Native JSON.parse of a big object with many keys (a
// ConfigMap with 100,000 entries: 1.3 MB) takes about 100 ms in one piece, which every other
// request waits for; this parser builds the same value and lets other work run every few
// milliseconds. It is slower in total, so it is only for big texts. Text JSON.parse would refuse
// is handed to JSON.parse, so errors are JSON.parse's own.
import { nextTurn } from './objects.js';

/** The text is not JSON (JSON.parse says exactly why). */
class NotJSON extends Error {}

const fail = (): never => {
  throw new NotJSON();
};

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Values parsed between checks of the clock. */
const VALUES_PER_STEP = 2048;

function setMember(obj: Record<string, unknown>, key: string, value: unknown): void {
  // As JSON.parse: "__proto__" is an own property like any other, never the prototype.
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** The parser proper; it yields every VALUES_PER_STEP values. Iterative: nesting costs no stack. */
function* parse(text: string): Generator<void, unknown> {
  const n = text.length;
  let i = 0;
  const ws = () => {
    for (let c = text.charCodeAt(i); c === 32 || c === 10 || c === 13 || c === 9; c = text.charCodeAt(++i));
  };
  const str = (): string => {
    let j = i + 1;
    let escaped = false;
    for (;;) {
      if (j >= n) fail();
      const c = text.charCodeAt(j);
      if (c === 34) break;
      if (c === 92) {
        escaped = true;
        j += 2;
      } else if (c < 0x20) fail();
      else j++;
    }
    // Escapes are rare in bodies: JSON.parse decodes those strings (and checks their escapes).
    const s = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
    i = j + 1;
    return s;
  };
  const key = (): string => {
    if (text.charCodeAt(i) !== 34) fail();
    const k = str();
    ws();
    if (text.charCodeAt(i) !== 58) fail();
    i++;
    ws();
    return k;
  };
  const containers: (Record<string, unknown> | unknown[])[] = [];
  const keys: string[] = [];
  let count = 0;
  let value: unknown;
  ws();
  for (;;) {
    if (++count % VALUES_PER_STEP === 0) yield;
    const c = text.charCodeAt(i);
    if (c === 123 /* { */) {
      i++;
      ws();
      if (text.charCodeAt(i) === 125) {
        i++;
        value = {};
      } else {
        containers.push({});
        keys.push(key());
        continue;
      }
    } else if (c === 91 /* [ */) {
      i++;
      ws();
      if (text.charCodeAt(i) === 93) {
        i++;
        value = [];
      } else {
        containers.push([]);
        keys.push('');
        continue;
      }
    } else if (c === 34) value = str();
    else if (c === 116 && text.startsWith('true', i)) {
      value = true;
      i += 4;
    } else if (c === 102 && text.startsWith('false', i)) {
      value = false;
      i += 5;
    } else if (c === 110 && text.startsWith('null', i)) {
      value = null;
      i += 4;
    } else {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) fail();
      value = Number(m![0]);
      i = NUMBER.lastIndex;
    }
    // A value is complete: it goes into its container, and containers it completes close.
    for (;;) {
      ws();
      const top = containers[containers.length - 1];
      if (top === undefined) {
        if (i !== n) fail();
        return value;
      }
      const isArray = Array.isArray(top);
      if (isArray) top.push(value);
      else setMember(top, keys[keys.length - 1], value);
      const d = text.charCodeAt(i);
      if (d === 44 /* , */) {
        i++;
        ws();
        if (!isArray) keys[keys.length - 1] = key();
        break;
      }
      if (d !== (isArray ? 93 : 125)) fail();
      i++;
      value = containers.pop();
      keys.pop();
    }
  }
}

/** JSON.parse(text), in slices of about `sliceMs` of the event loop each. */
export async function parseJSONInSlices(text: string, sliceMs = 8): Promise<unknown> {
  const steps = parse(text);
  let start = performance.now();
  try {
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      if (performance.now() - start > sliceMs) {
        await nextTurn();
        start = performance.now();
      }
    }
  } catch (err) {
    // JSON.parse's verdict and message (and its value, should this parser be wrong to refuse).
    if (err instanceof NotJSON || err instanceof SyntaxError) return JSON.parse(text);
    throw err;
  }
}
