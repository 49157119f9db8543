// core/v1 ComponentStatus (`kubectl get cs`): read-only, computed on request. Upstream probes the
// scheduler's and controller manager's /healthz and its etcd; here the scheduler and controller
// manager are healthy while their leader-election Lease is held and renewed (they may run in the
// server or as standalone processes), and the storage answers because the server is answering.
import type { ResourceDef, TableColumn, VirtualReader } from '../../types.js';

interface Component {
  name: string;
  /** kube-system Lease the component's leader renews. */
  lease?: string;
  /** Upstream's message for a healthy component. */
  healthy: string;
}

const COMPONENTS: Component[] = [
  { name: 'scheduler', lease: 'kube-scheduler', healthy: 'ok' },
  { name: 'controller-manager', lease: 'kube-controller-manager', healthy: 'ok' },
  { name: 'etcd-0', healthy: '{"health":"true","reason":""}' },
];

/** Slack past leaseDurationSeconds before a leader counts as gone (one missed renewal). */
const RENEW_SLACK_MS = 5_000;

function leaseHeld(read: VirtualReader, name: string, now: number): string | undefined {
  const lease = read.get('coordination.k8s.io', 'leases', 'kube-system', name);
  if (!lease?.spec?.holderIdentity) return `no leader holds the kube-system/${name} lease`;
  const renewed = Date.parse(lease.spec.renewTime ?? lease.spec.acquireTime ?? '');
  const ttl = (lease.spec.leaseDurationSeconds ?? 15) * 1000 + RENEW_SLACK_MS;
  if (!Number.isFinite(renewed) || now - renewed > ttl)
    return `the kube-system/${name} lease was last renewed at ${lease.spec.renewTime ?? 'no time'}`;
  return undefined;
}

function conditionCells(o: any): { status: string; message: string; error: string } {
  // printComponentStatus: the Healthy condition decides; Unknown without one.
  const c = (o.conditions ?? []).find((x: any) => x.type === 'Healthy');
  if (!c) return { status: 'Unknown', message: '', error: '' };
  return { status: c.status === 'True' ? 'Healthy' : 'Unhealthy', message: c.message ?? '', error: c.error ?? '' };
}

const columns: TableColumn[] = [
  { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata?.name },
  {
    name: 'Status',
    type: 'string',
    cell: (o) => conditionCells(o).status,
    description: 'Status of the component conditions',
  },
  {
    name: 'Message',
    type: 'string',
    cell: (o) => conditionCells(o).message,
    description: 'Message of the component conditions',
  },
  {
    name: 'Error',
    type: 'string',
    cell: (o) => conditionCells(o).error,
    description: 'Error of the component conditions',
  },
];

export const componentStatuses: ResourceDef = {
  group: '',
  versions: [{ name: 'v1', deprecated: true, deprecationWarning: 'v1 ComponentStatus is deprecated in v1.19+' }],
  kind: 'ComponentStatus',
  plural: 'componentstatuses',
  singular: 'componentstatus',
  shortNames: ['cs'],
  namespaced: false,
  verbs: ['get', 'list'],
  table: columns,
  virtualList(read) {
    const now = Date.now();
    return COMPONENTS.map((c) => {
      const problem = c.lease ? leaseHeld(read, c.lease, now) : undefined;
      const condition = problem
        ? { type: 'Healthy', status: 'False', error: problem }
        : { type: 'Healthy', status: 'True', message: c.healthy };
      return { metadata: { name: c.name }, conditions: [condition] };
    });
  },
};
