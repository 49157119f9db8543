// The default ClusterRoles and ClusterRoleBindings every cluster starts with: the facts of
// upstream's plugin/pkg/auth/authorizer/rbac/bootstrappolicy, as a table. Reconciled at every
// start (reconcile.ts) unless an object's autoupdate annotation is "false".
import type { PolicyRule } from './types.js';

export const AUTOUPDATE_ANNOTATION = 'rbac.authorization.kubernetes.io/autoupdate';
export const BOOTSTRAPPING_LABEL = 'kubernetes.io/bootstrapping';
export const BOOTSTRAPPING_VALUE = 'rbac-defaults';

export interface BootstrapClusterRole {
  name: string;
  rules: PolicyRule[];
  labels?: Record<string, string>;
  /** Label selectors of the ClusterRoles whose rules this one aggregates. */
  aggregateFrom?: string;
}

export interface BootstrapSubject {
  kind: 'User' | 'Group' | 'ServiceAccount';
  name: string;
  namespace?: string;
}

export interface BootstrapClusterRoleBinding {
  name: string;
  role: string;
  subjects: BootstrapSubject[];
}

/** A rule; `''` is the core group. */
const rule = (verbs: string[], groups: string[], resources: string[], names?: string[]): PolicyRule => ({
  verbs,
  apiGroups: groups,
  resources,
  ...(names ? { resourceNames: names } : {}),
});
const urls = (verbs: string[], nonResourceURLs: string[]): PolicyRule => ({ verbs, nonResourceURLs });

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const ALL_RW = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const events = rule(['create', 'update', 'patch'], ['', 'events.k8s.io'], ['events']);
const AGG = 'rbac.authorization.k8s.io/aggregate-to-';

