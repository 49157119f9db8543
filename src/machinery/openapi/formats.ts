/**
 * Numeric formats of the built-in API definitions.
 *
 * kubernetes-types types every number as `number`; upstream publishes integers with an explicit
 * width. Almost all are int32 (the generator's default), so only the exceptions are listed:
 * Go `int64` fields (format int64) and the few `float64` ones (type number, format double).
 * For array-valued fields the format applies to the items.
 */
export type NumberFormat = 'int64' | 'double';

export const NUMBER_FORMATS: Readonly<Record<string, Readonly<Record<string, NumberFormat>>>> = {
  'io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyStatus': { observedGeneration: 'int64' },
  'io.k8s.api.admissionregistration.v1alpha1.ValidatingAdmissionPolicyStatus': { observedGeneration: 'int64' },
  'io.k8s.api.admissionregistration.v1beta1.ValidatingAdmissionPolicyStatus': { observedGeneration: 'int64' },
  'io.k8s.api.apiserverinternal.v1alpha1.StorageVersionCondition': { observedGeneration: 'int64' },
  'io.k8s.api.apps.v1.ControllerRevision': { revision: 'int64' },
  'io.k8s.api.apps.v1.DaemonSetStatus': { observedGeneration: 'int64' },
  'io.k8s.api.apps.v1.DeploymentStatus': { observedGeneration: 'int64' },
  'io.k8s.api.apps.v1.ReplicaSetStatus': { observedGeneration: 'int64' },
  'io.k8s.api.apps.v1.StatefulSetStatus': { observedGeneration: 'int64' },
  'io.k8s.api.authentication.v1.TokenRequestSpec': { expirationSeconds: 'int64' },
  'io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerStatus': { observedGeneration: 'int64' },
  'io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus': { observedGeneration: 'int64' },
  'io.k8s.api.batch.v1.CronJobSpec': { startingDeadlineSeconds: 'int64' },
  'io.k8s.api.batch.v1.JobSpec': { activeDeadlineSeconds: 'int64' },
  'io.k8s.api.core.v1.ContainerImage': { sizeBytes: 'int64' },
  'io.k8s.api.core.v1.PodSecurityContext': {
    fsGroup: 'int64',
    runAsGroup: 'int64',
    runAsUser: 'int64',
    supplementalGroups: 'int64',
  },
  'io.k8s.api.core.v1.PodSpec': { activeDeadlineSeconds: 'int64', terminationGracePeriodSeconds: 'int64' },
  'io.k8s.api.core.v1.Probe': { terminationGracePeriodSeconds: 'int64' },
  'io.k8s.api.core.v1.ReplicationControllerStatus': { observedGeneration: 'int64' },
  'io.k8s.api.core.v1.SecurityContext': { runAsGroup: 'int64', runAsUser: 'int64' },
  'io.k8s.api.core.v1.ServiceAccountTokenProjection': { expirationSeconds: 'int64' },
  'io.k8s.api.core.v1.SleepAction': { seconds: 'int64' },
  'io.k8s.api.core.v1.Toleration': { tolerationSeconds: 'int64' },
  'io.k8s.api.policy.v1.PodDisruptionBudgetStatus': { observedGeneration: 'int64' },
  'io.k8s.api.storage.v1.TokenRequest': { expirationSeconds: 'int64' },
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps': {
    maxItems: 'int64',
    maxLength: 'int64',
    maxProperties: 'int64',
    maximum: 'double',
    minItems: 'int64',
    minLength: 'int64',
    minProperties: 'int64',
    minimum: 'double',
    multipleOf: 'double',
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.Condition': { observedGeneration: 'int64' },
  'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions': { gracePeriodSeconds: 'int64' },
  'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta': { remainingItemCount: 'int64' },
  'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': { deletionGracePeriodSeconds: 'int64', generation: 'int64' },
};
