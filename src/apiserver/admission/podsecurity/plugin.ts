// The PodSecurity admission plugin (upstream k8s.io/pod-security-admission/admission): a
// validating plugin that applies the Pod Security Standards level a namespace's labels name.
// Pods: `enforce` refuses, `warn` adds a Warning, `audit` an audit annotation. Workload objects
// (pod templates): warn and audit only, never refused, since their pods are checked anyway.
// Namespaces: labels are validated, and a stricter enforce level lists the existing pods it
// would refuse.
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import * as errors from '../../../machinery/errors.js';
import { forbiddenFor, type AdmissionAttributes, type ValidatingPlugin } from '../interfaces.js';
import { formatFieldError, type FieldError } from '../../../machinery/fielderrors.js';
import {
  MODES,
  defaultPodSecurityConfiguration,
  type NamespacePolicy,
  type PodSecurityConfiguration,
} from './config.js';
import { equivalentPolicies, fullyPrivileged, labelledModes, policyFromLabels, type LabelledPolicy } from './labels.js';
import { existingPodWarnings } from './namespace.js';
import { compareLevels, describeViolations, evaluatePod, formatLevelVersion } from './policy.js';
import { hasPodTemplate, isSignificantPodUpdate, podTemplateOf, type PodMetaAndSpec } from './podspec.js';

/** Go's aggregate of several errors: `[a, b]`, one alone unbracketed. */
function formatFieldErrors(errs: FieldError[]): string {
  return errs.length === 1 ? formatFieldError(errs[0]) : `[${errs.map(formatFieldError).join(', ')}]`;
}

export const ENFORCE_POLICY_ANNOTATION = 'pod-security.kubernetes.io/enforce-policy';
export const AUDIT_VIOLATIONS_ANNOTATION = 'pod-security.kubernetes.io/audit-violations';
export const EXEMPT_ANNOTATION = 'pod-security.kubernetes.io/exempt';
export const ERROR_ANNOTATION = 'pod-security.kubernetes.io/error';

export interface PodSecurityDeps {
  /** A namespace by name (undefined: not found). */
  namespace(name: string): Namespace | undefined;
  /** The pods of a namespace. */
  podsIn(namespace: string): Pod[];
}

/** Pod subresources that cannot change the pod spec; any other write of a pod is checked. */
const IGNORED_POD_SUBRESOURCES = new Set([
  'exec',
  'attach',
  'binding',
  'eviction',
  'log',
  'portforward',
  'proxy',
  'status',
]);

export class PodSecurity implements ValidatingPlugin {
  readonly name = 'PodSecurity';
  private config: PodSecurityConfiguration = defaultPodSecurityConfiguration();

  constructor(private readonly deps: PodSecurityDeps) {}

  /** Replace the configuration (from --admission-control-config-file). */
  configure(config: PodSecurityConfiguration): void {
    this.config = config;
  }

  handles(a: AdmissionAttributes): boolean {
    if (a.operation !== 'CREATE' && a.operation !== 'UPDATE') return false;
    if (a.group === '' && a.resource === 'pods') return !IGNORED_POD_SUBRESOURCES.has(a.subresource);
    if (a.group === '' && a.resource === 'namespaces') return a.subresource === '';
    return a.subresource === '' && hasPodTemplate(a.group, a.resource);
  }

  validate(a: AdmissionAttributes): void {
    if (a.resource === 'namespaces' && a.group === '') return this.validateNamespace(a);
    if (a.resource === 'pods' && a.group === '') return this.validatePod(a);
    return this.validateWorkload(a);
  }

  private validateNamespace(a: AdmissionAttributes): void {
    const ns = a.object as Namespace;
    const labels = ns.metadata?.labels;
    const { policy, errors: labelErrors } = policyFromLabels(labels, this.config.defaults);
    const exempt = this.exemptNamespace(a.name);
    if (a.operation === 'CREATE') {
      if (labelErrors.length) throw errors.invalid('', 'Namespace', a.name, labelErrors);
      if (exempt) this.warnExemptNamespace(a, policy, labels);
      return;
    }
    const old = policyFromLabels((a.oldObject as Namespace | undefined)?.metadata?.labels, this.config.defaults);
    // Labels that were already invalid the same way do not block unrelated updates.
    if (labelErrors.length && (!old.errors.length || JSON.stringify(labelErrors) !== JSON.stringify(old.errors)))
      throw errors.invalid('', 'Namespace', a.name, labelErrors);
    const enforce = policy.enforce;
    const oldEnforce = old.policy.enforce;
    // Nothing to check: same enforce policy, privileged, or a relaxed level at the same version.
    if (enforce.level === oldEnforce.level && enforce.version === oldEnforce.version) return;
    if (enforce.level === 'privileged') return;
    if (enforce.version === oldEnforce.version && compareLevels(enforce.level, oldEnforce.level) < 1) return;
    if (exempt) return this.warnExemptNamespace(a, policy, labels);
    a.warnings?.push(
      ...existingPodWarnings(a.name, enforce, this.deps.podsIn(a.name), (rc) => this.exemptRuntimeClass(rc)),
    );
  }

