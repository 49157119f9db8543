// The admission plugins the API server runs, in upstream's order.
import type { Namespace, Node, Pod } from 'kubernetes-types/core/v1.js';
import type { Store } from '../store.js';
import { readOnlyViewOf } from '../../storage/cacher.js';
import type { RuntimeClass } from 'kubernetes-types/node/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { AdmissionChain } from './interfaces.js';
import { LimitRanger } from './limitranger.js';
import { NamespaceLifecycle } from './namespacelifecycle.js';
import { PriorityAdmission } from './priority.js';
import { RuntimeClassAdmission } from './runtimeclass.js';
import { DefaultTolerationSeconds } from './defaulttolerationseconds.js';
import { ResourceQuotaAdmission } from './resourcequota.js';
import { DefaultStorageClass } from './defaultstorageclass.js';
import { PersistentVolumeClaimResize } from './pvcresize.js';
import { ServiceAccountAdmission } from './serviceaccount.js';
import { celMatchConditionsWith, webhookAdmission } from './webhook/index.js';
import { authorizeFn } from './validatingpolicy/params.js';
import { ValidatingAdmissionPolicyPlugin } from './validatingpolicy/index.js';
import { MutatingAdmissionPolicyPlugin } from './mutatingpolicy/index.js';
import type { TypeRef } from '../../machinery/ssa/typed.js';
import { PodSecurity } from './podsecurity/index.js';
import { NodeRestriction } from './noderestriction.js';
import { CertificateRequester, CertificateSignerAccess, CertificateSubjectRestriction } from './certificates.js';
import type { Authorizer } from '../authz/types.js';

export * from './interfaces.js';
export { LimitRanger } from './limitranger.js';
export { NamespaceLifecycle } from './namespacelifecycle.js';
export { PriorityAdmission } from './priority.js';
export { RuntimeClassAdmission } from './runtimeclass.js';
export { DefaultTolerationSeconds } from './defaulttolerationseconds.js';
export { ResourceQuotaAdmission } from './resourcequota.js';
export { DefaultStorageClass } from './defaultstorageclass.js';
export { ServiceAccountAdmission } from './serviceaccount.js';
export { PodSecurity } from './podsecurity/index.js';
export { NodeRestriction, forbiddenNodeLabels } from './noderestriction.js';
export { MutatingWebhookAdmission, ValidatingWebhookAdmission, webhookAdmission } from './webhook/index.js';
export { ValidatingAdmissionPolicyPlugin } from './validatingpolicy/index.js';
export { MutatingAdmissionPolicyPlugin } from './mutatingpolicy/index.js';

export interface AdmissionDeps {
  /** A resource's store once served (undefined before). */
  tryStore(group: string, plural: string): Store | undefined;
  /** A served kind's store (paramKind of ValidatingAdmissionPolicies). */
  storeForKind?(group: string, kind: string): Store | undefined;
  /** The server's authorizer once configured (approving and signing certificates check it). */
  authorizer?(): Authorizer | undefined;
  /** A kind's schema (MutatingAdmissionPolicy's ApplyConfiguration merges by it). */
  typeFor?(group: string, version: string, kind: string): TypeRef | undefined;
}

export function defaultAdmissionChain(deps: AdmissionDeps): AdmissionChain {
  const objectsIn = (plural: string, namespace: string): any[] => {
    const s = deps.tryStore('', plural);
    return s ? s.cache.list(s.keyPrefix(namespace)).map((x) => x.obj) : [];
  };
  const webhooks = webhookAdmission(
    (g, p) => deps.tryStore(g, p),
    celMatchConditionsWith(() => authorizeFn(deps)),
  );
  const mutatingPolicies = new MutatingAdmissionPolicyPlugin(deps);
  return new AdmissionChain([
    new NamespaceLifecycle((name) => deps.tryStore('', 'namespaces')?.tryGet(undefined, name)?.obj),
    new LimitRanger((ns) => objectsIn('limitranges', ns)),
    new ServiceAccountAdmission((ns, name) => deps.tryStore('', 'serviceaccounts')?.tryGet(ns, name)?.obj),
    // Upstream's order: NodeRestriction right after ServiceAccount.
    new NodeRestriction({
      pod: (ns, name) => deps.tryStore('', 'pods')?.tryGet(ns, name)?.obj as Pod | undefined,
      node: (name) => deps.tryStore('', 'nodes')?.tryGet(undefined, name)?.obj as Node | undefined,
    }),
    // Upstream's order: PodSecurity right after ServiceAccount (a validating plugin, before the webhooks).
    new PodSecurity({
      namespace: (name) => deps.tryStore('', 'namespaces')?.tryGet(undefined, name)?.obj as Namespace | undefined,
      podsIn: (ns) => {
        const s = deps.tryStore('', 'pods');
        return s ? s.cache.list(s.keyPrefix(ns)).map((x) => readOnlyViewOf(x) as Pod) : [];
      },
    }),
    new PriorityAdmission(() => {
      const s = deps.tryStore('scheduling.k8s.io', 'priorityclasses');
      return s ? s.cache.list(s.keyPrefix()).map((x) => x.obj) : [];
    }),
    new DefaultTolerationSeconds(),
    new DefaultStorageClass(() => {
      const s = deps.tryStore('storage.k8s.io', 'storageclasses');
      return s ? s.cache.list(s.keyPrefix()).map((x) => x.obj) : [];
    }),
    new PersistentVolumeClaimResize(
      (name) =>
        deps.tryStore('storage.k8s.io', 'storageclasses')?.tryGet(undefined, name)?.obj as StorageClass | undefined,
    ),
    new RuntimeClassAdmission(
      (name) =>
        deps.tryStore('node.k8s.io', 'runtimeclasses')?.tryGet(undefined, name)?.obj as RuntimeClass | undefined,
    ),
    new CertificateRequester(),
    new CertificateSignerAccess(() => deps.authorizer?.()),
    new CertificateSubjectRestriction(),
    // Upstream's order: MutatingAdmissionPolicy and the mutating webhooks after the built-in
    // mutating plugins (IfNeeded policies run again after the webhooks if they changed the
    // object), then ValidatingAdmissionPolicy, validating webhooks, and ResourceQuota last.
    mutatingPolicies,
    webhooks.mutating,
    mutatingPolicies.reinvocation,
    new ValidatingAdmissionPolicyPlugin(deps),
    webhooks.validating,
    new ResourceQuotaAdmission(() => deps.tryStore('', 'resourcequotas')),
  ]);
}
