// Objects every cluster starts with: the system namespaces and the `kubernetes` Service with
// its Endpoints pointing at this API server.
import type { ApiServer } from './server.js';
import type { WriteContext } from './store.js';
import { ApiError } from '../machinery/errors.js';
import { SYSTEM_PRIORITY_CLASSES } from '../api/scheduling/v1/priorityclass.js';

const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export const systemWriteContext = (manager = 'kube-apiserver'): WriteContext => ({
  dryRun: false,
  fieldManager: manager,
  user: { name: 'system:apiserver', groups: ['system:masters'] },
  warnings: [],
});

async function ensure(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 409)) throw err;
  }
}

export async function bootstrap(api: ApiServer, opts: { advertiseAddress?: string; port: number }): Promise<void> {
  const ctx = systemWriteContext();
  const namespaces = api.store('', 'namespaces');
  for (const name of SYSTEM_NAMESPACES) {
    if (!namespaces.tryGet(undefined, name))
      await ensure(() => namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, ctx));
  }
  // The built-in PriorityClasses (upstream's apiserver bootstraps them the same way).
  const priorityClasses = api.store('scheduling.k8s.io', 'priorityclasses');
  const pcDescriptions: Record<string, string> = {
    'system-node-critical': 'Used for system critical pods that must not be moved from their current node.',
    'system-cluster-critical':
      'Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.',
  };
  for (const [name, value] of Object.entries(SYSTEM_PRIORITY_CLASSES)) {
    if (priorityClasses.tryGet(undefined, name)) continue;
    await ensure(() =>
      priorityClasses.create(
        {
          apiVersion: 'scheduling.k8s.io/v1',
          kind: 'PriorityClass',
          metadata: { name },
          value,
          description: pcDescriptions[name],
          preemptionPolicy: 'PreemptLowerPriority',
        },
        ctx,
      ),
    );
  }
  const services = api.store('', 'services');
  if (!services.tryGet('default', 'kubernetes')) {
    await ensure(() =>
      services.create(
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: {
            name: 'kubernetes',
            namespace: 'default',
            labels: { component: 'apiserver', provider: 'kubernetes' },
          },
          spec: {
            type: 'ClusterIP',
            clusterIP: api.allocators.apiServerServiceIP,
            ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: opts.port }],
            sessionAffinity: 'None',
          },
        },
        ctx,
      ),
    );
  }
  if (!opts.advertiseAddress) return;
  const endpoints = api.store('', 'endpoints');
  const subsets = [
    { addresses: [{ ip: opts.advertiseAddress }], ports: [{ name: 'https', port: opts.port, protocol: 'TCP' }] },
  ];
  const current = endpoints.tryGet('default', 'kubernetes');
  if (!current) {
    await ensure(() =>
      endpoints.create(
        { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'kubernetes', namespace: 'default' }, subsets },
        ctx,
      ),
    );
  } else if (JSON.stringify(current.obj.subsets) !== JSON.stringify(subsets)) {
    await endpoints.update('default', 'kubernetes', (cur) => ({ ...cur.obj, subsets }), ctx);
  }
  // Its EndpointSlice, as upstream's endpoints reconciler writes it (no managed-by label: the
  // EndpointSlice controller leaves it alone).
  const slices = api.store('discovery.k8s.io', 'endpointslices');
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [opts.advertiseAddress], conditions: { ready: true } }],
    ports: [{ name: 'https', port: opts.port, protocol: 'TCP' }],
  };
  const currentSlice = slices.tryGet('default', 'kubernetes');
  if (!currentSlice) {
    await ensure(() => slices.create(slice, ctx));
  } else if (
    JSON.stringify([currentSlice.obj.endpoints, currentSlice.obj.ports]) !==
    JSON.stringify([slice.endpoints, slice.ports])
  ) {
    await slices.update(
      'default',
      'kubernetes',
      (cur) => ({ ...cur.obj, endpoints: slice.endpoints, ports: slice.ports }),
      ctx,
    );
  }
}
