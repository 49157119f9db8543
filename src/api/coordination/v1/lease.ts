// coordination.k8s.io/v1 Lease: leader election and node heartbeats.
import type { ResourceDef } from '../../types.js';
import { type FieldError, invalid, notSupported, path } from '../../../machinery/fielderrors.js';
import { isQualifiedName, validateNonnegative } from '../../../machinery/validation.js';
import { leaseColumns } from './tables.js';

export function validateLease(obj: any): FieldError[] {
  const spec = obj.spec ?? {};
  const p = path('spec');
  const errs: FieldError[] = [];
  if (spec.leaseDurationSeconds !== undefined && spec.leaseDurationSeconds !== null && spec.leaseDurationSeconds <= 0) {
    errs.push(invalid(p.child('leaseDurationSeconds'), spec.leaseDurationSeconds, 'must be greater than 0'));
  }
  errs.push(...validateNonnegative(spec.leaseTransitions, p.child('leaseTransitions')));
  if (spec.strategy !== undefined && spec.strategy !== null) {
    const s = String(spec.strategy);
    if (s === 'OldestEmulationVersion') {
      // the one built-in strategy
    } else if (!s.includes('/')) {
      errs.push(notSupported(p.child('strategy'), s, ['OldestEmulationVersion']));
    } else {
      for (const m of isQualifiedName(s)) errs.push(invalid(p.child('strategy'), s, m));
    }
  }
  if (typeof spec.preferredHolder === 'string' && spec.preferredHolder.length > 0 && !spec.strategy) {
    errs.push(
      invalid(p.child('preferredHolder'), spec.preferredHolder, 'may only be specified if `strategy` is defined'),
    );
  }
  return errs;
}

export const leaseResource: ResourceDef = {
  group: 'coordination.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'Lease',
  plural: 'leases',
  singular: 'lease',
  namespaced: true,
  generationTracksSpec: false,
  validate: validateLease,
  table: leaseColumns,
};
