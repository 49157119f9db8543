// RuntimeClass (upstream plugin/pkg/admission/runtimeclass): a new pod naming a RuntimeClass
// gets the class's overhead as spec.overhead and its scheduling constraints merged into its node
// selector and tolerations; an unknown class, a different overhead, or an overhead without a
// class that defines one is refused with upstream's messages.
import type { Pod, Toleration } from 'kubernetes-types/core/v1.js';
import type { RuntimeClass } from 'kubernetes-types/node/v1.js';
import { parseQuantityOrNull } from '../../machinery/quantity.js';
import { type AdmissionAttributes, type MutatingPlugin, type ValidatingPlugin, forbiddenFor } from './interfaces.js';

/** Two resource lists with the same names and equal amounts (apiequality.Semantic on quantities). */
function sameResources(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => {
    if (!Object.hasOwn(b, k)) return false;
    const x = parseQuantityOrNull(a[k]);
    const y = parseQuantityOrNull(b[k]);
    return x !== null && y !== null && x.cmp(y) === 0;
  });
}

const sameToleration = (a: Toleration, b: Toleration) =>
  (a.key ?? '') === (b.key ?? '') &&
  (a.operator || 'Equal') === (b.operator || 'Equal') &&
  (a.value ?? '') === (b.value ?? '') &&
  (a.effect ?? '') === (b.effect ?? '') &&
  (a.tolerationSeconds ?? null) === (b.tolerationSeconds ?? null);

/** Whether `ss` tolerates everything `t` does (upstream tolerations.isSuperset). */
export function toleratesSuperset(ss: Toleration, t: Toleration): boolean {
  if (sameToleration(ss, t)) return true;
  const matchesAllKeys = !ss.key && ss.operator === 'Exists';
  if ((t.key ?? '') !== (ss.key ?? '') && !matchesAllKeys) return false;
  if ((t.effect ?? '') !== (ss.effect ?? '') && ss.effect) return false;
  if (ss.effect === 'NoExecute' && ss.tolerationSeconds != null) {
    if (t.tolerationSeconds == null || t.tolerationSeconds > ss.tolerationSeconds) return false;
  }
  switch (ss.operator || 'Equal') {
    case 'Equal':
      return (t.operator || 'Equal') === 'Equal' && (t.value ?? '') === (ss.value ?? '');
    case 'Exists':
      return true;
    default:
      return false;
  }
}

/** Both lists, less every toleration another one already covers (upstream MergeTolerations). */
export function mergeTolerations(first: Toleration[], second: Toleration[]): Toleration[] {
  const all = [...first, ...second];
  const merged: Toleration[] = [];
  all.forEach((t, i) => {
    if (merged.some((m) => toleratesSuperset(m, t))) return;
    // Of two equal tolerations the first is kept.
    if (all.slice(i + 1).some((later) => !sameToleration(later, t) && toleratesSuperset(later, t))) return;
    merged.push(t);
  });
  return merged;
}

export class RuntimeClassAdmission implements MutatingPlugin, ValidatingPlugin {
  readonly name = 'RuntimeClass';

  constructor(private readonly lookup: (name: string) => RuntimeClass | undefined) {}

  handles(a: AdmissionAttributes): boolean {
    return a.operation === 'CREATE' && !a.subresource && a.group === '' && a.resource === 'pods';
  }

  /** The pod's class; undefined when it names none; refused when it names one that does not exist. */
  private classOf(a: AdmissionAttributes, pod: Pod): RuntimeClass | undefined {
    const name = pod.spec?.runtimeClassName;
    if (!name) return undefined;
    const rc = this.lookup(name);
    if (!rc) throw forbiddenFor(a, `pod rejected: RuntimeClass "${name}" not found`);
    return rc;
  }

  admit(a: AdmissionAttributes): void {
    const pod = a.object as Pod;
    const rc = this.classOf(a, pod);
    if (!rc || !pod.spec) return;
    const podFixed = rc.overhead?.podFixed;
    if (podFixed) {
      const own = pod.spec.overhead;
      if (own && Object.keys(own).length && !sameResources(podFixed, own)) {
        throw forbiddenFor(a, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead");
      }
      pod.spec.overhead = { ...podFixed };
    }
    const scheduling = rc.scheduling;
    if (!scheduling) return;
    const selector = pod.spec.nodeSelector ?? {};
    for (const [key, value] of Object.entries(scheduling.nodeSelector ?? {})) {
      const podValue = selector[key];
      if (podValue !== undefined && podValue !== value) {
        throw forbiddenFor(
          a,
          `conflict: runtimeClass.scheduling.nodeSelector[${key}] = ${value}; pod.spec.nodeSelector[${key}] = ${podValue}`,
        );
      }
      selector[key] = value;
    }
    if (Object.keys(selector).length) pod.spec.nodeSelector = selector;
    const tolerations = mergeTolerations(pod.spec.tolerations ?? [], scheduling.tolerations ?? []);
    if (tolerations.length) pod.spec.tolerations = tolerations;
  }

  validate(a: AdmissionAttributes): void {
    const pod = a.object as Pod;
    const overhead = pod.spec?.overhead;
    if (!overhead || !Object.keys(overhead).length) return;
    const podFixed = this.classOf(a, pod)?.overhead?.podFixed;
    if (!podFixed) {
      throw forbiddenFor(a, 'pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead');
    }
    if (!sameResources(podFixed, overhead)) {
      throw forbiddenFor(a, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead");
    }
  }
}
