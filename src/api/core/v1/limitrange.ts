// core/v1 LimitRange: SetDefaults_LimitRangeItem and ValidateLimitRange.
import type { LimitRange } from 'kubernetes-types/core/v1.js';
import type { ResourceDef } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  duplicate,
  forbidden,
  invalid,
  path,
  required,
} from '../../../machinery/fielderrors.js';
import { isQualifiedName } from '../../../machinery/validation.js';
import { parseQuantityOrNull, type Quantity } from '../../../machinery/quantity.js';
import { limitRangeColumns } from './tables.js';
import { isOvercommitAllowed, validateContainerResourceName, validateResourceName } from './helpers.js';
import { setOwn } from '../../../machinery/objects.js';

const LIMIT_TYPES = new Set(['Pod', 'Container', 'PersistentVolumeClaim']);

export function defaultLimitRange(lr: LimitRange): void {
  for (const item of ((lr as any).spec?.limits ?? []) as any[]) {
    if (item.type !== 'Container') continue;
    item.default ??= {};
    item.defaultRequest ??= {};
    // Resource names are data: own-property checks and sets (see machinery/objects.ts).
    for (const [k, v] of Object.entries(item.max ?? {}))
      if (!Object.hasOwn(item.default, k)) setOwn(item.default, k, v);
    for (const [k, v] of Object.entries(item.default))
      if (!Object.hasOwn(item.defaultRequest, k)) setOwn(item.defaultRequest, k, v);
    for (const [k, v] of Object.entries(item.min ?? {}))
      if (!Object.hasOwn(item.defaultRequest, k)) setOwn(item.defaultRequest, k, v);
  }
}

function validateTypeName(t: string, p: FieldPath): FieldError[] {
  const errs = isQualifiedName(t ?? '').map((m) => invalid(p, t ?? '', m));
  if (errs.length) return errs;
  if (!t.includes('/') && !LIMIT_TYPES.has(t))
    errs.push(invalid(p, t, 'must be a standard limit type or fully qualified'));
  return errs;
}

function validateName(type: string, name: string, p: FieldPath): FieldError[] {
  return type === 'Pod' || type === 'Container'
    ? validateContainerResourceName(name, p)
    : validateResourceName(name, p);
}

export function validateLimitRange(lr: LimitRange): FieldError[] {
  const errs: FieldError[] = [];
  const types = new Set<string>();
  (((lr as any).spec?.limits ?? []) as any[]).forEach((limit, i) => {
    const ip = path('spec', 'limits').index(i);
    errs.push(...validateTypeName(limit.type, ip.child('type')));
    if (types.has(limit.type)) errs.push(duplicate(ip.child('type'), limit.type));
    types.add(limit.type);
    const keys = new Set<string>();
    const collect = (field: string): Map<string, Quantity> => {
      const m = new Map<string, Quantity>();
      for (const [k, v] of Object.entries(limit[field] ?? {})) {
        errs.push(...validateName(limit.type, k, ip.child(field).key(k)));
        keys.add(k);
        const q = parseQuantityOrNull(v);
        if (q) m.set(k, q);
      }
      return m;
    };
    const max = collect('max');
    const min = collect('min');
    let def = new Map<string, Quantity>();
    let defReq = new Map<string, Quantity>();
    if (limit.type === 'Pod') {
      if (Object.keys(limit.default ?? {}).length)
        errs.push(forbidden(ip.child('default'), "may not be specified when `type` is 'Pod'"));
      if (Object.keys(limit.defaultRequest ?? {}).length)
        errs.push(forbidden(ip.child('defaultRequest'), "may not be specified when `type` is 'Pod'"));
    } else {
      def = collect('default');
      defReq = collect('defaultRequest');
    }
    if (
      limit.type === 'PersistentVolumeClaim' &&
      !('storage' in (limit.min ?? {})) &&
      !('storage' in (limit.max ?? {}))
    ) {
      errs.push(
        required(ip.child('limits'), 'either minimum or maximum storage value is required, but neither was provided'),
      );
    }
    const ratio = collect('maxLimitRequestRatio');
    for (const k of keys) {
      const mn = min.get(k);
      const mx = max.get(k);
      const d = def.get(k);
      const dr = defReq.get(k);
      const r = ratio.get(k);
      if (mn && mx && mn.cmp(mx) > 0)
        errs.push(
          invalid(
            ip.child('min').key(k),
            mn.toString(),
            `min value ${String(mn)} is greater than max value ${String(mx)}`,
          ),
        );
      if (dr && mn && mn.cmp(dr) > 0)
        errs.push(
          invalid(
            ip.child('defaultRequest').key(k),
            dr.toString(),
            `min value ${String(mn)} is greater than default request value ${String(dr)}`,
          ),
        );
      if (dr && mx && dr.cmp(mx) > 0)
        errs.push(
          invalid(
            ip.child('defaultRequest').key(k),
            dr.toString(),
            `default request value ${String(dr)} is greater than max value ${String(mx)}`,
          ),
        );
      if (dr && d && dr.cmp(d) > 0)
        errs.push(
          invalid(
            ip.child('defaultRequest').key(k),
            dr.toString(),
            `default request value ${String(dr)} is greater than default limit value ${String(d)}`,
          ),
        );
      if (d && mn && mn.cmp(d) > 0)
        errs.push(
          invalid(
            ip.child('default').key(k),
            mn.toString(),
            `min value ${String(mn)} is greater than default value ${String(d)}`,
          ),
        );
      if (d && mx && d.cmp(mx) > 0)
        errs.push(
          invalid(
            ip.child('default').key(k),
            mx.toString(),
            `default value ${String(d)} is greater than max value ${String(mx)}`,
          ),
        );
      if (r && r.asNumber() < 1)
        errs.push(invalid(ip.child('maxLimitRequestRatio').key(k), r.toString(), `ratio ${String(r)} is less than 1`));
      if (r && mn && mx && mn.asNumber() > 0) {
        const lim = mx.asNumber() / mn.asNumber();
        if (r.asNumber() > lim)
          errs.push(
            invalid(
              ip.child('maxLimitRequestRatio').key(k),
              r.toString(),
              `ratio ${String(r)} is greater than max/min = ${lim.toFixed(6)}`,
            ),
          );
      }
      if (!isOvercommitAllowed(k) && d && dr && d.cmp(dr) !== 0) {
        errs.push(
          invalid(
            ip.child('defaultRequest').key(k),
            dr.toString(),
            `default value ${String(d)} must equal to defaultRequest value ${String(dr)} in ${k}`,
          ),
        );
      }
    }
  });
  return errs;
}

export const limitRanges: ResourceDef = {
  group: '',
  versions: [{ name: 'v1' }],
  kind: 'LimitRange',
  plural: 'limitranges',
  singular: 'limitrange',
  shortNames: ['limits'],
  namespaced: true,
  nameRule: 'dns1123-subdomain',
  generationTracksSpec: false,
  table: limitRangeColumns,
  defaults: defaultLimitRange,
  validate: (obj: any) => validateLimitRange(obj),
};