const CLUSTER_ROLES: BootstrapClusterRole[] = [
  { name: 'cluster-admin', rules: [rule(['*'], ['*'], ['*']), urls(['*'], ['*'])] },
  { name: 'admin', rules: [], aggregateFrom: `${AGG}admin` },
  { name: 'edit', rules: [], aggregateFrom: `${AGG}edit`, labels: { [`${AGG}admin`]: 'true' } },
  { name: 'view', rules: [], aggregateFrom: `${AGG}view`, labels: { [`${AGG}edit`]: 'true' } },
  {
    name: 'system:aggregate-to-admin',
    labels: { [`${AGG}admin`]: 'true' },
    rules: [
      rule(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews']),
      rule(ALL_RW, ['rbac.authorization.k8s.io'], ['rolebindings', 'roles']),
    ],
  },
  {
    name: 'system:aggregate-to-edit',
    labels: { [`${AGG}edit`]: 'true' },
    rules: [
      rule(READ, [''], ['pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'secrets', 'services/proxy']),
      rule(['impersonate'], [''], ['serviceaccounts']),
      rule(WRITE, [''], ['pods', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy']),
      rule(['create'], [''], ['pods/eviction']),
      rule(
        WRITE,
        [''],
        [
          'configmaps',
          'events',
          'persistentvolumeclaims',
          'replicationcontrollers',
          'replicationcontrollers/scale',
          'secrets',
          'serviceaccounts',
          'services',
          'services/proxy',
        ],
      ),
      rule(['create'], [''], ['serviceaccounts/token']),
      rule(
        WRITE,
        ['apps'],
        [
          'daemonsets',
          'deployments',
          'deployments/rollback',
          'deployments/scale',
          'replicasets',
          'replicasets/scale',
          'statefulsets',
          'statefulsets/scale',
        ],
      ),
      rule(WRITE, ['autoscaling'], ['horizontalpodautoscalers']),
      rule(WRITE, ['batch'], ['cronjobs', 'jobs']),
      rule(
        WRITE,
        ['extensions'],
        [
          'daemonsets',
          'deployments',
          'deployments/rollback',
          'deployments/scale',
          'ingresses',
          'networkpolicies',
          'replicasets',
          'replicasets/scale',
          'replicationcontrollers/scale',
        ],
      ),
      rule(WRITE, ['policy'], ['poddisruptionbudgets']),
      rule(WRITE, ['networking.k8s.io'], ['ingresses', 'networkpolicies']),
      rule(ALL_RW, ['coordination.k8s.io'], ['leases']),
    ],
  },
  {
    name: 'system:aggregate-to-view',
    labels: { [`${AGG}view`]: 'true' },
    rules: [
      rule(
        READ,
        [''],
        [
          'configmaps',
          'endpoints',
          'persistentvolumeclaims',
          'persistentvolumeclaims/status',
          'pods',
          'replicationcontrollers',
          'replicationcontrollers/scale',
          'serviceaccounts',
          'services',
          'services/status',
        ],
      ),
      rule(
        READ,
        [''],
        [
          'bindings',
          'events',
          'limitranges',
          'namespaces/status',
          'pods/log',
          'pods/status',
          'replicationcontrollers/status',
          'resourcequotas',
          'resourcequotas/status',
        ],
      ),
      rule(READ, [''], ['namespaces']),
      rule(READ, ['discovery.k8s.io'], ['endpointslices']),
      rule(
        READ,
        ['apps'],
        [
          'controllerrevisions',
          'daemonsets',
          'daemonsets/status',
          'deployments',
          'deployments/scale',
          'deployments/status',
          'replicasets',
          'replicasets/scale',
          'replicasets/status',
          'statefulsets',
          'statefulsets/scale',
          'statefulsets/status',
        ],
      ),
      rule(READ, ['autoscaling'], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status']),
      rule(READ, ['batch'], ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status']),
      rule(
        READ,
        ['extensions'],
        [
          'daemonsets',
          'daemonsets/status',
          'deployments',
          'deployments/scale',
          'deployments/status',
          'ingresses',
          'ingresses/status',
          'networkpolicies',
          'replicasets',
          'replicasets/scale',
          'replicasets/status',
          'replicationcontrollers/scale',
        ],
      ),
      rule(READ, ['policy'], ['poddisruptionbudgets', 'poddisruptionbudgets/status']),
      rule(READ, ['networking.k8s.io'], ['ingresses', 'ingresses/status', 'networkpolicies']),
    ],
  },
  {
    name: 'system:certificates.k8s.io:certificatesigningrequests:nodeclient',
    rules: [rule(['create'], ['certificates.k8s.io'], ['certificatesigningrequests/nodeclient'])],
  },
  {
    name: 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient',
    rules: [rule(['create'], ['certificates.k8s.io'], ['certificatesigningrequests/selfnodeclient'])],
  },
  {
    name: 'system:auth-delegator',
    rules: [
      rule(['create'], ['authentication.k8s.io'], ['tokenreviews']),
      rule(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
    ],
  },
  {
    name: 'system:basic-user',
    rules: [
      rule(['create'], ['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']),
      rule(['create'], ['authentication.k8s.io'], ['selfsubjectreviews']),
    ],
  },
  {
    name: 'system:discovery',
    rules: [
      urls(
        ['get'],
        [
          '/api',
          '/api/*',
          '/apis',
          '/apis/*',
          '/healthz',
          '/livez',
          '/openapi',
          '/openapi/*',
          '/readyz',
          '/version',
          '/version/',
        ],
      ),
    ],
  },
  {
    name: 'system:public-info-viewer',
    rules: [urls(['get'], ['/healthz', '/livez', '/readyz', '/version', '/version/'])],
  },
  {
    name: 'system:monitoring',
    rules: [
      urls(
        ['get'],
        // /metrics/kube-state: k8ts' kube-state-metrics (src/kubestate).
        [
          '/healthz',
          '/healthz/*',
          '/livez',
          '/livez/*',
          '/metrics',
          '/metrics/kube-state',
          '/metrics/slis',
          '/readyz',
          '/readyz/*',
        ],
      ),
    ],
  },
  {
    name: 'system:heapster',
    rules: [rule(READ, [''], ['events', 'namespaces', 'nodes', 'pods']), rule(READ, ['extensions'], ['deployments'])],
  },
  { name: 'system:kube-aggregator', rules: [rule(READ, [''], ['endpoints', 'services'])] },
  {
    name: 'system:kube-controller-manager',
    rules: [
      events,
      rule(['create'], ['coordination.k8s.io'], ['leases']),
      rule(['get', 'update'], ['coordination.k8s.io'], ['leases'], ['kube-controller-manager']),
      rule(['create'], [''], ['secrets', 'serviceaccounts']),
      rule(['delete'], [''], ['secrets']),
      rule(['get'], [''], ['configmaps', 'namespaces', 'secrets', 'serviceaccounts']),
      rule(['update'], [''], ['secrets', 'serviceaccounts']),
      rule(['create'], ['authentication.k8s.io'], ['tokenreviews']),
      rule(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
      rule(['list', 'watch'], ['*'], ['*']),
      rule(['create'], [''], ['serviceaccounts/token']),
    ],
  },
  { name: 'system:kube-dns', rules: [rule(['list', 'watch'], [''], ['endpoints', 'services'])] },
  {
    name: 'system:kube-scheduler',
    rules: [
      events,
      rule(['create'], ['coordination.k8s.io'], ['leases']),
      rule(['get', 'update'], ['coordination.k8s.io'], ['leases'], ['kube-scheduler']),
      rule(READ, [''], ['nodes']),
      rule(['delete', 'get', 'list', 'watch'], [''], ['pods']),
      rule(['create'], [''], ['bindings', 'pods/binding']),
      rule(['patch', 'update'], [''], ['pods/status']),
      rule(READ, [''], ['replicationcontrollers', 'services']),
      rule(READ, ['apps', 'extensions'], ['replicasets']),
      rule(READ, ['apps'], ['statefulsets']),
      rule(READ, ['policy'], ['poddisruptionbudgets']),
      rule(READ, [''], ['persistentvolumeclaims', 'persistentvolumes']),
      rule(['create'], ['authentication.k8s.io'], ['tokenreviews']),
      rule(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
      rule(READ, ['storage.k8s.io'], ['csinodes']),
      rule(READ, [''], ['namespaces']),
      rule(READ, ['storage.k8s.io'], ['csidrivers']),
      rule(READ, ['storage.k8s.io'], ['csistoragecapacities']),
    ],
  },
  {
    name: 'system:kubelet-api-admin',
    rules: [
      rule(READ, [''], ['nodes']),
      rule(['proxy'], [''], ['nodes']),
      rule(['*'], [''], ['nodes/log', 'nodes/metrics', 'nodes/proxy', 'nodes/stats']),
    ],
  },
  {
    name: 'system:node',
    rules: [
      rule(['create'], ['authentication.k8s.io'], ['tokenreviews']),
      rule(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews', 'subjectaccessreviews']),
      rule(READ, [''], ['services']),
      rule(['create', 'get', 'list', 'watch'], [''], ['nodes']),
      rule(['patch', 'update'], [''], ['nodes/status']),
      rule(['patch', 'update'], [''], ['nodes']),
      rule(['create', 'patch', 'update'], [''], ['events']),
      rule(READ, [''], ['pods']),
      rule(['create', 'delete'], [''], ['pods']),
      rule(['patch', 'update'], [''], ['pods/status']),
      rule(['create'], [''], ['pods/eviction']),
      rule(READ, [''], ['configmaps', 'secrets']),
      rule(['get'], [''], ['persistentvolumeclaims', 'persistentvolumes']),
      rule(['get'], [''], ['endpoints']),
      rule(['create', 'get', 'list', 'watch'], ['certificates.k8s.io'], ['certificatesigningrequests']),
      rule(['create', 'delete', 'get', 'patch', 'update'], ['coordination.k8s.io'], ['leases']),
      rule(['get'], ['storage.k8s.io'], ['volumeattachments']),
      rule(['create'], [''], ['serviceaccounts/token']),
      rule(['get', 'patch', 'update'], [''], ['persistentvolumeclaims/status']),
      rule(READ, ['storage.k8s.io'], ['csidrivers']),
      rule(['create', 'delete', 'get', 'patch', 'update'], ['storage.k8s.io'], ['csinodes']),
      rule(READ, ['node.k8s.io'], ['runtimeclasses']),
    ],
  },
  {
    name: 'system:node-bootstrapper',
    rules: [rule(['create', 'get', 'list', 'watch'], ['certificates.k8s.io'], ['certificatesigningrequests'])],
  },
  {
    name: 'system:node-problem-detector',
    rules: [rule(['get'], [''], ['nodes']), rule(['patch'], [''], ['nodes/status']), events],
  },
  {
    name: 'system:node-proxier',
    rules: [
      rule(['list', 'watch'], [''], ['endpoints', 'services']),
      rule(READ, [''], ['nodes']),
      events,
      rule(['list', 'watch'], ['discovery.k8s.io'], ['endpointslices']),
    ],
  },
  {
    name: 'system:persistent-volume-provisioner',
    rules: [
      rule(['create', 'delete', 'get', 'list', 'watch'], [''], ['persistentvolumes']),
      rule(['get', 'list', 'update', 'watch'], [''], ['persistentvolumeclaims']),
      rule(READ, ['storage.k8s.io'], ['storageclasses']),
      rule(['watch'], [''], ['events']),
      events,
    ],
  },
  {
    name: 'system:volume-scheduler',
    rules: [
      rule(['get', 'list', 'patch', 'update', 'watch'], [''], ['persistentvolumes']),
      rule(READ, ['storage.k8s.io'], ['storageclasses']),
      rule(['get', 'list', 'patch', 'update', 'watch'], [''], ['persistentvolumeclaims']),
    ],
  },
  {
    name: 'system:service-account-issuer-discovery',
    rules: [urls(['get'], ['/.well-known/openid-configuration', '/openid/v1/jwks'])],
  },
];

/** The roles of the controllers k8ts runs (system:controller:NAME, bound to kube-system/NAME). */
const CONTROLLER_ROLES: Record<string, PolicyRule[]> = {
  'clusterrole-aggregation-controller': [
    rule(['escalate', 'get', 'list', 'watch', 'update', 'patch'], ['rbac.authorization.k8s.io'], ['clusterroles']),
  ],
  'cronjob-controller': [
    rule(['get', 'list', 'watch', 'update'], ['batch'], ['cronjobs']),
    rule(['get', 'list', 'watch', 'create', 'update', 'delete', 'patch'], ['batch'], ['jobs']),
    rule(['update'], ['batch'], ['cronjobs/status']),
    rule(['update'], ['batch'], ['cronjobs/finalizers']),
    rule(['list', 'watch', 'delete'], [''], ['pods']),
    events,
  ],
  'daemon-set-controller': [
    rule(READ, ['extensions', 'apps'], ['daemonsets']),
    rule(['update'], ['extensions', 'apps'], ['daemonsets/status']),
    rule(['update'], ['extensions', 'apps'], ['daemonsets/finalizers']),
    rule(['list', 'watch'], [''], ['nodes']),
    rule(['list', 'watch', 'create', 'delete', 'patch'], [''], ['pods']),
    rule(['create'], [''], ['pods/binding']),
    rule(['get', 'list', 'watch', 'create', 'delete', 'update', 'patch'], ['apps'], ['controllerrevisions']),
    events,
  ],
  'deployment-controller': [
    rule(['get', 'list', 'watch', 'update'], ['extensions', 'apps'], ['deployments']),
    rule(['update'], ['extensions', 'apps'], ['deployments/status']),
    rule(['update'], ['extensions', 'apps'], ['deployments/finalizers']),
    rule(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'], ['apps', 'extensions'], ['replicasets']),
    rule(['get', 'list', 'watch', 'update'], [''], ['pods']),
    events,
  ],
  'disruption-controller': [
    rule(READ, ['extensions', 'apps'], ['deployments']),
    rule(READ, ['apps', 'extensions'], ['replicasets']),
    rule(READ, [''], ['replicationcontrollers']),
    rule(READ, ['policy'], ['poddisruptionbudgets']),
    rule(READ, ['apps'], ['statefulsets']),
    rule(['update'], ['policy'], ['poddisruptionbudgets/status']),
    rule(['patch', 'update'], [''], ['pods/status']),
    rule(['get'], ['*'], ['*/scale']),
    events,
  ],
  'endpoint-controller': [
    rule(READ, [''], ['services', 'pods']),
    rule(['get', 'list', 'watch', 'create', 'update', 'delete'], [''], ['endpoints']),
    rule(['create'], [''], ['endpoints/restricted']),
    events,
  ],
  'endpointslice-controller': [
    rule(READ, [''], ['services', 'pods', 'nodes']),
    rule(['update'], [''], ['services/finalizers']),
    rule(['get', 'list', 'watch', 'create', 'update', 'delete'], ['discovery.k8s.io'], ['endpointslices']),
    events,
  ],
  'generic-garbage-collector': [rule(['get', 'list', 'watch', 'patch', 'update', 'delete'], ['*'], ['*']), events],
  'horizontal-pod-autoscaler': [
    rule(READ, ['autoscaling'], ['horizontalpodautoscalers']),
    rule(['update'], ['autoscaling'], ['horizontalpodautoscalers/status']),
    rule(['get', 'update'], ['*'], ['*/scale']),
    rule(['list', 'watch'], [''], ['pods']),
    rule(['list', 'watch'], ['metrics.k8s.io'], ['pods']),
    rule(READ, ['custom.metrics.k8s.io'], ['*']),
    rule(READ, ['external.metrics.k8s.io'], ['*']),
    events,
  ],
  'job-controller': [
    rule(['get', 'list', 'watch', 'update', 'patch'], ['batch'], ['jobs']),
    rule(['update'], ['batch'], ['jobs/status']),
    rule(['update'], ['batch'], ['jobs/finalizers']),
    rule(['list', 'watch', 'create', 'delete', 'patch'], [''], ['pods']),
    events,
  ],
  'namespace-controller': [
    rule(['get', 'list', 'watch', 'delete'], [''], ['namespaces']),
    rule(['update'], [''], ['namespaces/finalize', 'namespaces/status']),
    rule(['get', 'list', 'watch', 'delete', 'deletecollection'], ['*'], ['*']),
  ],
  'node-controller': [
    rule(['get', 'list', 'watch', 'update', 'delete', 'patch'], [''], ['nodes']),
    rule(['patch', 'update'], [''], ['nodes/status']),
    rule(['patch', 'update'], [''], ['pods/status']),
    rule(['list', 'watch', 'get', 'delete'], [''], ['pods']),
    events,
  ],
  'persistent-volume-binder': [
    rule(['get', 'list', 'watch', 'update', 'create', 'delete'], [''], ['persistentvolumes']),
    rule(['update'], [''], ['persistentvolumes/status']),
    rule(['get', 'list', 'watch', 'update'], [''], ['persistentvolumeclaims']),
    rule(['update'], [''], ['persistentvolumeclaims/status']),
    rule(['list', 'watch', 'get', 'create', 'delete'], [''], ['pods']),
    rule(READ, ['storage.k8s.io'], ['storageclasses']),
    rule(['list', 'watch'], [''], ['nodes']),
    events,
    rule(['watch'], [''], ['events']),
    rule(['get'], [''], ['services']),
  ],
  'pod-garbage-collector': [
    rule(['list', 'watch', 'delete'], [''], ['pods']),
    rule(READ, [''], ['nodes']),
    rule(['patch'], [''], ['pods/status']),
  ],
  'replicaset-controller': [
    rule(['get', 'list', 'watch', 'update'], ['apps', 'extensions'], ['replicasets']),
    rule(['update'], ['apps', 'extensions'], ['replicasets/status']),
    rule(['update'], ['apps', 'extensions'], ['replicasets/finalizers']),
    rule(['list', 'watch', 'patch', 'create', 'delete'], [''], ['pods']),
    events,
  ],
  'resourcequota-controller': [
    rule(['list', 'watch'], ['*'], ['*']),
    rule(['update'], [''], ['resourcequotas/status']),
    events,
  ],
  'service-account-controller': [rule(['create'], [''], ['serviceaccounts']), events],
  'service-controller': [
    rule(READ, [''], ['services']),
    rule(['patch', 'update'], [''], ['services/status']),
    rule(['list', 'watch'], [''], ['nodes']),
    events,
  ],
  'statefulset-controller': [
    rule(['list', 'watch'], [''], ['pods']),
    rule(READ, ['apps'], ['statefulsets']),
    rule(['update'], ['apps'], ['statefulsets/status']),
    rule(['update'], ['apps'], ['statefulsets/finalizers']),
    rule(['get', 'create', 'delete', 'update', 'patch'], [''], ['pods']),
    rule(['get', 'create', 'delete', 'update', 'patch', 'list', 'watch'], ['apps'], ['controllerrevisions']),
    rule(['get', 'create', 'list', 'watch'], [''], ['persistentvolumeclaims']),
    rule(['update', 'delete'], [''], ['persistentvolumeclaims']),
    rule(['update'], [''], ['pods/finalizers']),
    events,
  ],
  'replication-controller': [
    rule(['get', 'list', 'watch', 'update'], [''], ['replicationcontrollers']),
    rule(['update'], [''], ['replicationcontrollers/status']),
    rule(['update'], [''], ['replicationcontrollers/finalizers']),
    rule(['list', 'watch', 'patch', 'create', 'delete'], [''], ['pods']),
    events,
  ],
  'certificate-controller': [
    rule(['get', 'list', 'watch', 'delete'], ['certificates.k8s.io'], ['certificatesigningrequests']),
    rule(
      ['update'],
      ['certificates.k8s.io'],
      ['certificatesigningrequests/status', 'certificatesigningrequests/approval'],
    ),
    rule(['approve'], ['certificates.k8s.io'], ['signers'], ['kubernetes.io/kube-apiserver-client-kubelet']),
    rule(
      ['sign'],
      ['certificates.k8s.io'],
      ['signers'],
      [
        'kubernetes.io/legacy-unknown',
        'kubernetes.io/kube-apiserver-client',
        'kubernetes.io/kube-apiserver-client-kubelet',
        'kubernetes.io/kubelet-serving',
      ],
    ),
    rule(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
    events,
  ],
  'pvc-protection-controller': [
    rule(['get', 'list', 'watch', 'update'], [''], ['persistentvolumeclaims']),
    rule(['list', 'watch', 'get'], [''], ['pods']),
    events,
  ],
  'pv-protection-controller': [rule(['get', 'list', 'watch', 'update'], [''], ['persistentvolumes']), events],
  'ttl-after-finished-controller': [rule(['get', 'list', 'watch', 'delete'], ['batch'], ['jobs']), events],
  'root-ca-cert-publisher': [rule(['create', 'update'], [''], ['configmaps']), events],
};

const CONTROLLER_PREFIX = 'system:controller:';

/**
 * Where a k8ts controller writes differently from upstream's (a patch where upstream updates),
 * the verb it needs besides its upstream role; kept apart so CONTROLLER_ROLES stays upstream's.
 */
const CONTROLLER_EXTRAS: Record<string, PolicyRule[]> = {
  // The revision annotation is set with a merge patch.
  'deployment-controller': [rule(['patch'], ['apps'], ['deployments'])],
  // The deletion conditions are written with a merge patch of the status.
  'namespace-controller': [rule(['patch'], [''], ['namespaces/status'])],
};

/**
 * The roles of k8ts' own components (system:k8ts:NAME, bound to the ServiceAccount kube-system/NAME
 * each runs as): what each reads and writes, no more. Reviewed against their code: a component
 * that needs a new permission fails with a Forbidden in its log until its rule is added here.
 */
const K8TS_ROLES: Record<string, PolicyRule[]> = {
  // external-snapshotter's common controller (its snapshot-controller-runner role), plus its CRDs.
  'snapshot-controller': [
    rule(['create', 'get', 'update'], ['apiextensions.k8s.io'], ['customresourcedefinitions']),
    rule(READ, [''], ['persistentvolumes']),
    rule(['get', 'list', 'watch', 'update', 'patch'], [''], ['persistentvolumeclaims']),
    rule(READ, ['storage.k8s.io'], ['storageclasses']),
    rule(READ, ['snapshot.storage.k8s.io'], ['volumesnapshotclasses']),
    rule(
      ['create', 'get', 'list', 'watch', 'update', 'delete', 'patch'],
      ['snapshot.storage.k8s.io'],
      ['volumesnapshotcontents', 'volumesnapshotcontents/status'],
    ),
    rule(
      ['get', 'list', 'watch', 'update', 'patch', 'delete'],
      ['snapshot.storage.k8s.io'],
      ['volumesnapshots', 'volumesnapshots/status'],
    ),
    events,
  ],
  // Expansion of local-path volumes (the expand-controller's share for one driver).
  'local-path-resizer': [
    rule(READ, [''], ['persistentvolumeclaims']),
    rule(['update', 'patch'], [''], ['persistentvolumeclaims/status']),
    rule(['get', 'list', 'watch', 'update', 'patch'], [''], ['persistentvolumes']),
    rule(READ, ['storage.k8s.io'], ['storageclasses']),
    events,
  ],
  // k3s's ServiceLB: LoadBalancer addresses in the Services' status, a finalizer while it holds one.
  servicelb: [
    rule(['get', 'list', 'watch', 'patch', 'update'], [''], ['services']),
    rule(['patch', 'update'], [''], ['services/status']),
    rule(READ, [''], ['nodes']),
    events,
  ],
  // The cluster DNS's control side: the kube-dns Service, its endpoints and the Corefile.
  'k8ts-dns': [
    rule(['get', 'list', 'watch', 'create', 'update'], [''], ['services', 'endpoints', 'configmaps']),
    rule(['get', 'list', 'watch', 'create', 'update'], ['discovery.k8s.io'], ['endpointslices']),
    rule(READ, [''], ['nodes']),
    events,
  ],
  // The local-path provisioner of simulated nodes (node agents run theirs as the node).
  'local-path-provisioner': [
    rule(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'], [''], ['persistentvolumes']),
    rule(['get', 'list', 'watch', 'update', 'patch'], [''], ['persistentvolumeclaims']),
    rule(['get', 'list', 'watch', 'create'], ['storage.k8s.io'], ['storageclasses']),
    rule(['get'], [''], ['nodes']),
    rule(READ, ['snapshot.storage.k8s.io'], ['volumesnapshots']),
    rule(
      ['get', 'list', 'watch', 'update', 'patch'],
      ['snapshot.storage.k8s.io'],
      ['volumesnapshotcontents', 'volumesnapshotcontents/status'],
    ),
    events,
  ],
  // kube-state-metrics reads what it reports (its families, src/kubestate), and CRDs for custom-resource state.
  'kube-state-metrics': [
    rule(
      ['list', 'watch'],
      [''],
      ['namespaces', 'nodes', 'pods', 'services', 'persistentvolumeclaims', 'persistentvolumes', 'configmaps'],
    ),
    rule(['list', 'watch'], ['apps'], ['deployments', 'replicasets', 'statefulsets', 'daemonsets']),
    rule(['list', 'watch'], ['batch'], ['jobs', 'cronjobs']),
  ],
  // The ingress controller (src/ingress): Ingresses, Gateway API and Contour kinds, the Services,
  // EndpointSlices and TLS Secrets they route to (traefik's role), its CRDs and default classes.
  'k8ts-ingress': [
    rule(['create', 'get', 'update'], ['apiextensions.k8s.io'], ['customresourcedefinitions']),
    rule(READ, [''], ['services', 'secrets', 'configmaps', 'nodes', 'namespaces', 'endpoints']),
    rule(READ, ['discovery.k8s.io'], ['endpointslices']),
    rule(READ, ['networking.k8s.io'], ['ingresses']),
    rule(['get', 'list', 'watch', 'create'], ['networking.k8s.io'], ['ingressclasses']),
    rule(['update', 'patch'], ['networking.k8s.io'], ['ingresses/status']),
    rule(READ, ['gateway.networking.k8s.io', 'projectcontour.io'], ['*']),
    rule(['create'], ['gateway.networking.k8s.io'], ['gatewayclasses']),
    rule(['update', 'patch'], ['gateway.networking.k8s.io', 'projectcontour.io'], ['*/status']),
    events,
  ],
  // Argo Rollouts' controller (src/rollouts; argo-rollouts' own ClusterRole, less what k8ts does
  // not implement): its CRD, Rollouts, the ReplicaSets it owns, the Services and traffic routers
  // it switches, its analysis kinds, and the Jobs of pre-promotion checks and job metrics.
  'rollouts-controller': [
    rule(['create', 'get', 'update'], ['apiextensions.k8s.io'], ['customresourcedefinitions']),
    rule(['get', 'list', 'watch', 'update', 'patch'], ['argoproj.io'], ['rollouts', 'rollouts/status']),
    rule(READ, ['argoproj.io'], ['analysistemplates', 'clusteranalysistemplates']),
    rule(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'], ['argoproj.io'], ['analysisruns']),
    rule(['update', 'patch'], ['argoproj.io'], ['analysisruns/status']),
    rule(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'], ['apps'], ['replicasets']),
    rule(READ, ['apps'], ['deployments']),
    rule(READ, [''], ['pods']),
    rule(['get', 'list', 'watch', 'update', 'patch'], [''], ['services']),
    rule(['get', 'list', 'watch', 'create', 'delete'], ['batch'], ['jobs']),
    rule(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'], ['networking.k8s.io'], ['ingresses']),
    rule(['get', 'list', 'watch', 'update', 'patch'], ['gateway.networking.k8s.io'], ['httproutes']),
    rule(['get', 'list', 'watch', 'update', 'patch'], ['projectcontour.io'], ['httpproxies']),
    events,
  ],
  // The server's node exports every Event to the log sinks (src/agent/logging/events.ts).
  'event-exporter': [rule(['list', 'watch'], [''], ['events'])],
  // k3s's helm-controller and deploy controller apply whatever charts and manifests the admin put
  // there (k3s runs them with admin credentials): they hold every permission, through this role.
  'helm-controller': [rule(['*'], ['*'], ['*']), urls(['*'], ['*'])],
};
const K8TS_PREFIX = 'system:k8ts:';

const group = (name: string): BootstrapSubject => ({ kind: 'Group', name });
const user = (name: string): BootstrapSubject => ({ kind: 'User', name });

const CLUSTER_ROLE_BINDINGS: BootstrapClusterRoleBinding[] = [
  { name: 'cluster-admin', role: 'cluster-admin', subjects: [group('system:masters')] },
  { name: 'system:basic-user', role: 'system:basic-user', subjects: [group('system:authenticated')] },
  { name: 'system:discovery', role: 'system:discovery', subjects: [group('system:authenticated')] },
  {
    name: 'system:public-info-viewer',
    role: 'system:public-info-viewer',
    subjects: [group('system:authenticated'), group('system:unauthenticated')],
  },
  { name: 'system:monitoring', role: 'system:monitoring', subjects: [group('system:monitoring')] },
  // kubeadm's binding (upstream bootstraps the role only): nodes renew their own client
  // certificates through CSRs that csrapproving approves.
  {
    name: 'kubeadm:node-autoapprove-certificate-rotation',
    role: 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient',
    subjects: [group('system:nodes')],
  },
  {
    name: 'system:kube-controller-manager',
    role: 'system:kube-controller-manager',
    subjects: [user('system:kube-controller-manager')],
  },
  {
    name: 'system:kube-dns',
    role: 'system:kube-dns',
    subjects: [{ kind: 'ServiceAccount', name: 'kube-dns', namespace: 'kube-system' }],
  },
  { name: 'system:kube-scheduler', role: 'system:kube-scheduler', subjects: [user('system:kube-scheduler')] },
  { name: 'system:volume-scheduler', role: 'system:volume-scheduler', subjects: [user('system:kube-scheduler')] },
  // Nodes are authorized by the Node authorizer; the binding exists without subjects, as upstream's.
  { name: 'system:node', role: 'system:node', subjects: [] },
  { name: 'system:node-proxier', role: 'system:node-proxier', subjects: [user('system:kube-proxy')] },
  {
    name: 'system:service-account-issuer-discovery',
    role: 'system:service-account-issuer-discovery',
    subjects: [group('system:serviceaccounts')],
  },
];

/** The namespace the control plane's service accounts live in. */
export const COMPONENT_NAMESPACE = 'kube-system';

/** Each component role by name, with the service account it is bound to. */
function componentRoles(): { role: string; serviceAccount: string; rules: PolicyRule[] }[] {
  return [
    ...Object.entries(CONTROLLER_ROLES).map(([sa, rules]) => ({
      role: CONTROLLER_PREFIX + sa,
      serviceAccount: sa,
      rules: [...rules, ...(CONTROLLER_EXTRAS[sa] ?? [])],
    })),
    ...Object.entries(K8TS_ROLES).map(([sa, rules]) => ({ role: K8TS_PREFIX + sa, serviceAccount: sa, rules })),
  ];
}

export function bootstrapClusterRoles(): BootstrapClusterRole[] {
  return [...CLUSTER_ROLES, ...componentRoles().map(({ role, rules }) => ({ name: role, rules }))];
}

export function bootstrapClusterRoleBindings(): BootstrapClusterRoleBinding[] {
  return [
    ...CLUSTER_ROLE_BINDINGS,
    ...componentRoles().map(({ role, serviceAccount }) => ({
      name: role,
      role,
      subjects: [{ kind: 'ServiceAccount' as const, name: serviceAccount, namespace: COMPONENT_NAMESPACE }],
    })),
  ];
}

/** A namespaced default Role (upstream's NamespaceRoles), and its RoleBinding. */
export interface BootstrapRole {
  namespace: string;
  name: string;
  rules: PolicyRule[];
}

export interface BootstrapRoleBinding {
  namespace: string;
  name: string;
  role: string;
  subjects: BootstrapSubject[];
}

/** Who may read the front-proxy and client CAs extension API servers authenticate with. */
const AUTHENTICATION_READER = 'extension-apiserver-authentication-reader';

/** Upstream's namespaced controller role: the token cleaner deletes expired bootstrap tokens of kube-system. */
const TOKEN_CLEANER = `${CONTROLLER_PREFIX}token-cleaner`;

export function bootstrapNamespaceRoles(): BootstrapRole[] {
  return [
    {
      namespace: 'kube-system',
      name: AUTHENTICATION_READER,
      rules: [rule(READ, [''], ['configmaps'], ['extension-apiserver-authentication'])],
    },
    {
      namespace: 'kube-system',
      name: TOKEN_CLEANER,
      rules: [rule(['delete', 'get', 'list', 'watch'], [''], ['secrets']), events],
    },
  ];
}

export function bootstrapNamespaceRoleBindings(): BootstrapRoleBinding[] {
  return [
    {
      namespace: 'kube-system',
      name: `system::${AUTHENTICATION_READER}`,
      role: AUTHENTICATION_READER,
      subjects: [
        { kind: 'User', name: 'system:kube-controller-manager' },
        { kind: 'User', name: 'system:kube-scheduler' },
      ],
    },
    {
      namespace: 'kube-system',
      name: TOKEN_CLEANER,
      role: TOKEN_CLEANER,
      subjects: [{ kind: 'ServiceAccount', name: 'token-cleaner', namespace: 'kube-system' }],
    },
  ];
}

/** The rules of a bootstrap ClusterRole (the Node authorizer uses system:node's). */
export function bootstrapRules(name: string): PolicyRule[] {
  return CLUSTER_ROLES.find((r) => r.name === name)?.rules ?? [];
}
