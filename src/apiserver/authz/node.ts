// The Node authorizer (upstream plugin/pkg/auth/authorizer/node): a node agent (user
// system:node:NAME in group system:nodes) may read the Secrets, ConfigMaps, PVCs, PVs and
// ServiceAccount tokens that pods bound to it use, write its own Node, Lease and its pods'
// status, and do what the system:node role (plus what k8ts's agent runs beside the kubelet:
// cluster DNS, the service proxy, NetworkPolicy enforcement, the local-path provisioner) allows. Relationships are checked
// directly against the stored pods of the namespace instead of a graph: a namespace's pods are
// few, and nothing has to be kept in step.
import type { Pod, PodSpec } from 'kubernetes-types/core/v1.js';
import type { UserInfo } from '../user.js';
import { bootstrapRules } from './bootstrappolicy.js';
import { ruleAllows } from './rules.js';
import type { Attributes, AuthorizationResult, Authorizer, PolicyRule } from './types.js';
import { ALLOW, NO_OPINION } from './types.js';

export const NODES_GROUP = 'system:nodes';
const NODE_USER_PREFIX = 'system:node:';
const NODE_LEASE_NAMESPACE = 'kube-node-lease';

/** The node a user is, or undefined. */
export function nodeNameOf(user: UserInfo): string | undefined {
  if (!user.name.startsWith(NODE_USER_PREFIX) || !user.groups.includes(NODES_GROUP)) return undefined;
  return user.name.slice(NODE_USER_PREFIX.length) || undefined;
}

