// Field-level validation errors, shaped like k8s.io/apimachinery/pkg/util/validation/field.
// A path is built with `path('spec').child('containers').index(0).child('name')` and prints
// as `spec.containers[0].name`, which is what upstream puts in Status causes.

export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueNotFound'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'FieldValueTypeInvalid'
  | 'InternalError';

export interface FieldError {
  type: FieldErrorType;
  field: string;
  /** The full human text, as upstream's field.Error.Error() prints it after the path. */
  detail: string;
}

export class FieldPath {
  constructor(private readonly text: string) {}
  child(name: string, ...more: string[]): FieldPath {
    let t = this.text ? `${this.text}.${name}` : name;
    for (const m of more) t += `.${m}`;
    return new FieldPath(t);
  }
  index(i: number): FieldPath {
    return new FieldPath(`${this.text}[${i}]`);
  }
  key(k: string): FieldPath {
    return new FieldPath(`${this.text}[${k}]`);
  }
  toString(): string {
    return this.text;
  }
}

export function path(root = '', ...more: string[]): FieldPath {
  const p = new FieldPath(root);
  return more.length ? p.child(more[0], ...more.slice(1)) : p;
}

/** Upstream renders values with Go's %#v-ish quoting: strings quoted, others plain. */
function show(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return JSON.stringify(value);
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- objects were stringified as JSON above: only primitives reach here
  return String(value);
}

export const required = (p: FieldPath, detail = ''): FieldError => ({
  type: 'FieldValueRequired',
  field: String(p),
  detail: detail ? `Required value: ${detail}` : 'Required value',
});

export const notFound = (p: FieldPath, value: unknown): FieldError => ({
  type: 'FieldValueNotFound',
  field: String(p),
  detail: `Not found: ${show(value)}`,
});

export const invalid = (p: FieldPath, value: unknown, detail = ''): FieldError => ({
  type: 'FieldValueInvalid',
  field: String(p),
  detail: `Invalid value: ${show(value)}${detail ? `: ${detail}` : ''}`,
});

export const notSupported = (p: FieldPath, value: unknown, valid: readonly string[]): FieldError => ({
  type: 'FieldValueNotSupported',
  field: String(p),
  detail: `Unsupported value: ${show(value)}${valid.length ? `: supported values: ${valid.map((v) => JSON.stringify(v)).join(', ')}` : ''}`,
});

export const duplicate = (p: FieldPath, value: unknown): FieldError => ({
  type: 'FieldValueDuplicate',
  field: String(p),
  detail: `Duplicate value: ${show(value)}`,
});

export const forbidden = (p: FieldPath, detail: string): FieldError => ({
  type: 'FieldValueForbidden',
  field: String(p),
  detail: `Forbidden: ${detail}`,
});

export const tooLong = (p: FieldPath, max: number): FieldError => ({
  type: 'FieldValueTooLong',
  field: String(p),
  detail: `Too long: may not be more than ${max} bytes`,
});

export const tooMany = (p: FieldPath, actual: number, max: number): FieldError => ({
  type: 'FieldValueTooMany',
  field: String(p),
  detail: `Too many: ${actual}: must have at most ${max} items`,
});

export const typeInvalid = (p: FieldPath, value: unknown, detail: string): FieldError => ({
  type: 'FieldValueTypeInvalid',
  field: String(p),
  detail: `Invalid value: ${show(value)}: ${detail}`,
});

/** "field: detail" as one line, the way upstream joins an ErrorList. */
export function formatFieldError(e: FieldError): string {
  return e.field ? `${e.field}: ${e.detail}` : e.detail;
}

/**
 * Thrown by strategy hooks that discover field errors outside validate() (an allocator refusing
 * a requested IP); the store turns it into a 422 naming the object.
 */
export class FieldErrors extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors.map(formatFieldError).join(', '));
  }
}
