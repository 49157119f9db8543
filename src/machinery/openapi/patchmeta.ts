/**
 * Patch and list metadata for the built-in API definitions.
 *
 * kubernetes-types (our source of schemas) carries no patch metadata, so this table restates
 * the facts upstream encodes in Go struct tags (`patchStrategy`, `patchMergeKey`) and markers
 * (`+listType`, `+listMapKey`, `+mapType`, `+structType`). The build-time generator
 * (tools/gen-openapi.ts) folds it into the published definitions as the usual
 * `x-kubernetes-*` extensions, and strategic merge patch reads it back from there.
 *
 * Reviewed against upstream k8s.io/api, k8s.io/apimachinery (meta/v1) and
 * k8s.io/apiextensions-apiserver types. Fields promoted from inline (embedded) Go structs are
 * listed on the definition that publishes them (e.g. Volume carries VolumeSource's fields).
 * Fields absent from the installed kubernetes-types are omitted; the generator warns when an
 * entry here names a definition or property it cannot find.
 */

/** Per-field metadata, named after the OpenAPI extensions it becomes. */
export interface FieldPatchMeta {
  /** x-kubernetes-patch-strategy: "merge", "replace", "retainKeys" or "merge,retainKeys". */
  readonly patchStrategy?: string;
  /** x-kubernetes-patch-merge-key: the key identifying list elements in a merge list. */
  readonly patchMergeKey?: string;
  /** x-kubernetes-list-type: "atomic", "set" or "map" (server-side apply semantics). */
  readonly listType?: 'atomic' | 'set' | 'map';
  /** x-kubernetes-list-map-keys for listType "map". */
  readonly listMapKeys?: readonly string[];
  /** x-kubernetes-map-type on a map or struct-valued field. */
  readonly mapType?: 'atomic' | 'granular';
}

export interface DefinitionPatchMeta {
  /** x-kubernetes-map-type on the definition itself (Go `+structType=atomic`). */
  readonly mapType?: 'atomic';
  readonly fields?: Readonly<Record<string, FieldPatchMeta>>;
}

