// Who each component inside `k8ts server` is towards the API server. Upstream's components are
// clients of their API server with identities of their own, and RBAC and the Node authorizer
// decide what each may do: the scheduler is system:kube-scheduler, kube-proxy system:kube-proxy,
// a kubelet system:node:NAME, and kube-controller-manager with --use-service-account-credentials
// runs each controller as the ServiceAccount kube-system/NAME bound to system:controller:NAME.
// In-process calls are authorized as the same users (apiserver/inprocess.ts), so the roles in
// authz/bootstrappolicy.ts are what each component can do here too.
import type { UserInfo } from '../apiserver/user.js';
import { COMPONENT_NAMESPACE } from '../apiserver/authz/bootstrappolicy.js';
import { serviceAccountGroups, serviceAccountUsername } from '../apiserver/serviceaccount/tokens.js';

const AUTHENTICATED = 'system:authenticated';

export const userNamed = (name: string, groups: string[] = []): UserInfo => ({
  name,
  groups: [...groups, AUTHENTICATED],
});

/** The ServiceAccount kube-system/NAME a control-plane component or controller runs as. */
export function componentServiceAccount(name: string): UserInfo {
  return {
    name: serviceAccountUsername(COMPONENT_NAMESPACE, name),
    groups: [...serviceAccountGroups(COMPONENT_NAMESPACE), AUTHENTICATED],
  };
}

/** A node agent (the Node authorizer and NodeRestriction hold it to its own node). */
export const nodeUser = (nodeName: string): UserInfo => userNamed(`system:node:${nodeName}`, ['system:nodes']);

/** The components with a user of upstream's (the rest run as service accounts). */
export const KUBE_CONTROLLER_MANAGER = userNamed('system:kube-controller-manager');
export const KUBE_SCHEDULER = userNamed('system:kube-scheduler');
export const KUBE_PROXY = userNamed('system:kube-proxy');

/**
 * The ServiceAccount each controller of the controller manager acts as (upstream's names; k8ts'
 * own controllers by their own name). Absent: the controller uses the manager's own identity, as
 * upstream's service-account token controller does (it mints the credentials the others use).
 */
export const CONTROLLER_SERVICE_ACCOUNTS: Record<string, string | undefined> = {
  namespace: 'namespace-controller',
  nodeipam: 'node-controller',
  nodelifecycle: 'node-controller',
  garbagecollector: 'generic-garbage-collector',
  endpoint: 'endpoint-controller',
  endpointslice: 'endpointslice-controller',
  serviceaccount: 'service-account-controller',
  'root-ca-cert-publisher': 'root-ca-cert-publisher',
  'serviceaccount-token': undefined,
  tokencleaner: 'token-cleaner',
  podgc: 'pod-garbage-collector',
  deployment: 'deployment-controller',
  replicaset: 'replicaset-controller',
  replicationcontroller: 'replication-controller',
  statefulset: 'statefulset-controller',
  daemonset: 'daemon-set-controller',
  job: 'job-controller',
  'ttl-after-finished': 'ttl-after-finished-controller',
  cronjob: 'cronjob-controller',
  resourcequota: 'resourcequota-controller',
  disruption: 'disruption-controller',
  horizontalpodautoscaling: 'horizontal-pod-autoscaler',
  'persistentvolume-binder': 'persistent-volume-binder',
  'pvc-protection': 'pvc-protection-controller',
  'pv-protection': 'pv-protection-controller',
  'snapshot-controller': 'snapshot-controller',
  'local-path-resizer': 'local-path-resizer',
  servicelb: 'servicelb',
  rollouts: 'rollouts-controller',
  'clusterrole-aggregation': 'clusterrole-aggregation-controller',
  csrcleaner: 'certificate-controller',
  csrapproving: 'certificate-controller',
  csrsigning: 'certificate-controller',
};

/** The user a controller acts as (unknown controllers: the manager's own). */
export function controllerUser(controller: string): UserInfo {
  const sa = CONTROLLER_SERVICE_ACCOUNTS[controller];
  return sa ? componentServiceAccount(sa) : KUBE_CONTROLLER_MANAGER;
}
