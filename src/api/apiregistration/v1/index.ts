// apiregistration.k8s.io/v1 APIService (`kubectl get apiservices`): one per served group/version,
// as kube-apiserver's autoregistration creates them for its own groups and for CRDs. Every API
// here is served by this server, so each is Local (no spec.service) and Available. They are
// computed on request and read-only: registering a remote API (spec.service, aggregation) is not
// served yet, so creating one is refused (405) instead of being accepted and never proxied.
import type { ResourceDef, TableColumn, VirtualReader } from '../../types.js';
import { builtinResources } from '../../builtin.js';
import { rfc3339 } from '../../../machinery/time.js';
import { ageColumn, nameColumn } from '../../printing.js';

const GROUP = 'apiregistration.k8s.io';

/**
 * kube-apiserver's group and version priorities (apiVersionPriorities): the order of groups in
 * discovery. metrics.k8s.io is normally metrics-server's remote APIService, registered at 100.
 */
const PRIORITIES: Record<string, [group: number, version: number]> = {
  v1: [18000, 1],
  'apiregistration.k8s.io/v1': [18000, 15],
  'apps/v1': [17800, 15],
  'events.k8s.io/v1': [17750, 15],
  'authentication.k8s.io/v1': [17700, 15],
  'authorization.k8s.io/v1': [17600, 15],
  'autoscaling/v2': [17500, 30],
  'autoscaling/v1': [17500, 15],
  'batch/v1': [17400, 15],
  'certificates.k8s.io/v1': [17300, 15],
  'networking.k8s.io/v1': [17200, 15],
  'policy/v1': [17100, 15],
  'rbac.authorization.k8s.io/v1': [17000, 15],
  'storage.k8s.io/v1': [16800, 15],
  'apiextensions.k8s.io/v1': [16700, 15],
  'admissionregistration.k8s.io/v1': [16700, 15],
  'scheduling.k8s.io/v1': [16600, 15],
  'coordination.k8s.io/v1': [16500, 15],
  'node.k8s.io/v1': [16300, 15],
  'discovery.k8s.io/v1': [16200, 15],
  'flowcontrol.apiserver.k8s.io/v1': [16100, 21],
  'metrics.k8s.io/v1beta1': [100, 100],
};

/** crdregistration's priorities: CRD groups sort after the built-in ones. */
const CRD_PRIORITY: [number, number] = [1000, 100];

/** When this server started: the creation time of the APIServices it registers on start. */
const STARTED = rfc3339(Date.now());

function apiService(group: string, version: string, created: string, automanaged: 'onstart' | 'true'): any {
  const [groupPriorityMinimum, versionPriority] = PRIORITIES[group ? `${group}/${version}` : version] ?? CRD_PRIORITY;
  return {
    metadata: {
      name: `${version}.${group}`,
      creationTimestamp: created,
      labels: { 'kube-aggregator.kubernetes.io/automanaged': automanaged },
    },
    spec: { ...(group ? { group } : {}), version, groupPriorityMinimum, versionPriority },
    status: {
      conditions: [
        {
          type: 'Available',
          status: 'True',
          lastTransitionTime: created,
          reason: 'Local',
          message: 'Local APIServices are always available',
        },
      ],
    },
  };
}

function servedGroupVersions(read: VirtualReader): any[] {
  const out = new Map<string, any>();
  for (const def of builtinResources()) {
    for (const v of def.versions) {
      const name = `${v.name}.${def.group}`;
      if (!out.has(name)) out.set(name, apiService(def.group, v.name, STARTED, 'onstart'));
    }
  }
  for (const crd of read.list('apiextensions.k8s.io', 'customresourcedefinitions')) {
    for (const v of crd.spec?.versions ?? []) {
      const name = `${v.name}.${crd.spec.group}`;
      if (v.served && !out.has(name))
        out.set(name, apiService(crd.spec.group, v.name, crd.metadata?.creationTimestamp ?? STARTED, 'true'));
    }
  }
  return [...out.values()];
}

function available(o: any): string {
  // printAPIService: the Available condition's status, with its reason unless True.
  const c = (o.status?.conditions ?? []).find((x: any) => x.type === 'Available');
  if (!c) return 'Unknown';
  return c.status !== 'True' && c.reason ? `${c.status} (${c.reason})` : c.status;
}

const columns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Service',
    type: 'string',
    cell: (o) => (o.spec?.service ? `${o.spec.service.namespace}/${o.spec.service.name}` : 'Local'),
    description: 'The reference to the service that hosts this API endpoint.',
  },
  { name: 'Available', type: 'string', cell: available, description: 'Whether this service is available.' },
  ageColumn(),
];

export const apiServices: ResourceDef = {
  group: GROUP,
  versions: [{ name: 'v1' }],
  kind: 'APIService',
  plural: 'apiservices',
  singular: 'apiservice',
  namespaced: false,
  categories: ['api-extensions'],
  verbs: ['get', 'list'],
  table: columns,
  virtualList: servedGroupVersions,
};

export const resources: ResourceDef[] = [apiServices];
