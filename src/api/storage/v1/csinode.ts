// storage.k8s.io/v1 CSINode (cluster-scoped, named after its Node): drivers installed on a node.
import type { ResourceDef } from '../../types.js';
import { type FieldError, duplicate, invalid, path, required } from '../../../machinery/fielderrors.js';
import { validateLabelName, validateNonnegative } from '../../../machinery/validation.js';
import { csiNodeColumns } from './tables.js';
import { immutable } from '../../apps/v1/workload.js';
import { validateCSIDriverName } from './storageclass.js';

const NODE_ID_MAX = 192;

export function validateCSINode(obj: any): FieldError[] {
  const errs: FieldError[] = [];
  const dp = path('spec', 'drivers');
  const names = new Set<string>();
  (obj.spec?.drivers ?? []).forEach((d: any, i: number) => {
    const p = dp.index(i);
    errs.push(...validateCSIDriverName(d?.name, p.child('name')));
    const nodeID: string = d?.nodeID ?? '';
    if (nodeID.length === 0) errs.push(required(p.child('nodeID'), nodeID));
    if (nodeID.length > NODE_ID_MAX)
      errs.push(invalid(p.child('nodeID'), nodeID, `must be ${NODE_ID_MAX} characters or less`));
    errs.push(...validateNonnegative(d?.allocatable?.count, p.child('allocatable', 'count')));
    if (names.has(d?.name)) errs.push(duplicate(p.child('name'), d?.name));
    names.add(d?.name);
    const keys = new Set<string>();
    for (const key of d?.topologyKeys ?? []) {
      if (!key) errs.push(required(p, key));
      if (keys.has(key)) errs.push(duplicate(p, key));
      keys.add(key);
      errs.push(...validateLabelName(key, p));
    }
  });
  return errs;
}

export function validateCSINodeUpdate(obj: any, old: any): FieldError[] {
  const errs: FieldError[] = [];
  const newDrivers: any[] = obj.spec?.drivers ?? [];
  for (const od of old.spec?.drivers ?? []) {
    newDrivers.forEach((nd, i) => {
      if (nd?.name !== od?.name) return;
      const p = path('spec', 'drivers').index(i);
      errs.push(...immutable(nd.nodeID, od.nodeID, p.child('nodeID')));
      errs.push(...immutable(nd.topologyKeys, od.topologyKeys, p.child('topologyKeys')));
    });
  }
  return errs;
}

export const csiNodeResource: ResourceDef = {
  group: 'storage.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'CSINode',
  plural: 'csinodes',
  singular: 'csinode',
  namespaced: false,
  generationTracksSpec: true,
  validate: validateCSINode,
  validateUpdate: validateCSINodeUpdate,
  table: csiNodeColumns,
};
