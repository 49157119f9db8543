// The PodSecurity admission plugin (upstream k8s.io/pod-security-admission/admission): a
// validating plugin that applies the Pod Security Standards level a namespace's labels name.
// Pods: `enforce` refuses, `warn` adds a Warning, `audit` an audit annotation. Workload objects
// (pod templates): warn and audit only, never refused, since their pods are checked anyway.
// Namespaces: labels are validated, and a stricter enforce level lists the existing pods it
// would refuse.
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import * as errors from '../../../machinery/errors.js';
import { forbiddenFor, type AdmissionAttributes, type ValidatingPlugin } from '../interfaces.js';
import { defaultPodSecurityConfiguration, type NamespacePolicy, type PodSecurityConfiguration } from './config.js';
import { fullyPrivileged, policyFromLabels } from './labels.js';
import { existingPodWarnings } from './namespace.js';
import { describeViolations, evaluatePod, formatLevelVersion } from './policy.js';
import { hasPodTemplate, isSignificantPodUpdate, podTemplateOf, type PodMetaAndSpec } from './podspec.js';

export const ENFORCE_POLICY_ANNOTATION = 'pod-security.kubernetes.io/enforce-policy';
export const AUDIT_VIOLATIONS_ANNOTATION = 'pod-security.kubernetes.io/audit-violations';
export const EXEMPT_ANNOTATION = 'pod-security.kubernetes.io/exempt';

export interface PodSecurityDeps {
  /** A namespace by name (undefined: not found). */
  namespace(name: string): Namespace | undefined;
  /** The pods of a namespace. */
  podsIn(namespace: string): Pod[];
}

/** Pod subresources whose writes change what the checks see. */
const POD_SUBRESOURCES = new Set(['', 'ephemeralcontainers']);

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
    if (a.group === '' && a.resource === 'pods') return POD_SUBRESOURCES.has(a.subresource);
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
    const { policy, errors: labelErrors } = policyFromLabels(ns.metadata?.labels, this.config.defaults);
    if (labelErrors.length) throw errors.invalid('', 'Namespace', a.name, labelErrors);
    if (a.operation !== 'UPDATE') return;
    const old = policyFromLabels((a.oldObject as Namespace | undefined)?.metadata?.labels, this.config.defaults).policy;
    const enforce = policy.enforce;
    if (formatLevelVersion(enforce) === formatLevelVersion(old.enforce) || enforce.level === 'privileged') return;
    if (this.config.exemptions.namespaces.includes(a.name)) {
      a.warnings?.push(
        `namespace ${JSON.stringify(a.name)} is exempt from Pod Security, and the policy will not be enforced`,
      );
      return;
    }
    a.warnings?.push(
      ...existingPodWarnings(a.name, enforce, this.deps.podsIn(a.name), (rc) => this.exemptRuntimeClass(rc)),
    );
  }

  private validatePod(a: AdmissionAttributes): void {
    const pod = a.object as Pod;
    const current: PodMetaAndSpec = { meta: pod.metadata ?? {}, spec: pod.spec ?? { containers: [] } };
    if (a.operation === 'UPDATE' && a.subresource === '') {
      const old = a.oldObject as Pod;
      if (!isSignificantPodUpdate(current, { meta: old.metadata ?? {}, spec: old.spec ?? { containers: [] } })) return;
    }
    const policy = this.policyFor(a, current);
    if (!policy) return;
    const annotate = (k: string, v: string): void => {
      if (a.auditAnnotations) a.auditAnnotations[k] = v;
    };
    annotate(ENFORCE_POLICY_ANNOTATION, formatLevelVersion(policy.enforce));
    const enforceFailed = evaluatePod(policy.enforce, current.meta, current.spec);
    this.audit(a, policy, current);
    if (enforceFailed.length)
      throw forbiddenFor(
        a,
        `violates PodSecurity ${JSON.stringify(formatLevelVersion(policy.enforce))}: ${describeViolations(enforceFailed)}`,
      );
    // A request refused by enforce gets no warning besides its error (upstream).
    this.warn(a, policy, current);
  }

  private validateWorkload(a: AdmissionAttributes): void {
    const current = podTemplateOf(a.group, a.resource, a.object);
    if (!current) return;
    if (a.operation === 'UPDATE') {
      const old = podTemplateOf(a.group, a.resource, a.oldObject);
      if (old && !isSignificantPodUpdate(current, old)) return;
    }
    const policy = this.policyFor(a, current);
    if (!policy) return;
    this.audit(a, policy, current);
    this.warn(a, policy, current);
  }

  /** The namespace's policy, or undefined when the request is exempt or nothing is checked. */
  private policyFor(a: AdmissionAttributes, pod: PodMetaAndSpec): NamespacePolicy | undefined {
    const annotate = (why: string): undefined => {
      if (a.auditAnnotations) a.auditAnnotations[EXEMPT_ANNOTATION] = why;
      return undefined;
    };
    if (this.config.exemptions.namespaces.includes(a.namespace)) return annotate('namespace');
    if (this.config.exemptions.usernames.includes(a.user.name)) return annotate('user');
    const ns = this.deps.namespace(a.namespace);
    const { policy } = policyFromLabels(ns?.metadata?.labels, this.config.defaults);
    if (fullyPrivileged(policy)) return undefined;
    if (this.exemptRuntimeClass(pod.spec.runtimeClassName)) return annotate('runtimeClass');
    return policy;
  }

  private exemptRuntimeClass(name: string | undefined): boolean {
    return name !== undefined && this.config.exemptions.runtimeClasses.includes(name);
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
