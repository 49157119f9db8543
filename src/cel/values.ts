// JSON values → CEL values. CEL tells int from double by type, JSON does not: the OpenAPI
// schema says which (an `integer` field is a CEL int even when written 1.0, a `number` field a
// double even when written 1), as upstream's UnstructuredToVal. Without a schema (built-in
// objects seen by admission policies, x-kubernetes-preserve-unknown-fields) an integral number
// is an int and any other a double, which is how Go decodes them into int64/float64.

/** The bits of a structural schema the conversion reads. */
export interface ValueSchema {
  type?: string;
  format?: string;
  properties?: Record<string, ValueSchema>;
  additionalProperties?: ValueSchema | boolean;
  items?: ValueSchema;
  'x-kubernetes-int-or-string'?: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function numberToCel(n: number, schema: ValueSchema | undefined): number | bigint {
  if (schema?.type === 'number') return n;
  if (schema?.type === 'integer' || Number.isInteger(n)) return Number.isSafeInteger(n) ? BigInt(n) : n;
  return n;
}

/** A deep copy of `value` with CEL's number types (ints as bigint, doubles as number). */
export function toCel(value: unknown, schema?: ValueSchema): unknown {
  if (typeof value === 'number') return numberToCel(value, schema);
  if (Array.isArray(value)) {
    const items = schema?.items;
    return value.map((v) => toCel(v, items));
  }
  if (isObject(value)) {
    // Plain objects are CEL maps; the evaluator selects only own fields (never the prototype's).
    const out: Record<string, unknown> = {};
    const props = schema?.properties;
    const extra = isObject(schema?.additionalProperties) ? (schema.additionalProperties as ValueSchema) : undefined;
    for (const k of Object.keys(value)) {
      const v = value[k];
      if (v === undefined) continue;
      const sub = props && Object.hasOwn(props, k) ? props[k] : extra;
      // Numbers are the only values that change: strings, booleans and null are copied as is.
      const cel = typeof v === 'object' || typeof v === 'number' ? toCel(v, sub) : v;
      // A "__proto__" key is data: define it rather than set the copy's prototype.
      if (k === '__proto__') Object.defineProperty(out, k, { value: cel, enumerable: true, writable: true });
      else out[k] = cel;
    }
    return out;
  }
  return value;
}

/** A CEL result back to JSON (bigint → number), e.g. for messages and audit annotations. */
export function fromCel(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(fromCel);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), fromCel(v)]));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromCel(v)]));
  return value;
}
