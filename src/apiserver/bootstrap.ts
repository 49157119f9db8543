// Objects every cluster starts with: the system namespaces, the built-in PriorityClasses and the
// `kubernetes` Service.
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

export async function bootstrap(api: ApiServer, opts: { port: number }): Promise<void> {
  const ctx = systemWriteContext();
  const namespaces = api.store('', 'namespaces');
  // Independent objects are written together, so that they share a commit.
  const writes: Promise<void>[] = [];
  for (const name of SYSTEM_NAMESPACES) {
    if (!namespaces.tryGet(undefined, name))
      writes.push(ensure(() => namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, ctx)));
  }
  // The namespaces first: NamespaceLifecycle admits no object into a namespace that isn't there.
  await Promise.all(writes.splice(0));
  // The built-in PriorityClasses (upstream's apiserver bootstraps them the same way).
  const priorityClasses = api.store('scheduling.k8s.io', 'priorityclasses');
  const pcDescriptions: Record<string, string> = {
    'system-node-critical': 'Used for system critical pods that must not be moved from their current node.',
    'system-cluster-critical':
      'Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.',
  };
  for (const [name, value] of Object.entries(SYSTEM_PRIORITY_CLASSES)) {
    if (priorityClasses.tryGet(undefined, name)) continue;
    writes.push(
      ensure(() =>
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
      ),
    );
  }
  const services = api.store('', 'services');
  if (!services.tryGet('default', 'kubernetes')) {
    writes.push(
      ensure(() =>
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
      ),
    );
  }
  await Promise.all(writes);
  // Its endpoints: server/endpointreconciler.ts (every live server, from their Leases).
}