  /** An exempt namespace labelled with a policy that differs from the defaults: say it is ignored. */
  private warnExemptNamespace(
    a: AdmissionAttributes,
    policy: NamespacePolicy,
    labels: Record<string, string> | undefined,
  ): void {
    if (fullyPrivileged(policy) || equivalentPolicies(policy, this.config.defaults)) return;
    a.warnings?.push(
      `namespace ${JSON.stringify(a.name)} is exempt from Pod Security, and the policy (${labelledModes(policy, labels)}) will be ignored`,
    );
  }

  private validatePod(a: AdmissionAttributes): void {
    const pod = a.object as Pod;
    const current: PodMetaAndSpec = { meta: pod.metadata ?? {}, spec: pod.spec ?? { containers: [] } };
    const policy = this.policyFor(a, current, 'pod');
    if (!policy) return;
    if (a.operation === 'UPDATE') {
      const old = a.oldObject as Pod;
      if (!isSignificantPodUpdate(current, { meta: old.metadata ?? {}, spec: old.spec ?? { containers: [] } })) return;
    }
    if (this.exemptByRuntimeClass(a, current)) return;
    this.annotateLabelErrors(a, policy);
    this.annotate(a, ENFORCE_POLICY_ANNOTATION, formatLevelVersion(policy.policy.enforce));
    const enforceFailed = evaluatePod(policy.policy.enforce, current.meta, current.spec);
    this.audit(a, policy.policy, current);
    if (enforceFailed.length)
      throw forbiddenFor(
        a,
        `violates PodSecurity ${JSON.stringify(formatLevelVersion(policy.policy.enforce))}: ${describeViolations(enforceFailed)}`,
      );
    // A request refused by enforce gets no warning besides its error (upstream).
    this.warn(a, policy.policy, current);
  }

  private validateWorkload(a: AdmissionAttributes): void {
    const current = podTemplateOf(a.group, a.resource, a.object);
    const policy = this.policyFor(a, current, 'workload');
    if (!policy || !current) return;
    if (this.exemptByRuntimeClass(a, current)) return;
    this.annotateLabelErrors(a, policy);
    this.audit(a, policy.policy, current);
    this.warn(a, policy.policy, current);
  }

  /**
   * The namespace's policy, or undefined when nothing is to be checked: an exempt namespace or
   * user, or a namespace whose valid labels check nothing (for workloads, nothing but enforce).
   */
  private policyFor(
    a: AdmissionAttributes,
    pod: PodMetaAndSpec | undefined,
    kind: 'pod' | 'workload',
  ): LabelledPolicy | undefined {
    if (this.exemptNamespace(a.namespace)) return this.annotate(a, EXEMPT_ANNOTATION, 'namespace');
    if (a.user.name && this.config.exemptions.usernames.includes(a.user.name))
      return this.annotate(a, EXEMPT_ANNOTATION, 'user');
    if (!pod) return undefined;
    const labelled = policyFromLabels(this.deps.namespace(a.namespace)?.metadata?.labels, this.config.defaults);
    const { policy } = labelled;
    const checked = kind === 'pod' ? MODES : (['audit', 'warn'] as const);
    if (!labelled.errors.length && checked.every((m) => policy[m].level === 'privileged')) {
      // Upstream records the (privileged) enforce policy of a pod it did not need to evaluate.
      if (kind === 'pod') this.annotate(a, ENFORCE_POLICY_ANNOTATION, 'privileged:latest');
      return undefined;
    }
    return labelled;
  }

  private exemptByRuntimeClass(a: AdmissionAttributes, pod: PodMetaAndSpec): boolean {
    if (!this.exemptRuntimeClass(pod.spec.runtimeClassName)) return false;
    this.annotate(a, EXEMPT_ANNOTATION, 'runtimeClass');
    return true;
  }

  private annotateLabelErrors(a: AdmissionAttributes, policy: LabelledPolicy): void {
    if (policy.errors.length)
      this.annotate(a, ERROR_ANNOTATION, `Failed to parse policy: ${formatFieldErrors(policy.errors)}`);
  }

  private annotate(a: AdmissionAttributes, key: string, value: string): undefined {
    if (a.auditAnnotations) a.auditAnnotations[key] = value;
    return undefined;
  }

  private exemptNamespace(name: string): boolean {
    return name !== '' && this.config.exemptions.namespaces.includes(name);
  }

  private exemptRuntimeClass(name: string | undefined): boolean {
    return !!name && this.config.exemptions.runtimeClasses.includes(name);
  }

  private audit(a: AdmissionAttributes, policy: NamespacePolicy, pod: PodMetaAndSpec): void {
    if (policy.audit.level === 'privileged' || !a.auditAnnotations) return;
    const failed = evaluatePod(policy.audit, pod.meta, pod.spec);
    if (failed.length)
      a.auditAnnotations[AUDIT_VIOLATIONS_ANNOTATION] =
        `would violate PodSecurity ${JSON.stringify(formatLevelVersion(policy.audit))}: ${describeViolations(failed)}`;
  }

  private warn(a: AdmissionAttributes, policy: NamespacePolicy, pod: PodMetaAndSpec): void {
    if (policy.warn.level === 'privileged' || !a.warnings) return;
    const failed = evaluatePod(policy.warn, pod.meta, pod.spec);
    if (failed.length)
      a.warnings.push(
        `would violate PodSecurity ${JSON.stringify(formatLevelVersion(policy.warn))}: ${describeViolations(failed)}`,
      );
  }
}
