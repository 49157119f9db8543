// NodeRestriction (upstream plugin/pkg/admission/noderestriction): what the Node authorizer
// can't see from a request's attributes alone, checked on the objects. A node (system:node:NAME
// in system:nodes) may change only its own Node — not its taints, ownerReferences or labels that
// steer workloads (node-restriction.kubernetes.io/, and kubernetes.io / k8s.io labels outside
// the kubelet's own set) — create only mirror pods bound to itself that reference nothing, delete
// and evict only its own pods, update only its own pods' status (not their labels), only PVC
// status, only its own Lease in kube-node-lease and CSINode, tokens only for its pods, and only
// CSRs for its own name. Every other user passes untouched. Refusals are upstream's messages.
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import type { Node, PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import { decodeRequestField, parseCertificateRequest } from '../../api/certificates/v1/request.js';
import { isDeepStrictEqual } from 'node:util';
import { nodeNameOf, podUses } from '../authz/node.js';
import { type AdmissionAttributes, type MutatingPlugin, forbiddenFor } from './interfaces.js';
import * as errors from '../../machinery/errors.js';

const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
const NODE_LEASE_NAMESPACE = 'kube-node-lease';
const KUBELET_SERVING_SIGNER = 'kubernetes.io/kubelet-serving';
const KUBELET_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet';

/** Labels a kubelet may set on its Node (upstream k8s.io/kubelet/pkg/apis IsKubeletLabel). */
const KUBELET_LABELS = new Set([
  'kubernetes.io/hostname',
  'topology.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'failure-domain.beta.kubernetes.io/region',
  'beta.kubernetes.io/instance-type',
  'node.kubernetes.io/instance-type',
  'kubernetes.io/os',
  'kubernetes.io/arch',
  'beta.kubernetes.io/os',
  'beta.kubernetes.io/arch',
]);
const KUBELET_LABEL_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];

const labelNamespace = (key: string) => (key.includes('/') ? key.slice(0, key.indexOf('/')) : '');
const inNamespace = (ns: string, domain: string) => ns === domain || ns.endsWith(`.${domain}`);

function isKubeletLabel(key: string): boolean {
  if (KUBELET_LABELS.has(key)) return true;
  const ns = labelNamespace(key);
  return KUBELET_LABEL_NAMESPACES.some((d) => inNamespace(ns, d));
}

/** Labels added, removed or changed between two label maps, sorted. */
function modifiedLabels(a: Record<string, string> = {}, b: Record<string, string> = {}): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => a[k] !== b[k]).sort();
}

/** Of the modified labels, those a node may not touch. */
export function forbiddenNodeLabels(modified: string[]): string[] {
  return modified.filter((k) => {
    const ns = labelNamespace(k);
    if (inNamespace(ns, 'node-restriction.kubernetes.io')) return true;
    const kubernetes = inNamespace(ns, 'kubernetes.io') || inNamespace(ns, 'k8s.io');
    return kubernetes && !isKubeletLabel(k);
  });
}

/** Deep equality where absent, null and empty lists are the same (Go's semantic equality of nil and empty). */
function sameList(a: unknown[] | null | undefined, b: unknown[] | null | undefined): boolean {
  return (!a?.length && !b?.length) || isDeepStrictEqual(a, b);
}

export class NodeRestriction implements MutatingPlugin {
  readonly name = 'NodeRestriction';

  constructor(
    private readonly lookup: {
      pod(namespace: string, name: string): Pod | undefined;
      node(name: string): Node | undefined;
    },
  ) {}

  handles(a: AdmissionAttributes): boolean {
    return a.operation !== 'CONNECT' && a.user.name.startsWith('system:node:');
  }

  admit(a: AdmissionAttributes): void {
    if (!a.user.groups.includes('system:nodes')) return;
    const node = nodeNameOf(a.user);
    if (!node) throw forbiddenFor(a, `could not determine node from user "${a.user.name}"`);
    const refuse = (why: string) => forbiddenFor(a, why);
    const resource = `${a.group}/${a.resource}`;
    switch (resource) {
      case '/pods':
        if (a.subresource === '') return this.pod(node, a, refuse);
        if (a.subresource === 'status') return this.podStatus(node, a, refuse);
        if (a.subresource === 'eviction') return this.eviction(node, a, refuse);
        throw refuse(`unexpected pod subresource "${a.subresource}", only 'status' and 'eviction' are allowed`);
      case '/nodes':
        return this.node(node, a, refuse);
      case '/persistentvolumeclaims':
        if (a.subresource !== 'status') throw refuse('may only update PVC status');
        return this.pvcStatus(node, a, refuse);
      case '/serviceaccounts':
        return this.serviceAccountToken(node, a, refuse);
      case 'coordination.k8s.io/leases':
        if (a.namespace !== NODE_LEASE_NAMESPACE)
          throw refuse(`can only access leases in the "${NODE_LEASE_NAMESPACE}" system namespace`);
        if (this.nameOf(a) !== node)
          throw refuse('can only access node lease with the same name as the requesting node');
        return;
      case 'storage.k8s.io/csinodes':
        if (this.nameOf(a) !== node) throw refuse('can only access CSINode with the same name as the requesting node');
        return;
      case 'certificates.k8s.io/certificatesigningrequests':
        return this.csr(node, a, refuse);
    }
  }

