// Helpers shared by the workload strategies (apps, batch, policy) and reused by the other API
// groups in this tree: structural equality, int-or-percent checks, selector/template agreement.
import {
  type FieldError,
  type FieldPath,
  forbidden,
  invalid,
  notSupported,
  path,
  required,
} from '../../../machinery/fielderrors.js';
import { regexError, validateLabelSelector, validateNonnegative } from '../../../machinery/validation.js';
import { formatLabelSelector, selectorFromLabelSelector } from '../../../machinery/labels.js';
import { defaultPodTemplateSpec, validatePodTemplateSpec } from '../../core/v1/podspec.js';

export const FIELD_IMMUTABLE = 'field is immutable';

const isEmptyish = (v: unknown): boolean =>
  v === undefined ||
  v === null ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' &&
    !Array.isArray(v) &&
    Object.keys(v).every((k) => (v as Record<string, unknown>)[k] === undefined));

/**
 * Equality as apiequality.Semantic sees decoded objects: absent, null, [] and {} are alike
 * (Go decodes all of them to the zero value); key order does not matter.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (isEmptyish(a) && isEmptyish(b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  for (const k of keys) if (!deepEqual(ra[k], rb[k])) return false;
  return true;
}

/** Upstream ValidateImmutableField: Invalid(p, new, "field is immutable") when the value changed. */
export function immutable(next: unknown, prev: unknown, p: FieldPath): FieldError[] {
  return deepEqual(next, prev) ? [] : [invalid(p, next ?? null, FIELD_IMMUTABLE)];
}

export const clone = <T>(v: T): T => (v === undefined ? v : structuredClone(v));

export const isObject = (v: unknown): v is Record<string, any> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Makes sure `obj[key]` is an object and returns it. */
export function ensure(obj: Record<string, any>, key: string): Record<string, any> {
  if (!isObject(obj[key])) obj[key] = {};
  return obj[key];
}

// ---------------------------------------------------------------------------------------------
// int-or-percent (intstr.IntOrString)

const percentRe = /^[0-9]+%$/;
const PERCENT_MSG = regexError(
  "a valid percent string must be a numeric string followed by an ending '%'",
  '[0-9]+%',
  '1%',
  '93%',
);

export const isPercent = (v: unknown): v is string => typeof v === 'string' && percentRe.test(v);

/** Upstream getIntOrPercentValue: the integer, or the number before '%' (NaN when neither). */
export function intOrPercentValue(v: unknown): number {
  if (typeof v === 'number') return v;
  if (isPercent(v)) return Number.parseInt(v.slice(0, -1), 10);
  if (typeof v === 'string' && /^-?[0-9]+$/.test(v)) return Number.parseInt(v, 10);
  return Number.NaN;
}

/** Upstream ValidatePositiveIntOrPercent (which in fact allows 0). */
export function validatePositiveIntOrPercent(v: unknown, p: FieldPath): FieldError[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return isPercent(v) ? [] : [invalid(p, v, PERCENT_MSG)];
  if (typeof v === 'number') return validateNonnegative(v, p);
  return [invalid(p, v, "must be an integer or percentage (e.g '5%')")];
}

/** Upstream IsNotMoreThan100Percent. */
export function isNotMoreThan100Percent(v: unknown, p: FieldPath): FieldError[] {
  if (!isPercent(v)) return [];
  return intOrPercentValue(v) > 100 ? [invalid(p, v, 'must not be greater than 100%')] : [];
}

// ---------------------------------------------------------------------------------------------
// Selectors and pod templates

export function selectorIsEmpty(sel: any): boolean {
  return !sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0);
}

/** True when the selector selects `labels`; an unparsable selector counts as a match (reported elsewhere). */
export function selectorMatches(sel: any, labels: Record<string, string> | undefined): boolean {
  try {
    return selectorFromLabelSelector(sel).matches(labels ?? {});
  } catch {
    return true;
  }
}

/** The scale subresource's status.selector for a built-in workload. */
export function scaleSelector(obj: any): string {
  const sel = obj?.spec?.selector;
  if (!sel) return '';
  try {
    return formatLabelSelector(sel);
  } catch {
    return '';
  }
}

/**
 * Required selector that is valid and not empty (`empty selector is invalid for <kind>`), and a
 * template whose labels it selects.
 */
export function validateSelectorAndTemplate(spec: any, p: FieldPath, kindWord: string): FieldError[] {
  const errs: FieldError[] = [];
  const sel = spec?.selector;
  if (!isObject(sel)) {
    errs.push(required(p.child('selector')));
  } else {
    errs.push(...validateLabelSelector(sel, p.child('selector')));
    if (selectorIsEmpty(sel)) errs.push(invalid(p.child('selector'), sel, `empty selector is invalid for ${kindWord}`));
  }
  const tpl = spec?.template;
  if (!isObject(tpl)) {
    errs.push(required(p.child('template')));
    return errs;
  }
  if (isObject(sel) && !selectorIsEmpty(sel) && !selectorMatches(sel, tpl.metadata?.labels)) {
    errs.push(
      invalid(
        p.child('template', 'metadata', 'labels'),
        tpl.metadata?.labels ?? {},
        '`selector` does not match template `labels`',
      ),
    );
  }
  return errs;
}

/** Pod template checks shared by controllers whose pods restart forever (RS, Deployment, DS, STS). */
export function validateAlwaysRestartingTemplate(
  tpl: any,
  p: FieldPath,
  adsMessage: (p: FieldPath, v: unknown) => FieldError,
): FieldError[] {
  if (!isObject(tpl)) return [];
  const errs = validatePodTemplateSpec(tpl, p);
  const rp = tpl.spec?.restartPolicy;
  if (rp !== 'Always') errs.push(notSupported(p.child('spec', 'restartPolicy'), rp ?? '', ['Always']));
  if (tpl.spec?.activeDeadlineSeconds !== undefined && tpl.spec?.activeDeadlineSeconds !== null) {
    errs.push(adsMessage(p.child('spec', 'activeDeadlineSeconds'), tpl.spec.activeDeadlineSeconds));
  }
  return errs;
}

export const forbiddenADS = (what: string) => (p: FieldPath) =>
  forbidden(p, `activeDeadlineSeconds in ${what} is not Supported`);

/** Applies the pod defaults to `spec.template` when there is one. */
export function defaultTemplate(spec: any): void {
  if (isObject(spec?.template)) defaultPodTemplateSpec(spec.template);
}

/** Status is cleared on create (upstream PrepareForCreate for workloads). */
export function clearStatus(obj: any): void {
  obj.status = {};
}

export const root = (name: string): FieldPath => path(name);
