// The configuration every API server starts with, as upstream's bootstrap package has it
// (k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap): mandatory objects (the exempt and catch-all
// levels and their flow schemas), which the API server restores whenever they are changed or
// deleted, and suggested ones, created when missing and kept up to date only while their
// `apf.kubernetes.io/autoupdate-spec` annotation is "true".
import type {
  FlowSchema,
  FlowSchemaSpec,
  PolicyRulesWithSubjects,
  PriorityLevelConfiguration,
  PriorityLevelConfigurationSpec,
  Subject,
} from 'kubernetes-types/flowcontrol/v1.js';

export const AUTOUPDATE_ANNOTATION = 'apf.kubernetes.io/autoupdate-spec';
export const EXEMPT = 'exempt';
export const CATCH_ALL = 'catch-all';

const group = (name: string): Subject => ({ kind: 'Group', group: { name } });
const user = (name: string): Subject => ({ kind: 'User', user: { name } });
const kubeSystemSA = (name: string): Subject => ({
  kind: 'ServiceAccount',
  serviceAccount: { namespace: 'kube-system', name },
});

/** Every resource and non-resource request of the subjects. */
function everything(...subjects: Subject[]): PolicyRulesWithSubjects {
  return {
    subjects,
    resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], clusterScope: true, namespaces: ['*'] }],
    nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
  };
}

function limited(shares: number, lendable: number, queuing?: [number, number, number]): PriorityLevelConfigurationSpec {
  return {
    type: 'Limited',
    limited: {
      nominalConcurrencyShares: shares,
      lendablePercent: lendable,
      limitResponse: queuing
        ? { type: 'Queue', queuing: { queues: queuing[0], handSize: queuing[1], queueLengthLimit: queuing[2] } }
        : { type: 'Reject' },
    },
  };
}

const pl = (name: string, spec: PriorityLevelConfigurationSpec): PriorityLevelConfiguration => ({
  apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
  kind: 'PriorityLevelConfiguration',
  metadata: { name },
  spec,
});

function fs(
  name: string,
  level: string,
  precedence: number,
  distinguisher: 'ByUser' | 'ByNamespace' | undefined,
  ...rules: PolicyRulesWithSubjects[]
): FlowSchema {
  const spec: FlowSchemaSpec = { priorityLevelConfiguration: { name: level }, matchingPrecedence: precedence, rules };
  if (distinguisher) spec.distinguisherMethod = { type: distinguisher };
  return { apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'FlowSchema', metadata: { name }, spec };
}

export const MANDATORY_PRIORITY_LEVELS: PriorityLevelConfiguration[] = [
  pl(EXEMPT, { type: 'Exempt', exempt: { nominalConcurrencyShares: 0, lendablePercent: 0 } }),
  pl(CATCH_ALL, limited(5, 0)),
];

export const SUGGESTED_PRIORITY_LEVELS: PriorityLevelConfiguration[] = [
  pl('system', limited(30, 33, [64, 6, 50])),
  pl('node-high', limited(40, 25, [64, 6, 50])),
  pl('leader-election', limited(10, 0, [16, 4, 50])),
  pl('workload-high', limited(40, 50, [128, 6, 50])),
  pl('workload-low', limited(100, 90, [128, 6, 50])),
  pl('global-default', limited(20, 50, [128, 6, 50])),
];

const ALL_USERS = [group('system:unauthenticated'), group('system:authenticated')];

export const MANDATORY_FLOW_SCHEMAS: FlowSchema[] = [
  fs(EXEMPT, EXEMPT, 1, undefined, everything(group('system:masters'))),
  fs(CATCH_ALL, CATCH_ALL, 10000, 'ByUser', everything(...ALL_USERS)),
];

const leases = (verbs: string[]) => ({
  verbs,
  apiGroups: ['coordination.k8s.io'],
  resources: ['leases'],
  namespaces: ['*'],
});

export const SUGGESTED_FLOW_SCHEMAS: FlowSchema[] = [
  fs('system-nodes', 'system', 500, 'ByUser', everything(group('system:nodes'))),
  fs('system-node-high', 'node-high', 400, 'ByUser', {
    subjects: [group('system:nodes')],
    resourceRules: [
      { verbs: ['*'], apiGroups: [''], resources: ['nodes', 'nodes/status'], clusterScope: true, namespaces: ['*'] },
      { ...leases(['*']) },
    ],
  }),
  fs('probes', EXEMPT, 2, undefined, {
    subjects: ALL_USERS,
    nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/healthz', '/readyz', '/livez'] }],
  }),
  fs('system-leader-election', 'leader-election', 100, 'ByUser', {
    subjects: [user('system:kube-controller-manager'), user('system:kube-scheduler'), kubeSystemSA('*')],
    resourceRules: [leases(['get', 'create', 'update'])],
  }),
  // (Leader election on Endpoints and ConfigMaps: Kubernetes 1.30's suggested configuration, the version k8ts reports.)
  fs('workload-leader-election', 'leader-election', 200, 'ByUser', {
    subjects: [kubeSystemSA('*')],
    resourceRules: [
      {
        verbs: ['get', 'create', 'update'],
        apiGroups: [''],
        resources: ['endpoints', 'configmaps'],
        namespaces: ['*'],
      },
      leases(['get', 'create', 'update']),
    ],
  }),
  fs('endpoint-controller', 'workload-high', 150, 'ByUser', {
    subjects: [
      user('system:kube-controller-manager'),
      kubeSystemSA('endpoint-controller'),
      kubeSystemSA('endpointslicemirroring-controller'),
    ],
    resourceRules: [
      { verbs: ['get', 'create', 'update'], apiGroups: [''], resources: ['endpoints'], namespaces: ['*'] },
    ],
  }),
  fs(
    'kube-controller-manager',
    'workload-high',
    800,
    'ByNamespace',
    everything(user('system:kube-controller-manager')),
  ),
  fs('kube-scheduler', 'workload-high', 800, 'ByNamespace', everything(user('system:kube-scheduler'))),
  fs('kube-system-service-accounts', 'workload-high', 900, 'ByNamespace', everything(kubeSystemSA('*'))),
  fs('service-accounts', 'workload-low', 9000, 'ByUser', everything(group('system:serviceaccounts'))),
  fs('global-default', 'global-default', 9900, 'ByUser', everything(...ALL_USERS)),
];

export const MANDATORY_SPECS = new Map<string, unknown>([
  ...MANDATORY_PRIORITY_LEVELS.map((o) => [`prioritylevelconfigurations/${o.metadata!.name}`, o.spec] as const),
  ...MANDATORY_FLOW_SCHEMAS.map((o) => [`flowschemas/${o.metadata!.name}`, o.spec] as const),
]);
