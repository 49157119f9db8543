// storage.k8s.io/v1 CSIDriver (cluster-scoped): how the node agent and attacher treat a driver.
import type { ResourceDef } from '../../types.js';
import { type FieldError, duplicate, invalid, notSupported, path, required } from '../../../machinery/fielderrors.js';
import { csiDriverColumns } from './tables.js';
import { ensure, immutable } from '../../apps/v1/workload.js';
import { validateCSIDriverName } from './storageclass.js';

const FS_GROUP_POLICIES = ['File', 'None', 'ReadWriteOnceWithFSType'];
const LIFECYCLE_MODES = ['Ephemeral', 'Persistent'];
const isSet = (v: unknown): boolean => v !== undefined && v !== null;

export function defaultCSIDriver(obj: any): void {
  const spec = ensure(obj, 'spec');
  if (!isSet(spec.attachRequired)) spec.attachRequired = true;
  if (!isSet(spec.podInfoOnMount)) spec.podInfoOnMount = false;
  if (!isSet(spec.storageCapacity)) spec.storageCapacity = false;
  if (!isSet(spec.fsGroupPolicy)) spec.fsGroupPolicy = 'ReadWriteOnceWithFSType';
  if (!Array.isArray(spec.volumeLifecycleModes) || spec.volumeLifecycleModes.length === 0)
    spec.volumeLifecycleModes = ['Persistent'];
  if (!isSet(spec.requiresRepublish)) spec.requiresRepublish = false;
  if (!isSet(spec.seLinuxMount)) spec.seLinuxMount = false;
}

export function validateCSIDriver(obj: any): FieldError[] {
  const errs = validateCSIDriverName(obj.metadata?.name, path('metadata', 'name'));
  const spec = obj.spec ?? {};
  const p = path('spec');
  for (const f of ['attachRequired', 'podInfoOnMount', 'storageCapacity', 'requiresRepublish'])
    if (!isSet(spec[f])) errs.push(required(p.child(f)));
  if (isSet(spec.fsGroupPolicy) && !FS_GROUP_POLICIES.includes(spec.fsGroupPolicy)) {
    errs.push(notSupported(p.child('fsGroupPolicy'), spec.fsGroupPolicy, FS_GROUP_POLICIES));
  }
  (spec.volumeLifecycleModes ?? []).forEach((m: string) => {
    if (!LIFECYCLE_MODES.includes(m)) errs.push(notSupported(p.child('volumeLifecycleModes'), m, LIFECYCLE_MODES));
  });
  const audiences = new Set<string>();
  (spec.tokenRequests ?? []).forEach((tr: any, i: number) => {
    const tp = p.child('tokenRequests').index(i);
    const aud: string = tr?.audience ?? '';
    if (audiences.has(aud)) errs.push(duplicate(tp.child('audience'), aud));
    audiences.add(aud);
    const exp = tr?.expirationSeconds;
    if (isSet(exp)) {
      if (exp < 600)
        errs.push(invalid(tp.child('expirationSeconds'), exp, 'may not specify a duration less than 10 minutes'));
      if (exp > 4294967296)
        errs.push(invalid(tp.child('expirationSeconds'), exp, 'may not specify a duration larger than 2^32 seconds'));
    }
  });
  return errs;
}

export function validateCSIDriverUpdate(obj: any, old: any): FieldError[] {
  return [
    ...immutable(obj.spec?.attachRequired, old.spec?.attachRequired, path('spec', 'attachRequired')),
    ...immutable(obj.spec?.volumeLifecycleModes, old.spec?.volumeLifecycleModes, path('spec', 'volumeLifecycleModes')),
  ];
}

export const csiDriverResource: ResourceDef = {
  group: 'storage.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'CSIDriver',
  plural: 'csidrivers',
  singular: 'csidriver',
  namespaced: false,
  generationTracksSpec: true,
  defaults: defaultCSIDriver,
  validate: validateCSIDriver,
  validateUpdate: validateCSIDriverUpdate,
  table: csiDriverColumns,
};
