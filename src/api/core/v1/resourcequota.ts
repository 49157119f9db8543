// core/v1 ResourceQuota: hard quantities, scopes and scope selectors; status is the quota
// controller's.
import type { ResourceDef, StrategyContext } from '../../types.js';
import { type FieldError, type FieldPath, invalid, path, required } from '../../../machinery/fielderrors.js';
import { resourceQuotaColumns } from './tables.js';
import { validateQuotaResourceName, validateResourceQuantityValue } from './helpers.js';

const SCOPES = [
  'Terminating',
  'NotTerminating',
  'BestEffort',
  'NotBestEffort',
  'PriorityClass',
  'CrossNamespacePodAffinity',
  'VolumeAttributesClass',
];
const POD_COMPUTE = new Set([
  'pods',
  'cpu',
  'memory',
  'ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
]);
const STANDARD_QUOTA = new Set([
  ...POD_COMPUTE,
  'services',
  'replicationcontrollers',
  'resourcequotas',
  'secrets',
  'configmaps',
  'persistentvolumeclaims',
  'services.nodeports',
  'services.loadbalancers',
  'requests.storage',
]);

function scopeValidFor(scope: string, res: string): boolean {
  const hugeOrCompute = POD_COMPUTE.has(res) || res.startsWith('hugepages-') || res.startsWith('requests.hugepages-');
  switch (scope) {
    case 'BestEffort':
      return res === 'pods';
    case 'Terminating':
    case 'NotTerminating':
    case 'NotBestEffort':
    case 'PriorityClass':
      return hugeOrCompute;
    case 'CrossNamespacePodAffinity':
      return res === 'pods';
    case 'VolumeAttributesClass':
      return res === 'persistentvolumeclaims' || res === 'requests.storage';
    default:
      return true;
  }
}

function validateHard(hard: Record<string, unknown> | undefined, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(hard ?? {})) {
    errs.push(...validateQuotaResourceName(k, p.key(k)));
    errs.push(...validateResourceQuantityValue(k, v, p.key(k)));
  }
  return errs;
}

export function validateResourceQuotaSpec(spec: any): FieldError[] {
  const errs = validateHard(spec?.hard, path('spec', 'hard'));
  const hard = Object.keys(spec?.hard ?? {}).sort();
  const conflicts = (set: Set<string>) =>
    (set.has('BestEffort') && set.has('NotBestEffort')) || (set.has('Terminating') && set.has('NotTerminating'));
  const scopes: string[] = spec?.scopes ?? [];
  if (scopes.length) {
    const sp = path('spec', 'scopes');
    for (const s of scopes) {
      if (!SCOPES.includes(s)) errs.push(invalid(sp, scopes, 'unsupported scope'));
      for (const k of hard)
        if (STANDARD_QUOTA.has(k) && !scopeValidFor(s, k))
          errs.push(invalid(sp, scopes, 'unsupported scope applied to resource'));
    }
    if (conflicts(new Set(scopes))) errs.push(invalid(sp, scopes, 'conflicting scopes'));
  }
  const exprs: any[] = spec?.scopeSelector?.matchExpressions ?? [];
  if (spec?.scopeSelector) {
    const mp = path('spec', 'scopeSelector', 'matchExpressions');
    for (const req of exprs) {
      if (!SCOPES.includes(req.scopeName))
        errs.push(invalid(mp.child('scopeName'), req.scopeName ?? '', 'unsupported scope'));
      for (const k of hard)
        if (STANDARD_QUOTA.has(k) && !scopeValidFor(req.scopeName, k))
          errs.push(invalid(mp, spec.scopeSelector, 'unsupported scope applied to resource'));
      if (
        ['BestEffort', 'NotBestEffort', 'Terminating', 'NotTerminating', 'CrossNamespacePodAffinity'].includes(
          req.scopeName,
        ) &&
        req.operator !== 'Exists'
      ) {
        errs.push(
          invalid(
            mp.child('operator'),
            req.operator ?? '',
            "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
          ),
        );
      }
      const values: unknown[] = req.values ?? [];
      switch (req.operator) {
        case 'In':
        case 'NotIn':
          if (!values.length)
            errs.push(
              required(
                mp.child('values'),
                "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
              ),
            );
          break;
        case 'Exists':
        case 'DoesNotExist':
          if (values.length)
            errs.push(
              invalid(
                mp.child('values'),
                values,
                "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
              ),
            );
          break;
        default:
          errs.push(invalid(mp.child('operator'), req.operator ?? '', 'not a valid selector operator'));
      }
    }
    if (conflicts(new Set(exprs.map((e) => e.scopeName)))) errs.push(invalid(mp, scopes, 'conflicting scopes'));
  }
  return errs;
}

export const resourceQuotas: ResourceDef = {
  group: '',
  versions: [{ name: 'v1' }],
  kind: 'ResourceQuota',
  plural: 'resourcequotas',
  singular: 'resourcequota',
  shortNames: ['quota'],
  namespaced: true,
  nameRule: 'dns1123-subdomain',
  subresources: { status: true },
  generationTracksSpec: false,
  table: resourceQuotaColumns,
  prepareForCreate(obj: any) {
    obj.status = {};
  },
  prepareForUpdate(obj: any, old: any, ctx: StrategyContext) {
    if (ctx.subresource === 'status') obj.spec = old.spec;
    else if (!ctx.subresource) obj.status = old.status;
  },
  validate(obj: any, ctx: StrategyContext) {
    const errs = ctx.subresource === 'status' ? [] : validateResourceQuotaSpec(obj.spec);
    errs.push(...validateHard(obj.status?.hard, path('status', 'hard')));
    errs.push(...validateHard(obj.status?.used, path('status', 'used')));
    return errs;
  },
  validateUpdate(obj: any, old: any, ctx: StrategyContext) {
    if (ctx.subresource) return [];
    const a = new Set<string>(obj.spec?.scopes ?? []);
    const b = new Set<string>(old.spec?.scopes ?? []);
    if (a.size !== b.size || [...a].some((s) => !b.has(s)))
      return [invalid(path('spec', 'scopes'), obj.spec?.scopes ?? null, 'field is immutable')];
    return [];
  },
};
