// Integer query parameters (timeoutSeconds, limit, gracePeriodSeconds) decode upstream through
// strconv.ParseInt(s, 10, 64): anything else is a 400 with ParseInt's own text, never a NaN or an
// overflowing timer here.
import * as errors from '../machinery/errors.js';

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** The int64 value of a query parameter (undefined when absent), or a 400 as upstream returns. */
export function queryInt64(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  return text === null ? undefined : parseInt64(text);
}

export function parseInt64(text: string): number {
  if (!/^[+-]?\d+$/.test(text)) throw errors.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
  const n = BigInt(text);
  if (n > INT64_MAX || n < INT64_MIN) throw errors.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(text)}: value out of range`);
  return Number(n);
}
