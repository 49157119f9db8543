// core/v1 Node: podCIDR/podCIDRs, taints, resource quantities in status, immutable podCIDRs and
// providerID.
import type { Node } from 'kubernetes-types/core/v1.js';
import type { ResourceDef, StrategyContext } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  duplicate,
  forbidden,
  invalid,
  path,
} from '../../../machinery/fielderrors.js';
import { isQualifiedName, isValidCIDR, isValidLabelValue } from '../../../machinery/validation.js';
import { nodeColumns } from './tables.js';
import { validateTaintEffect } from './podspec.js';
import { clone, validateResourceQuantityValue } from './helpers.js';

/** SetDefaults_NodeStatus and the podCIDR/podCIDRs conversion. */
export function defaultNode(node: Node): void {
  const n = node as any;
  n.spec ??= {};
  if (n.spec.podCIDR && !n.spec.podCIDRs?.length) n.spec.podCIDRs = [n.spec.podCIDR];
  else if (n.spec.podCIDR && n.spec.podCIDRs?.length && n.spec.podCIDR !== n.spec.podCIDRs[0])
    n.spec.podCIDRs = [n.spec.podCIDR];
  if (n.spec.podCIDRs?.length) n.spec.podCIDR = n.spec.podCIDRs[0];
  if (n.status?.capacity && !n.status.allocatable) n.status.allocatable = clone(n.status.capacity);
}

export function validateNodeTaints(taints: any[] | undefined, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Map<string, Set<string>>();
  (taints ?? []).forEach((t, i) => {
    const ip = p.index(i);
    errs.push(...isQualifiedName(t.key ?? '').map((m) => invalid(ip.child('key'), t.key ?? '', m)));
    const vm = isValidLabelValue(t.value ?? '');
    if (vm.length) errs.push(invalid(ip.child('value'), t.value, vm.join(';')));
    errs.push(...validateTaintEffect(t.effect, false, ip.child('effect')));
    const keys = seen.get(t.effect) ?? new Set<string>();
    if (keys.has(t.key)) {
      const d = duplicate(ip, t);
      errs.push({ ...d, detail: 'taints must be unique by key and effect pair' });
      return;
    }
    keys.add(t.key);
    seen.set(t.effect, keys);
  });
  return errs;
}

function validateNodeResources(node: any): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(node.status?.capacity ?? {}))
    errs.push(...validateResourceQuantityValue(k, v, path('status', 'capacity', k)));
  for (const [k, v] of Object.entries(node.status?.allocatable ?? {}))
    errs.push(...validateResourceQuantityValue(k, v, path('status', 'allocatable', k)));
  return errs;
}

export function validateNode(node: Node): FieldError[] {
  const n = node as any;
  const errs: FieldError[] = [];
  // Upstream reports taints under metadata (fldPath is the metadata path there).
  if (n.spec?.taints?.length) errs.push(...validateNodeTaints(n.spec.taints, path('metadata', 'taints')));
  errs.push(...validateNodeResources(n));
  const cidrs: string[] = n.spec?.podCIDRs ?? [];
  const cp = path('spec', 'podCIDRs');
  cidrs.forEach((c, i) => errs.push(...isValidCIDR(c).map((m) => invalid(cp.index(i), c, m))));
  if (cidrs.length > 1) {
    const fams = new Set(cidrs.map((c) => (c.includes(':') ? 6 : 4)));
    if (fams.size !== 2 || cidrs.length > 2)
      errs.push(invalid(cp, cidrs, 'may specify no more than one CIDR for each IP family'));
    const seen = new Set<string>();
    cidrs.forEach((c, i) => {
      if (seen.has(c)) errs.push(duplicate(cp.index(i), c));
      seen.add(c);
    });
  }
  return errs;
}

export function validateNodeUpdate(node: Node, old: Node): FieldError[] {
  const n = node as any;
  const o = old as any;
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  (n.status?.addresses ?? []).forEach((a: any, i: number) => {
    const k = `${a.type}/${a.address}`;
    if (seen.has(k)) errs.push(duplicate(path('status', 'addresses').index(i), a));
    seen.add(k);
  });
  const oc: string[] = o.spec?.podCIDRs ?? [];
  const nc: string[] = n.spec?.podCIDRs ?? [];
  const msg = 'node updates may not change podCIDR except from "" to valid';
  if (oc.length) {
    if (oc.length !== nc.length) errs.push(forbidden(path('spec', 'podCIDRs'), msg));
    else oc.forEach((c, i) => c !== nc[i] && errs.push(forbidden(path('spec', 'podCIDRs'), msg)));
  }
  if (o.spec?.providerID && o.spec.providerID !== n.spec?.providerID) {
    errs.push(forbidden(path('spec', 'providerID'), 'node updates may not change providerID except from "" to valid'));
  }
  if ((o.spec?.externalID ?? '') !== (n.spec?.externalID ?? ''))
    errs.push(forbidden(path('spec', 'externalID'), 'may not be updated'));
  return errs;
}

export const nodes: ResourceDef = {
  group: '',
  versions: [{ name: 'v1' }],
  kind: 'Node',
  plural: 'nodes',
  singular: 'node',
  shortNames: ['no'],
  namespaced: false,
  nameRule: 'dns1123-subdomain',
  subresources: { status: true },
  generationTracksSpec: false,
  table: nodeColumns,
  defaults: defaultNode,
  prepareForUpdate(obj: any, old: any, ctx: StrategyContext) {
    if (ctx.subresource === 'status') obj.spec = old.spec;
    else if (!ctx.subresource) obj.status = old.status;
  },
  validate: (obj: any) => validateNode(obj),
  validateUpdate: (obj: any, old: any) => validateNodeUpdate(obj, old),
  fieldSelectors: {
    'spec.unschedulable': (o) => String(o.spec?.unschedulable === true),
  },
};