export const PATCH_META: Readonly<Record<string, DefinitionPatchMeta>> = {
  'io.k8s.api.admissionregistration.v1.MatchResources': {
    mapType: 'atomic',
    fields: {
      excludeResourceRules: { listType: 'atomic' },
      resourceRules: { listType: 'atomic' },
    },
  },
  'io.k8s.api.admissionregistration.v1.MutatingWebhook': {
    fields: {
      admissionReviewVersions: { listType: 'atomic' },
      matchConditions: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
      rules: { listType: 'atomic' },
    },
  },
  'io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration': {
    fields: {
      webhooks: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
    },
  },
  'io.k8s.api.admissionregistration.v1.NamedRuleWithOperations': {
    mapType: 'atomic',
    fields: {
      apiGroups: { listType: 'atomic' },
      apiVersions: { listType: 'atomic' },
      operations: { listType: 'atomic' },
      resourceNames: { listType: 'atomic' },
    },
  },
  'io.k8s.api.admissionregistration.v1.ParamKind': { mapType: 'atomic' },
  'io.k8s.api.admissionregistration.v1.ParamRef': { mapType: 'atomic' },
  'io.k8s.api.admissionregistration.v1.RuleWithOperations': {
    fields: {
      apiGroups: { listType: 'atomic' },
      apiVersions: { listType: 'atomic' },
      operations: { listType: 'atomic' },
    },
  },
  'io.k8s.api.admissionregistration.v1.TypeChecking': {
    fields: {
      expressionWarnings: { listType: 'atomic' },
    },
  },
  'io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBindingSpec': {
    fields: {
      validationActions: { listType: 'set' },
    },
  },
  'io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec': {
    fields: {
      auditAnnotations: { listType: 'atomic' },
      matchConditions: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
      validations: { listType: 'atomic' },
      variables: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
    },
  },
  'io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyStatus': {
    fields: {
      conditions: { listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.admissionregistration.v1.ValidatingWebhook': {
    fields: {
      admissionReviewVersions: { listType: 'atomic' },
      matchConditions: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
      rules: { listType: 'atomic' },
    },
  },
  'io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration': {
    fields: {
      webhooks: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
    },
  },
  'io.k8s.api.admissionregistration.v1.Variable': { mapType: 'atomic' },
  'io.k8s.api.admissionregistration.v1alpha1.MatchResources': {
    mapType: 'atomic',
    fields: {
      excludeResourceRules: { listType: 'atomic' },
      resourceRules: { listType: 'atomic' },
    },
  },
  'io.k8s.api.admissionregistration.v1alpha1.NamedRuleWithOperations': {
    mapType: 'atomic',
    fields: {
      resourceNames: { listType: 'atomic' },
    },
  },
  'io.k8s.api.admissionregistration.v1alpha1.ParamKind': { mapType: 'atomic' },
  'io.k8s.api.admissionregistration.v1alpha1.ParamRef': { mapType: 'atomic' },
  'io.k8s.api.admissionregistration.v1alpha1.TypeChecking': {
    fields: {
      expressionWarnings: { listType: 'atomic' },
    },
  },
  'io.k8s.api.admissionregistration.v1alpha1.ValidatingAdmissionPolicyBindingSpec': {
    fields: {
      validationActions: { listType: 'set' },
    },
  },
  'io.k8s.api.admissionregistration.v1alpha1.ValidatingAdmissionPolicySpec': {
    fields: {
      auditAnnotations: { listType: 'atomic' },
      matchConditions: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
      validations: { listType: 'atomic' },
      variables: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
    },
  },
  'io.k8s.api.admissionregistration.v1alpha1.ValidatingAdmissionPolicyStatus': {
    fields: {
      conditions: { listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.admissionregistration.v1beta1.MatchResources': {
    mapType: 'atomic',
    fields: {
      excludeResourceRules: { listType: 'atomic' },
      resourceRules: { listType: 'atomic' },
    },
  },
  'io.k8s.api.admissionregistration.v1beta1.NamedRuleWithOperations': {
    mapType: 'atomic',
    fields: {
      resourceNames: { listType: 'atomic' },
    },
  },
  'io.k8s.api.admissionregistration.v1beta1.ParamKind': { mapType: 'atomic' },
  'io.k8s.api.admissionregistration.v1beta1.ParamRef': { mapType: 'atomic' },
  'io.k8s.api.admissionregistration.v1beta1.TypeChecking': {
    fields: {
      expressionWarnings: { listType: 'atomic' },
    },
  },
  'io.k8s.api.admissionregistration.v1beta1.ValidatingAdmissionPolicyBindingSpec': {
    fields: {
      validationActions: { listType: 'set' },
    },
  },
  'io.k8s.api.admissionregistration.v1beta1.ValidatingAdmissionPolicySpec': {
    fields: {
      auditAnnotations: { listType: 'atomic' },
      matchConditions: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
      validations: { listType: 'atomic' },
      variables: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
    },
  },
  'io.k8s.api.admissionregistration.v1beta1.ValidatingAdmissionPolicyStatus': {
    fields: {
      conditions: { listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.admissionregistration.v1beta1.Variable': { mapType: 'atomic' },
  'io.k8s.api.apiserverinternal.v1alpha1.ServerStorageVersion': {
    fields: {
      decodableVersions: { listType: 'set' },
      servedVersions: { listType: 'set' },
    },
  },
  'io.k8s.api.apiserverinternal.v1alpha1.StorageVersionStatus': {
    fields: {
      conditions: { listType: 'map', listMapKeys: ['type'] },
      storageVersions: { listType: 'map', listMapKeys: ['apiServerID'] },
    },
  },
  'io.k8s.api.apps.v1.DaemonSetStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.apps.v1.DeploymentSpec': {
    fields: {
      strategy: { patchStrategy: 'retainKeys' },
    },
  },
  'io.k8s.api.apps.v1.DeploymentStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.apps.v1.ReplicaSetStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.apps.v1.StatefulSetSpec': {
    fields: {
      volumeClaimTemplates: { listType: 'atomic' },
    },
  },
  'io.k8s.api.apps.v1.StatefulSetStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.authentication.v1.TokenRequestSpec': {
    fields: {
      audiences: { listType: 'atomic' },
    },
  },
  'io.k8s.api.authentication.v1.TokenReviewSpec': {
    fields: {
      audiences: { listType: 'atomic' },
    },
  },
  'io.k8s.api.authentication.v1.TokenReviewStatus': {
    fields: {
      audiences: { listType: 'atomic' },
    },
  },
  'io.k8s.api.authentication.v1.UserInfo': {
    fields: {
      groups: { listType: 'atomic' },
    },
  },
  'io.k8s.api.authorization.v1.NonResourceRule': {
    fields: {
      nonResourceURLs: { listType: 'atomic' },
      verbs: { listType: 'atomic' },
    },
  },
  'io.k8s.api.authorization.v1.ResourceRule': {
    fields: {
      apiGroups: { listType: 'atomic' },
      resourceNames: { listType: 'atomic' },
    },
  },
  'io.k8s.api.authorization.v1.SubjectAccessReviewSpec': {
    fields: {
      groups: { listType: 'atomic' },
    },
  },
  'io.k8s.api.authorization.v1.SubjectRulesReviewStatus': {
    fields: {
      nonResourceRules: { listType: 'atomic' },
      resourceRules: { listType: 'atomic' },
    },
  },
  'io.k8s.api.autoscaling.v1.CrossVersionObjectReference': { mapType: 'atomic' },
  'io.k8s.api.autoscaling.v2.HPAScalingRules': {
    fields: {
      policies: { listType: 'atomic' },
    },
  },
  'io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec': {
    fields: {
      metrics: { listType: 'atomic' },
    },
  },
  'io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
      currentMetrics: { listType: 'atomic' },
    },
  },
  'io.k8s.api.batch.v1.CronJobStatus': {
    fields: {
      active: { listType: 'atomic' },
    },
  },
  'io.k8s.api.batch.v1.JobStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'atomic' },
    },
  },
  'io.k8s.api.batch.v1.PodFailurePolicy': {
    fields: {
      rules: { listType: 'atomic' },
    },
  },
  'io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement': {
    fields: {
      values: { listType: 'set' },
    },
  },
  'io.k8s.api.batch.v1.PodFailurePolicyRule': {
    fields: {
      onPodConditions: { listType: 'atomic' },
    },
  },
  'io.k8s.api.batch.v1.SuccessPolicy': {
    fields: {
      rules: { listType: 'atomic' },
    },
  },
  'io.k8s.api.batch.v1.UncountedTerminatedPods': {
    fields: {
      failed: { listType: 'set' },
      succeeded: { listType: 'set' },
    },
  },
  'io.k8s.api.certificates.v1.CertificateSigningRequestSpec': {
    fields: {
      groups: { listType: 'atomic' },
      usages: { listType: 'atomic' },
    },
  },
  'io.k8s.api.certificates.v1.CertificateSigningRequestStatus': {
    fields: {
      conditions: { listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.core.v1.Capabilities': {
    fields: {
      add: { listType: 'atomic' },
      drop: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.CephFSPersistentVolumeSource': {
    fields: {
      monitors: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.CephFSVolumeSource': {
    fields: {
      monitors: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.ComponentStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.core.v1.ConfigMapKeySelector': { mapType: 'atomic' },
  'io.k8s.api.core.v1.ConfigMapProjection': {
    fields: {
      items: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.ConfigMapVolumeSource': {
    fields: {
      items: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.Container': {
    fields: {
      args: { listType: 'atomic' },
      command: { listType: 'atomic' },
      env: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
      envFrom: { listType: 'atomic' },
      ports: {
        patchStrategy: 'merge',
        patchMergeKey: 'containerPort',
        listType: 'map',
        listMapKeys: ['containerPort', 'protocol'],
      },
      resizePolicy: { listType: 'atomic' },
      volumeDevices: {
        patchStrategy: 'merge',
        patchMergeKey: 'devicePath',
        listType: 'map',
        listMapKeys: ['devicePath'],
      },
      volumeMounts: { patchStrategy: 'merge', patchMergeKey: 'mountPath', listType: 'map', listMapKeys: ['mountPath'] },
    },
  },
  'io.k8s.api.core.v1.ContainerImage': {
    fields: {
      names: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.ContainerStatus': {
    fields: {
      volumeMounts: { patchStrategy: 'merge', patchMergeKey: 'mountPath', listType: 'map', listMapKeys: ['mountPath'] },
    },
  },
  'io.k8s.api.core.v1.DownwardAPIProjection': {
    fields: {
      items: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.DownwardAPIVolumeSource': {
    fields: {
      items: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.EndpointAddress': { mapType: 'atomic' },
  'io.k8s.api.core.v1.EndpointPort': { mapType: 'atomic' },
  'io.k8s.api.core.v1.EndpointSubset': {
    fields: {
      addresses: { listType: 'atomic' },
      notReadyAddresses: { listType: 'atomic' },
      ports: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.Endpoints': {
    fields: {
      subsets: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.EphemeralContainer': {
    fields: {
      args: { listType: 'atomic' },
      command: { listType: 'atomic' },
      env: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
      envFrom: { listType: 'atomic' },
      ports: {
        patchStrategy: 'merge',
        patchMergeKey: 'containerPort',
        listType: 'map',
        listMapKeys: ['containerPort', 'protocol'],
      },
      resizePolicy: { listType: 'atomic' },
      volumeDevices: {
        patchStrategy: 'merge',
        patchMergeKey: 'devicePath',
        listType: 'map',
        listMapKeys: ['devicePath'],
      },
      volumeMounts: { patchStrategy: 'merge', patchMergeKey: 'mountPath', listType: 'map', listMapKeys: ['mountPath'] },
    },
  },
  'io.k8s.api.core.v1.ExecAction': {
    fields: {
      command: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.FCVolumeSource': {
    fields: {
      targetWWNs: { listType: 'atomic' },
      wwids: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.HTTPGetAction': {
    fields: {
      httpHeaders: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.HostAlias': {
    fields: {
      hostnames: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.ISCSIPersistentVolumeSource': {
    fields: {
      portals: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.ISCSIVolumeSource': {
    fields: {
      portals: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.LimitRangeSpec': {
    fields: {
      limits: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.LoadBalancerIngress': {
    fields: {
      ports: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.LoadBalancerStatus': {
    fields: {
      ingress: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.LocalObjectReference': { mapType: 'atomic' },
  'io.k8s.api.core.v1.NamespaceSpec': {
    fields: {
      finalizers: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.NamespaceStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.core.v1.NodeAffinity': {
    fields: {
      preferredDuringSchedulingIgnoredDuringExecution: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.NodeSelector': {
    mapType: 'atomic',
    fields: {
      nodeSelectorTerms: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.NodeSelectorRequirement': {
    fields: {
      values: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.NodeSelectorTerm': {
    mapType: 'atomic',
    fields: {
      matchExpressions: { listType: 'atomic' },
      matchFields: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.NodeSpec': {
    fields: {
      podCIDRs: { patchStrategy: 'merge', listType: 'set' },
      taints: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.NodeStatus': {
    fields: {
      addresses: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
      images: { listType: 'atomic' },
      runtimeHandlers: { listType: 'atomic' },
      volumesAttached: { listType: 'atomic' },
      volumesInUse: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.ObjectFieldSelector': { mapType: 'atomic' },
  'io.k8s.api.core.v1.ObjectReference': { mapType: 'atomic' },
  'io.k8s.api.core.v1.PersistentVolumeClaimSpec': {
    fields: {
      accessModes: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.PersistentVolumeClaimStatus': {
    fields: {
      accessModes: { listType: 'atomic' },
      allocatedResourceStatuses: { mapType: 'granular' },
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.core.v1.PersistentVolumeSpec': {
    fields: {
      accessModes: { listType: 'atomic' },
      mountOptions: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.PodAffinity': {
    fields: {
      preferredDuringSchedulingIgnoredDuringExecution: { listType: 'atomic' },
      requiredDuringSchedulingIgnoredDuringExecution: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.PodAffinityTerm': {
    fields: {
      matchLabelKeys: { listType: 'atomic' },
      mismatchLabelKeys: { listType: 'atomic' },
      namespaces: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.PodAntiAffinity': {
    fields: {
      preferredDuringSchedulingIgnoredDuringExecution: { listType: 'atomic' },
      requiredDuringSchedulingIgnoredDuringExecution: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.PodDNSConfig': {
    fields: {
      nameservers: { listType: 'atomic' },
      options: { listType: 'atomic' },
      searches: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.PodSecurityContext': {
    fields: {
      supplementalGroups: { listType: 'atomic' },
      sysctls: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.PodSpec': {
    fields: {
      containers: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
      ephemeralContainers: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
      hostAliases: { patchStrategy: 'merge', patchMergeKey: 'ip', listType: 'map', listMapKeys: ['ip'] },
      imagePullSecrets: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
      initContainers: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
      nodeSelector: { mapType: 'atomic' },
      readinessGates: { listType: 'atomic' },
      resourceClaims: {
        patchStrategy: 'merge,retainKeys',
        patchMergeKey: 'name',
        listType: 'map',
        listMapKeys: ['name'],
      },
      schedulingGates: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
      tolerations: { listType: 'atomic' },
      topologySpreadConstraints: {
        patchStrategy: 'merge',
        patchMergeKey: 'topologyKey',
        listType: 'map',
        listMapKeys: ['topologyKey', 'whenUnsatisfiable'],
      },
      volumes: { patchStrategy: 'merge,retainKeys', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
    },
  },
  'io.k8s.api.core.v1.PodStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
      containerStatuses: { listType: 'atomic' },
      ephemeralContainerStatuses: { listType: 'atomic' },
      hostIPs: { patchStrategy: 'merge', patchMergeKey: 'ip', listType: 'atomic' },
      initContainerStatuses: { listType: 'atomic' },
      podIPs: { patchStrategy: 'merge', patchMergeKey: 'ip', listType: 'map', listMapKeys: ['ip'] },
      resourceClaimStatuses: {
        patchStrategy: 'merge,retainKeys',
        patchMergeKey: 'name',
        listType: 'map',
        listMapKeys: ['name'],
      },
    },
  },
  'io.k8s.api.core.v1.ProjectedVolumeSource': {
    fields: {
      sources: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.RBDPersistentVolumeSource': {
    fields: {
      monitors: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.RBDVolumeSource': {
    fields: {
      monitors: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.ReplicationControllerSpec': {
    fields: {
      selector: { mapType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.ReplicationControllerStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.core.v1.ResourceFieldSelector': { mapType: 'atomic' },
  'io.k8s.api.core.v1.ResourceQuotaSpec': {
    fields: {
      scopes: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.ResourceRequirements': {
    fields: {
      claims: { listType: 'map', listMapKeys: ['name'] },
    },
  },
  'io.k8s.api.core.v1.ScopeSelector': {
    mapType: 'atomic',
    fields: {
      matchExpressions: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.ScopedResourceSelectorRequirement': {
    fields: {
      values: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.SecretKeySelector': { mapType: 'atomic' },
  'io.k8s.api.core.v1.SecretProjection': {
    fields: {
      items: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.SecretReference': { mapType: 'atomic' },
  'io.k8s.api.core.v1.SecretVolumeSource': {
    fields: {
      items: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.ServiceAccount': {
    fields: {
      imagePullSecrets: { listType: 'atomic' },
      secrets: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
    },
  },
  'io.k8s.api.core.v1.ServiceSpec': {
    fields: {
      clusterIPs: { listType: 'atomic' },
      externalIPs: { listType: 'atomic' },
      ipFamilies: { listType: 'atomic' },
      loadBalancerSourceRanges: { listType: 'atomic' },
      ports: { patchStrategy: 'merge', patchMergeKey: 'port', listType: 'map', listMapKeys: ['port', 'protocol'] },
      selector: { mapType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.ServiceStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.core.v1.TopologySelectorLabelRequirement': {
    fields: {
      values: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.TopologySelectorTerm': {
    mapType: 'atomic',
    fields: {
      matchLabelExpressions: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.TopologySpreadConstraint': {
    fields: {
      matchLabelKeys: { listType: 'atomic' },
    },
  },
  'io.k8s.api.core.v1.TypedLocalObjectReference': { mapType: 'atomic' },
  'io.k8s.api.discovery.v1.Endpoint': {
    fields: {
      addresses: { listType: 'set' },
    },
  },
  'io.k8s.api.discovery.v1.EndpointHints': {
    fields: {
      forZones: { listType: 'atomic' },
    },
  },
  'io.k8s.api.discovery.v1.EndpointPort': { mapType: 'atomic' },
  'io.k8s.api.discovery.v1.EndpointSlice': {
    fields: {
      endpoints: { listType: 'atomic' },
      ports: { listType: 'atomic' },
    },
  },
  'io.k8s.api.flowcontrol.v1.FlowSchemaSpec': {
    fields: {
      rules: { listType: 'atomic' },
    },
  },
  'io.k8s.api.flowcontrol.v1.FlowSchemaStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.flowcontrol.v1.NonResourcePolicyRule': {
    fields: {
      nonResourceURLs: { listType: 'set' },
      verbs: { listType: 'set' },
    },
  },
  'io.k8s.api.flowcontrol.v1.PolicyRulesWithSubjects': {
    fields: {
      nonResourceRules: { listType: 'atomic' },
      resourceRules: { listType: 'atomic' },
      subjects: { listType: 'atomic' },
    },
  },
  'io.k8s.api.flowcontrol.v1.PriorityLevelConfigurationStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.flowcontrol.v1.ResourcePolicyRule': {
    fields: {
      apiGroups: { listType: 'set' },
      namespaces: { listType: 'set' },
      resources: { listType: 'set' },
      verbs: { listType: 'set' },
    },
  },
  'io.k8s.api.flowcontrol.v1beta3.FlowSchemaSpec': {
    fields: {
      rules: { listType: 'atomic' },
    },
  },
  'io.k8s.api.flowcontrol.v1beta3.FlowSchemaStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.flowcontrol.v1beta3.NonResourcePolicyRule': {
    fields: {
      nonResourceURLs: { listType: 'set' },
      verbs: { listType: 'set' },
    },
  },
  'io.k8s.api.flowcontrol.v1beta3.PolicyRulesWithSubjects': {
    fields: {
      nonResourceRules: { listType: 'atomic' },
      resourceRules: { listType: 'atomic' },
      subjects: { listType: 'atomic' },
    },
  },
  'io.k8s.api.flowcontrol.v1beta3.PriorityLevelConfigurationStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.flowcontrol.v1beta3.ResourcePolicyRule': {
    fields: {
      apiGroups: { listType: 'set' },
      namespaces: { listType: 'set' },
      resources: { listType: 'set' },
      verbs: { listType: 'set' },
    },
  },
  'io.k8s.api.networking.v1.HTTPIngressRuleValue': {
    fields: {
      paths: { listType: 'atomic' },
    },
  },
  'io.k8s.api.networking.v1.IPBlock': {
    fields: {
      except: { listType: 'atomic' },
    },
  },
  'io.k8s.api.networking.v1.IngressLoadBalancerIngress': {
    fields: {
      ports: { listType: 'atomic' },
    },
  },
  'io.k8s.api.networking.v1.IngressLoadBalancerStatus': {
    fields: {
      ingress: { listType: 'atomic' },
    },
  },
  'io.k8s.api.networking.v1.IngressSpec': {
    fields: {
      rules: { listType: 'atomic' },
      tls: { listType: 'atomic' },
    },
  },
  'io.k8s.api.networking.v1.IngressTLS': {
    fields: {
      hosts: { listType: 'atomic' },
    },
  },
  'io.k8s.api.networking.v1.NetworkPolicyEgressRule': {
    fields: {
      ports: { listType: 'atomic' },
      to: { listType: 'atomic' },
    },
  },
  'io.k8s.api.networking.v1.NetworkPolicyIngressRule': {
    fields: {
      from: { listType: 'atomic' },
      ports: { listType: 'atomic' },
    },
  },
  'io.k8s.api.networking.v1.NetworkPolicySpec': {
    fields: {
      egress: { listType: 'atomic' },
      ingress: { listType: 'atomic' },
      policyTypes: { listType: 'atomic' },
    },
  },
  'io.k8s.api.networking.v1.ServiceBackendPort': { mapType: 'atomic' },
  'io.k8s.api.networking.v1alpha1.ServiceCIDRSpec': {
    fields: {
      cidrs: { listType: 'atomic' },
    },
  },
  'io.k8s.api.networking.v1alpha1.ServiceCIDRStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.node.v1.Scheduling': {
    fields: {
      nodeSelector: { mapType: 'atomic' },
      tolerations: { listType: 'atomic' },
    },
  },
  'io.k8s.api.policy.v1.PodDisruptionBudgetSpec': {
    fields: {
      selector: { patchStrategy: 'replace' },
    },
  },
  'io.k8s.api.policy.v1.PodDisruptionBudgetStatus': {
    fields: {
      conditions: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] },
    },
  },
  'io.k8s.api.rbac.v1.AggregationRule': {
    fields: {
      clusterRoleSelectors: { listType: 'atomic' },
    },
  },
  'io.k8s.api.rbac.v1.ClusterRole': {
    fields: {
      rules: { listType: 'atomic' },
    },
  },
  'io.k8s.api.rbac.v1.ClusterRoleBinding': {
    fields: {
      subjects: { listType: 'atomic' },
    },
  },
  'io.k8s.api.rbac.v1.PolicyRule': {
    fields: {
      apiGroups: { listType: 'atomic' },
      nonResourceURLs: { listType: 'atomic' },
      resourceNames: { listType: 'atomic' },
      resources: { listType: 'atomic' },
      verbs: { listType: 'atomic' },
    },
  },
  'io.k8s.api.rbac.v1.Role': {
    fields: {
      rules: { listType: 'atomic' },
    },
  },
  'io.k8s.api.rbac.v1.RoleBinding': {
    fields: {
      subjects: { listType: 'atomic' },
    },
  },
  'io.k8s.api.rbac.v1.RoleRef': { mapType: 'atomic' },
  'io.k8s.api.rbac.v1.Subject': { mapType: 'atomic' },
  'io.k8s.api.storage.v1.CSIDriverSpec': {
    fields: {
      tokenRequests: { listType: 'atomic' },
      volumeLifecycleModes: { listType: 'set' },
    },
  },
  'io.k8s.api.storage.v1.CSINodeDriver': {
    fields: {
      topologyKeys: { listType: 'atomic' },
    },
  },
  'io.k8s.api.storage.v1.CSINodeSpec': {
    fields: {
      drivers: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
    },
  },
  'io.k8s.api.storage.v1.StorageClass': {
    fields: {
      allowedTopologies: { listType: 'atomic' },
      mountOptions: { listType: 'atomic' },
    },
  },
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames': {
    fields: {
      categories: { listType: 'atomic' },
      shortNames: { listType: 'atomic' },
    },
  },
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec': {
    fields: {
      versions: { listType: 'atomic' },
    },
  },
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus': {
    fields: {
      conditions: { listType: 'map', listMapKeys: ['type'] },
      storedVersions: { listType: 'atomic' },
    },
  },
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion': {
    fields: {
      additionalPrinterColumns: { listType: 'atomic' },
      selectableFields: { listType: 'atomic' },
    },
  },
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps': {
    fields: {
      allOf: { listType: 'atomic' },
      anyOf: { listType: 'atomic' },
      enum: { listType: 'atomic' },
      oneOf: { listType: 'atomic' },
      required: { listType: 'atomic' },
    },
  },
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.WebhookConversion': {
    fields: {
      conversionReviewVersions: { listType: 'atomic' },
    },
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup': {
    fields: {
      serverAddressByClientCIDRs: { listType: 'atomic' },
      versions: { listType: 'atomic' },
    },
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList': {
    fields: {
      groups: { listType: 'atomic' },
    },
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.APIResource': {
    fields: {
      categories: { listType: 'atomic' },
      shortNames: { listType: 'atomic' },
    },
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList': {
    fields: {
      resources: { listType: 'atomic' },
    },
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions': {
    fields: {
      serverAddressByClientCIDRs: { listType: 'atomic' },
      versions: { listType: 'atomic' },
    },
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions': {
    fields: {
      dryRun: { listType: 'atomic' },
    },
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector': {
    mapType: 'atomic',
    fields: {
      matchExpressions: { listType: 'atomic' },
    },
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement': {
    fields: {
      values: { listType: 'atomic' },
    },
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': {
    fields: {
      finalizers: { patchStrategy: 'merge', listType: 'set' },
      managedFields: { listType: 'atomic' },
      ownerReferences: { patchStrategy: 'merge', patchMergeKey: 'uid', listType: 'map', listMapKeys: ['uid'] },
    },
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference': { mapType: 'atomic' },
  'io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails': {
    fields: {
      causes: { listType: 'atomic' },
    },
  },
};
