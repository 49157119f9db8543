// Small helpers shared by the core/v1 strategies: semantic equality, immutable fields, resource
// names and quantities as the core validation uses them.
import { type FieldError, type FieldPath, invalid, notSupported } from '../../../machinery/fielderrors.js';
import { isQualifiedName } from '../../../machinery/validation.js';
import { Quantity, parseQuantityOrNull, validateNonNegativeQuantity } from '../../../machinery/quantity.js';

export const FIELD_IMMUTABLE = 'field is immutable';

export { notFound } from '../../../machinery/fielderrors.js';

/** Invalid(p, value, "field is immutable") when the value changed. */
export function validateImmutableField(next: unknown, prev: unknown, p: FieldPath): FieldError[] {
  return semanticEqual(next, prev) ? [] : [invalid(p, next, FIELD_IMMUTABLE)];
}

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

/**
 * Equality the way apiequality.Semantic sees decoded objects: a missing field, null, an empty list
 * and an empty map are the same thing; key order does not matter.
 */
export function semanticEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (isEmpty(a) && isEmpty(b)) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!semanticEqual(a[i], bb[i])) return false;
    return true;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) if (!semanticEqual(ao[k], bo[k])) return false;
  return true;
}

export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** A short "- old / + new" listing of the top-level keys that differ, for Forbidden messages. */
export function describeDiff(
  prev: Record<string, unknown> | undefined,
  next: Record<string, unknown> | undefined,
  indent = '  ',
): string {
  const a = prev ?? {};
  const b = next ?? {};
  const lines: string[] = [];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const k of keys) {
    if (semanticEqual(a[k], b[k])) continue;
    if (a[k] !== undefined) lines.push(`${indent}- ${k}: ${JSON.stringify(a[k])}`);
    if (b[k] !== undefined) lines.push(`${indent}+ ${k}: ${JSON.stringify(b[k])}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Quantities (through machinery/quantity).

/** The numeric value of a quantity (string or number), or undefined if it does not parse. */
export function quantityValue(q: unknown): number | undefined {
  return parseQuantityOrNull(q)?.asNumber();
}

/** The canonical form, as upstream's Quantity.String() prints it in messages. */
export function quantityString(q: unknown): string {
  const parsed = parseQuantityOrNull(q);
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- an unparsable quantity is echoed as given
  return parsed ? parsed.toString() : String(q ?? '');
}

/** -1, 0, 1; undefined when either side does not parse. */
export function compareQuantity(a: unknown, b: unknown): number | undefined {
  const x = parseQuantityOrNull(a);
  const y = parseQuantityOrNull(b);
  if (!x || !y) return undefined;
  return x.cmp(y);
}

export function isZeroQuantity(q: unknown): boolean {
  return parseQuantityOrNull(q)?.isZero() ?? false;
}

/** Sum of quantities, as a Quantity (zero when empty). */
export function sumQuantities(qs: unknown[]): Quantity {
  let acc = Quantity.zero();
  for (const q of qs) {
    const p = parseQuantityOrNull(q);
    if (p) acc = acc.add(p);
  }
  return acc;
}

// ---------------------------------------------------------------------------------------------
// Resource names (pkg/apis/core/helper).

const STANDARD_CONTAINER_RESOURCES = new Set(['cpu', 'memory', 'ephemeral-storage']);
const STANDARD_QUOTA_RESOURCES = new Set([
  'pods',
  'services',
  'replicationcontrollers',
  'resourcequotas',
  'secrets',
  'configmaps',
  'persistentvolumeclaims',
  'services.nodeports',
  'services.loadbalancers',
  'cpu',
  'memory',
  'ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.storage',
  'requests.ephemeral-storage',
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
]);
const STANDARD_RESOURCES = new Set([...STANDARD_QUOTA_RESOURCES, 'storage', 'requests.storage']);
const INTEGER_RESOURCES = new Set([
  'pods',
  'services',
  'replicationcontrollers',
  'resourcequotas',
  'secrets',
  'configmaps',
  'persistentvolumeclaims',
  'services.nodeports',
  'services.loadbalancers',
]);

export const isHugePageResourceName = (n: string) => n.startsWith('hugepages-');
const isNativeResource = (n: string) => !n.includes('/') || n.includes('kubernetes.io/');
const isExtendedResourceName = (n: string) =>
  !isNativeResource(n) && !n.startsWith('requests.') && isQualifiedName(`requests.${n}`).length === 0;

export function isOvercommitAllowed(n: string): boolean {
  return isNativeResource(n) && !isHugePageResourceName(n);
}

export function isIntegerResourceName(n: string): boolean {
  return INTEGER_RESOURCES.has(n) || n.startsWith('count/') || isExtendedResourceName(n);
}

function isStandardResourceName(n: string): boolean {
  return (
    STANDARD_RESOURCES.has(n) ||
    isHugePageResourceName(n) ||
    n.startsWith('requests.hugepages-') ||
    n.startsWith('limits.hugepages-')
  );
}

export function validateResourceName(name: string, p: FieldPath): FieldError[] {
  const msgs = isQualifiedName(name);
  if (msgs.length) return msgs.map((m) => invalid(p, name, m));
  if (!name.includes('/') && !isStandardResourceName(name)) {
    return [invalid(p, name, 'must be a standard resource type or fully qualified')];
  }
  return [];
}

export function validateContainerResourceName(name: string, p: FieldPath): FieldError[] {
  const errs = validateResourceName(name, p);
  if (!name.includes('/')) {
    if (!STANDARD_CONTAINER_RESOURCES.has(name) && !isHugePageResourceName(name)) {
      errs.push(invalid(p, name, 'must be a standard resource for containers'));
    }
  } else if (!isNativeResource(name) && !isExtendedResourceName(name)) {
    errs.push(invalid(p, name, "doesn't follow extended resource name standard"));
  }
  return errs;
}

export function validateQuotaResourceName(name: string, p: FieldPath): FieldError[] {
  const errs = validateResourceName(name, p);
  if (
    !name.includes('/') &&
    !STANDARD_QUOTA_RESOURCES.has(name) &&
    !isHugePageResourceName(name) &&
    !name.startsWith('requests.hugepages-')
  ) {
    errs.push(invalid(p, name, 'must be a standard resource for quota'));
  }
  return errs;
}

/** ValidateResourceQuantityValue: non-negative, and whole for integer resources. */
export function validateResourceQuantityValue(name: string, value: unknown, p: FieldPath): FieldError[] {
  const errs = validateNonNegativeQuantity(value, p);
  if (errs.length) return errs;
  if (isIntegerResourceName(name)) {
    const q = parseQuantityOrNull(value);
    if (q && q.milliValueBig() % 1000n !== 0n) errs.push(invalid(p, q.toString(), 'must be an integer'));
  }
  return errs;
}

/** A required string enum: Required when empty, NotSupported when unknown. */
export function validateEnum(
  value: unknown,
  allowed: readonly string[],
  p: FieldPath,
  requiredErr: (p: FieldPath) => FieldError,
): FieldError[] {
  if (value === undefined || value === null || value === '') return [requiredErr(p)];
  if (!allowed.includes(value as string)) return [notSupported(p, value, allowed)];
  return [];
}

export const isTrue = (v: unknown) => v === true;
// eslint-disable-next-line @typescript-eslint/no-base-to-string -- API fields stringified as JavaScript does (scalars in practice)
export const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
