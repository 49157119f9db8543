// Server-side printer columns (kubectl get) for apps/v1, matching upstream's printers.
import type { ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { TableColumn } from '../../types.js';
import {
  NONE,
  ageColumn,
  containerColumns,
  formatLabels,
  labelSelectorColumn,
  nameColumn,
  selectorString,
} from '../../printing.js';

export const deploymentColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Ready',
    type: 'string',
    description: 'Ready pods out of the desired number.',
    cell: (o: Deployment) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}`,
  },
  {
    name: 'Up-to-date',
    type: 'string',
    description: 'Pods running the latest pod template.',
    cell: (o: Deployment) => o.status?.updatedReplicas ?? 0,
  },
  {
    name: 'Available',
    type: 'string',
    description: 'Pods available to serve.',
    cell: (o: Deployment) => o.status?.availableReplicas ?? 0,
  },
  ageColumn(),
  ...containerColumns((o: Deployment) => o.spec?.template?.spec?.containers),
  {
    name: 'Selector',
    type: 'string',
    priority: 1,
    description: 'Label query over the pods of the deployment.',
    // Upstream prints the selector's String() here: empty rather than <none> when it selects all.
    cell: (o: Deployment) => {
      const s = selectorString(o.spec?.selector);
      return s === NONE ? '' : s === '<error>' ? '<invalid>' : s;
    },
  },
];

export const replicaSetColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Desired',
    type: 'integer',
    description: 'Requested number of replicas.',
    cell: (o: ReplicaSet) => o.spec?.replicas ?? 1,
  },
  {
    name: 'Current',
    type: 'integer',
    description: 'Number of replicas that exist.',
    cell: (o: ReplicaSet) => o.status?.replicas ?? 0,
  },
  {
    name: 'Ready',
    type: 'integer',
    description: 'Number of ready replicas.',
    cell: (o: ReplicaSet) => o.status?.readyReplicas ?? 0,
  },
  ageColumn(),
  ...containerColumns((o: ReplicaSet) => o.spec?.template?.spec?.containers),
  labelSelectorColumn((o: ReplicaSet) => o.spec?.selector, 'Label query over the pods of the replica set.'),
];

export const statefulSetColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Ready',
    type: 'string',
    description: 'Ready pods out of the desired number.',
    cell: (o: StatefulSet) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}`,
  },
  ageColumn(),
  ...containerColumns((o: StatefulSet) => o.spec?.template?.spec?.containers),
];

export const daemonSetColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Desired',
    type: 'integer',
    description: 'Nodes that should run the daemon pod.',
    cell: (o: DaemonSet) => o.status?.desiredNumberScheduled ?? 0,
  },
  {
    name: 'Current',
    type: 'integer',
    description: 'Nodes running at least one daemon pod that should.',
    cell: (o: DaemonSet) => o.status?.currentNumberScheduled ?? 0,
  },
  {
    name: 'Ready',
    type: 'integer',
    description: 'Nodes whose daemon pod is ready.',
    cell: (o: DaemonSet) => o.status?.numberReady ?? 0,
  },
  {
    name: 'Up-to-date',
    type: 'integer',
    description: 'Nodes running the latest daemon pod template.',
    cell: (o: DaemonSet) => o.status?.updatedNumberScheduled ?? 0,
  },
  {
    name: 'Available',
    type: 'integer',
    description: 'Nodes whose daemon pod is available.',
    cell: (o: DaemonSet) => o.status?.numberAvailable ?? 0,
  },
  {
    name: 'Node Selector',
    type: 'string',
    description: 'Node labels the daemon pods are restricted to.',
    cell: (o: DaemonSet) => formatLabels(o.spec?.template?.spec?.nodeSelector),
  },
  ageColumn(),
  ...containerColumns((o: DaemonSet) => o.spec?.template?.spec?.containers),
  labelSelectorColumn((o: DaemonSet) => o.spec?.selector, 'Label query over the pods of the daemon set.'),
];

/** `kind.group/name` (lowercase kind and group) of the controlling owner, or `<none>`. */
function controllerOf(o: ControllerRevision): string {
  const ref = (o.metadata?.ownerReferences ?? []).find((r) => r.controller === true);
  if (!ref) return NONE;
  const apiVersion = ref.apiVersion ?? '';
  const slash = apiVersion.indexOf('/');
  const group = slash >= 0 ? apiVersion.slice(0, slash) : '';
  const kind = ref.kind ?? '';
  if (!kind && !group) return ref.name;
  const groupKind = group ? `${kind}.${group}` : kind;
  return `${groupKind.toLowerCase()}/${ref.name}`;
}

export const controllerRevisionColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Controller',
    type: 'string',
    description: 'The object that owns this revision.',
    cell: (o: ControllerRevision) => controllerOf(o),
  },
  {
    name: 'Revision',
    type: 'string',
    description: 'Revision number of the state.',
    cell: (o: ControllerRevision) => o.revision ?? 0,
  },
  ageColumn(),
];