  /** A create's name is the object's (the request has none yet). */
  private nameOf(a: AdmissionAttributes): string {
    return a.operation === 'CREATE' ? ((a.object as { metadata?: { name?: string } })?.metadata?.name ?? '') : a.name;
  }

  private pod(node: string, a: AdmissionAttributes, refuse: (why: string) => errors.ApiError): void {
    if (a.operation === 'DELETE') {
      const existing = (a.oldObject as Pod | undefined) ?? this.lookup.pod(a.namespace, a.name);
      if (existing && existing.spec?.nodeName !== node)
        throw refuse(`node "${node}" can only delete pods with spec.nodeName set to itself`);
      return;
    }
    if (a.operation !== 'CREATE')
      throw refuse(`unexpected operation "${a.operation}", node "${node}" can only create and delete mirror pods`);
    const pod = a.object as Pod;
    if (!pod.metadata?.annotations || !(MIRROR_POD_ANNOTATION in pod.metadata.annotations))
      throw refuse(
        `pod does not have "${MIRROR_POD_ANNOTATION}" annotation, node "${node}" can only create mirror pods`,
      );
    if (pod.spec?.nodeName !== node)
      throw refuse(`node "${node}" can only create pods with spec.nodeName set to itself`);
    const owners: OwnerReference[] = pod.metadata.ownerReferences ?? [];
    if (owners.length > 1)
      throw refuse(`node "${node}" can only create pods with a single owner reference set to itself`);
    const owner = owners[0];
    if (!owner || owner.apiVersion !== 'v1' || owner.kind !== 'Node' || owner.name !== node)
      throw refuse(`node "${node}" can only create pods with an owner reference set to itself`);
    if (!owner.controller)
      throw refuse(`node "${node}" can only create pods with a controller owner reference set to itself`);
    if (owner.blockOwnerDeletion) throw refuse(`node "${node}" must not set blockOwnerDeletion on an owner reference`);
    const self = this.lookup.node(node);
    if (!self) throw errors.notFound({ group: '', resource: 'nodes' }, node);
    if (owner.uid !== self.metadata?.uid)
      throw refuse(`node ${node} UID mismatch: expected ${owner.uid} got ${self.metadata?.uid ?? ''}`);
    if (pod.spec.serviceAccountName)
      throw refuse(`node "${node}" can not create pods that reference a service account`);
    if (podUses(pod, 'secret')) throw refuse(`node "${node}" can not create pods that reference secrets`);
    if (podUses(pod, 'configmap')) throw refuse(`node "${node}" can not create pods that reference configmaps`);
    const volumes = pod.spec.volumes ?? [];
    if (volumes.some((v) => v.projected?.sources?.some((s) => 'clusterTrustBundle' in s)))
      throw refuse(`node "${node}" can not create pods that reference clustertrustbundles`);
    if (volumes.some((v) => v.persistentVolumeClaim))
      throw refuse(`node "${node}" can not create pods that reference persistentvolumeclaims`);
  }

  private podStatus(node: string, a: AdmissionAttributes, refuse: (why: string) => errors.ApiError): void {
    if (a.operation !== 'UPDATE') throw refuse(`unexpected operation "${a.operation}"`);
    const old = a.oldObject as Pod;
    if (old.spec?.nodeName !== node)
      throw refuse(`node "${node}" can only update pod status for pods with spec.nodeName set to itself`);
    const pod = a.object as Pod;
    if (!isDeepStrictEqual(old.metadata?.labels ?? {}, pod.metadata?.labels ?? {}))
      throw refuse(`node "${node}" cannot update labels through pod status`);
  }

  private eviction(node: string, a: AdmissionAttributes, refuse: (why: string) => errors.ApiError): void {
    if (a.operation !== 'CREATE') throw refuse(`unexpected operation ${a.operation}`);
    const name = a.name || ((a.object as { metadata?: { name?: string } })?.metadata?.name ?? '');
    if (!name) throw refuse('could not determine pod from request data');
    const pod = this.lookup.pod(a.namespace, name);
    if (!pod) throw errors.notFound({ group: '', resource: 'pods' }, name);
    if (pod.spec?.nodeName !== node) throw refuse(`node ${node} can only evict pods with spec.nodeName set to itself`);
  }