/** What the agent's own components need beyond system:node (system:node-proxier and a provisioner's share). */
const AGENT_RULES: PolicyRule[] = [
  { verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['services', 'endpoints', 'nodes', 'namespaces'] },
  { verbs: ['get', 'list', 'watch'], apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'] },
  // NetworkPolicy enforcement (src/netpol), as k3s lets its agents' kube-router read them.
  { verbs: ['get', 'list', 'watch'], apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'] },
  // The cluster DNS's Corefile (kube-system/coredns).
  { verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['coredns'] },
  { verbs: ['get', 'list', 'watch', 'create'], apiGroups: ['storage.k8s.io'], resources: ['storageclasses'] },
  {
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
    apiGroups: [''],
    resources: ['persistentvolumes'],
  },
  { verbs: ['get', 'list', 'watch', 'update', 'patch'], apiGroups: [''], resources: ['persistentvolumeclaims'] },
  // The local-path driver's snapshots (agent/provisioner/snapshotter.ts), as a CSI snapshotter sidecar's.
  {
    verbs: ['get', 'list', 'watch', 'update', 'patch'],
    apiGroups: ['snapshot.storage.k8s.io'],
    resources: ['volumesnapshotcontents', 'volumesnapshotcontents/status'],
  },
  { verbs: ['get', 'list', 'watch'], apiGroups: ['snapshot.storage.k8s.io'], resources: ['volumesnapshots'] },
];

/** Reads stored pods (the pods of a namespace; a pod by name). */
export interface PodSource {
  podsIn(namespace: string): Iterable<Pod>;
  pod(namespace: string, name: string): Pod | undefined;
  /** All namespaces' PVCs bound to `pv`'s name. */
  claimsOfVolume(pv: string): Iterable<{ namespace: string; name: string }>;
}

export type Reference = 'secret' | 'configmap' | 'pvc' | 'serviceaccount';

/** Whether `spec` uses the object `name` of the given kind (no name: any object of that kind). */
export function podUses(pod: Pod, kind: Reference, name?: string): boolean {
  const spec: PodSpec | undefined = pod.spec;
  if (!spec) return false;
  const is = (n: string | undefined) => n !== undefined && (name === undefined || n === name);
  if (kind === 'serviceaccount') return (spec.serviceAccountName || 'default') === name;
  if (kind === 'secret' && spec.imagePullSecrets?.some((s) => is(s.name))) return true;
  for (const v of spec.volumes ?? []) {
    if (kind === 'secret' && is(v.secret?.secretName)) return true;
    if (kind === 'configmap' && is(v.configMap?.name)) return true;
    if (kind === 'pvc' && is(v.persistentVolumeClaim?.claimName)) return true;
    if (kind === 'pvc' && v.ephemeral && is(`${pod.metadata?.name}-${v.name}`)) return true;
    for (const s of v.projected?.sources ?? []) {
      if (kind === 'secret' && is(s.secret?.name)) return true;
      if (kind === 'configmap' && is(s.configMap?.name)) return true;
    }
    if (kind === 'secret' && is(v.csi?.nodePublishSecretRef?.name)) return true;
  }
  const containers = [...(spec.initContainers ?? []), ...spec.containers, ...(spec.ephemeralContainers ?? [])];
  for (const c of containers) {
    for (const e of c.env ?? []) {
      if (kind === 'secret' && is(e.valueFrom?.secretKeyRef?.name)) return true;
      if (kind === 'configmap' && is(e.valueFrom?.configMapKeyRef?.name)) return true;
    }
    for (const e of c.envFrom ?? []) {
      if (kind === 'secret' && is(e.secretRef?.name)) return true;
      if (kind === 'configmap' && is(e.configMapRef?.name)) return true;
    }
  }
  return false;
}

const noRelationship = (node: string): AuthorizationResult => ({
  decision: 'NoOpinion',
  reason: `no relationship found between node '${node}' and this object`,
});

export class NodeAuthorizer implements Authorizer {
  private readonly rules: PolicyRule[] = [...bootstrapRules('system:node'), ...AGENT_RULES];

  constructor(private readonly pods: PodSource) {}

  private boundToNode(node: string, namespace: string, kind: Reference, name: string): boolean {
    for (const pod of this.pods.podsIn(namespace))
      if (pod.spec?.nodeName === node && podUses(pod, kind, name)) return true;
    return false;
  }

  /** The objects a node may see only through its pods: get (or list/watch of one by name). */
  private referenced(node: string, a: Attributes, kind: Reference): AuthorizationResult {
    if (a.verb !== 'get' && a.verb !== 'list' && a.verb !== 'watch')
      return { decision: 'NoOpinion', reason: `can only read resources of this type` };
    if (!a.name) return { decision: 'NoOpinion', reason: 'can only read individual resources of this type' };
    if (kind === 'configmap' && this.rules.some((r) => ruleAllows(a, r) && r.resourceNames?.length)) return ALLOW;
    return this.boundToNode(node, a.namespace, kind, a.name) ? ALLOW : noRelationship(node);
  }

  authorize(a: Attributes): AuthorizationResult {
    const node = nodeNameOf(a.user);
    if (!node) return NO_OPINION;
    if (a.resourceRequest && a.apiGroup === '') {
      switch (a.resource) {
        case 'secrets':
          return this.referenced(node, a, 'secret');
        case 'configmaps':
          return this.referenced(node, a, 'configmap');
        case 'persistentvolumeclaims':
          if (a.subresource === 'status' || a.verb === 'get') {
            if (!a.name) break;
            return this.boundToNode(node, a.namespace, 'pvc', a.name) ? this.byRules(a) : noRelationship(node);
          }
          break;
        case 'persistentvolumes':
          if (a.verb === 'get' && a.name) {
            for (const c of this.pods.claimsOfVolume(a.name))
              if (this.boundToNode(node, c.namespace, 'pvc', c.name)) return ALLOW;
          }
          break;
        case 'serviceaccounts':
          if (a.subresource === 'token') {
            if (a.verb !== 'create' || !a.name)
              return { decision: 'NoOpinion', reason: 'can only create tokens for individual service accounts' };
            return this.boundToNode(node, a.namespace, 'serviceaccount', a.name) ? ALLOW : noRelationship(node);
          }
          break;
        case 'pods':
          // A node writes the status of (and deletes, evicts) only pods bound to it.
          if (a.name && (a.subresource === 'status' || a.verb === 'delete' || a.subresource === 'eviction')) {
            const pod = this.pods.pod(a.namespace, a.name);
            if (pod && pod.spec?.nodeName !== node) return noRelationship(node);
          }
          break;
        case 'nodes':
          // Its own Node only, for everything but reading and creating.
          if (a.name && a.name !== node && !['get', 'list', 'watch', 'create'].includes(a.verb))
            return { decision: 'NoOpinion', reason: `node '${node}' cannot modify node '${a.name}'` };
          break;
      }
    }
    if (a.resourceRequest && a.apiGroup === 'coordination.k8s.io' && a.resource === 'leases') {
      if (a.namespace !== NODE_LEASE_NAMESPACE || (a.verb !== 'create' && a.name !== node))
        return {
          decision: 'NoOpinion',
          reason: 'can only access node lease with the same name as the requesting node',
        };
    }
    return this.byRules(a);
  }

  private byRules(a: Attributes): AuthorizationResult {
    for (const r of this.rules) if (ruleAllows(a, r)) return ALLOW;
    return NO_OPINION;
  }
}