  private pvcStatus(node: string, a: AdmissionAttributes, refuse: (why: string) => errors.ApiError): void {
    if (a.operation !== 'UPDATE') throw refuse(`unexpected operation "${a.operation}"`);
    // Everything but status.capacity, status.conditions and the expansion-recovery fields must stay.
    const comparable = (pvc: PersistentVolumeClaim) => {
      const { resourceVersion: _rv, managedFields: _mf, ...metadata } = pvc.metadata ?? {};
      const {
        capacity: _c,
        conditions: _co,
        allocatedResources: _ar,
        allocatedResourceStatuses: _ars,
        ...status
      } = pvc.status ?? {};
      return { metadata, spec: pvc.spec, status };
    };
    if (
      !isDeepStrictEqual(
        comparable(a.oldObject as PersistentVolumeClaim),
        comparable(a.object as PersistentVolumeClaim),
      )
    )
      throw refuse(`node "${node}" is not allowed to update fields other than status.quantity and status.conditions`);
  }

  private node(node: string, a: AdmissionAttributes, refuse: (why: string) => errors.ApiError): void {
    const requested = this.nameOf(a);
    if (requested !== node) throw refuse(`node "${node}" is not allowed to modify node "${requested}"`);
    const obj = a.object as Node | undefined;
    if (a.operation === 'CREATE' && obj) {
      if (obj.spec?.configSource)
        throw refuse(`node "${node}" is not allowed to create pods with a non-nil configSource`);
      const forbidden = forbiddenNodeLabels(modifiedLabels(obj.metadata?.labels, undefined));
      if (forbidden.length)
        throw refuse(`node "${node}" is not allowed to set the following labels: ${forbidden.join(', ')}`);
    }
    if (a.operation === 'UPDATE' && obj) {
      const old = a.oldObject as Node;
      if (obj.spec?.configSource && !isDeepStrictEqual(obj.spec.configSource, old.spec?.configSource))
        throw refuse(`node "${node}" is not allowed to update configSource to a new non-nil configSource`);
      if (!sameList(obj.spec?.taints, old.spec?.taints)) throw refuse(`node "${node}" is not allowed to modify taints`);
      if (!sameList(obj.metadata?.ownerReferences, old.metadata?.ownerReferences))
        throw refuse(`node "${node}" is not allowed to modify ownerReferences`);
      const forbidden = forbiddenNodeLabels(modifiedLabels(obj.metadata?.labels, old.metadata?.labels));
      if (forbidden.length) throw refuse(`is not allowed to modify labels: ${forbidden.join(', ')}`);
    }
  }

  private serviceAccountToken(_node: string, a: AdmissionAttributes, refuse: (why: string) => errors.ApiError): void {
    if (a.operation !== 'CREATE' || a.subresource !== 'token') return;
    const ref = (
      a.object as { spec?: { boundObjectRef?: { apiVersion?: string; kind?: string; name?: string; uid?: string } } }
    )?.spec?.boundObjectRef;
    if (!ref || ref.apiVersion !== 'v1' || ref.kind !== 'Pod' || !ref.name)
      throw refuse('node requested token not bound to a pod');
    if (!ref.uid) throw refuse('node requested token with a pod binding without a uid');
    const pod = this.lookup.pod(a.namespace, ref.name);
    if (!pod) throw errors.notFound({ group: '', resource: 'pods' }, ref.name);
    if (ref.uid !== pod.metadata?.uid)
      throw refuse(
        `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
      );
    if (pod.spec?.nodeName !== _node) throw refuse('node requested token bound to a pod scheduled on a different node');
  }

  private csr(node: string, a: AdmissionAttributes, refuse: (why: string) => errors.ApiError): void {
    if (a.operation !== 'CREATE') return;
    const csr = a.object as CertificateSigningRequest;
    const signer = csr.spec?.signerName;
    if (signer !== KUBELET_SERVING_SIGNER && signer !== KUBELET_CLIENT_SIGNER) return;
    let commonName: string | undefined;
    try {
      commonName = parseCertificateRequest(decodeRequestField(csr.spec.request)).commonName;
    } catch (err) {
      throw refuse(`unable to parse csr: ${(err as Error).message}`);
    }
    if (commonName !== `system:node:${node}`) throw refuse(`can only create a node CSR with CN=system:node:${node}`);
  }
}
