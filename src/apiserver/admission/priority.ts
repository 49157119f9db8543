// Priority (upstream plugin/pkg/admission/priority): a new pod's spec.priority and
// spec.preemptionPolicy come from its PriorityClass (spec.priorityClassName), or from the
// globalDefault class when it names none, or 0; an unknown class or a conflicting explicit value
// is refused with upstream's messages. Only one PriorityClass may be the global default.
import { type AdmissionAttributes, type MutatingPlugin, type ValidatingPlugin, forbiddenFor } from './interfaces.js';

export class PriorityAdmission implements MutatingPlugin, ValidatingPlugin {
  readonly name = 'Priority';

  constructor(private readonly classes: () => any[]) {}

  handles(a: AdmissionAttributes): boolean {
    if (a.operation !== 'CREATE' || a.subresource) return false;
    return (
      (a.group === '' && a.resource === 'pods') || (a.group === 'scheduling.k8s.io' && a.resource === 'priorityclasses')
    );
  }

  private byName(name: string): any {
    return this.classes().find((c) => c.metadata?.name === name);
  }

  /** The global default class (the lowest value if several), as getDefaultPriorityClass. */
  private globalDefault(): any {
    let best: any;
    for (const c of this.classes()) if (c.globalDefault && (!best || c.value < best.value)) best = c;
    return best;
  }

  admit(a: AdmissionAttributes): void {
    if (a.resource !== 'pods') return;
    const spec = (a.object.spec ??= {});
    let priority = 0;
    let policy = 'PreemptLowerPriority';
    if (!spec.priorityClassName) {
      const def = this.globalDefault();
      if (def) {
        spec.priorityClassName = def.metadata.name;
        priority = def.value;
        policy = def.preemptionPolicy ?? policy;
      }
    } else {
      const pc = this.byName(spec.priorityClassName);
      if (!pc) throw forbiddenFor(a, `no PriorityClass with name ${spec.priorityClassName} was found`);
      priority = pc.value;
      policy = pc.preemptionPolicy ?? policy;
    }
    if (spec.priority !== undefined && spec.priority !== null && spec.priority !== priority) {
      throw forbiddenFor(
        a,
        `the integer value of priority (${spec.priority}) must not be provided in pod spec; priority admission controller computed ${priority} from the given PriorityClass name`,
      );
    }
    spec.priority = priority;
    if (spec.preemptionPolicy && spec.preemptionPolicy !== policy) {
      throw forbiddenFor(
        a,
        `the string value of PreemptionPolicy (${spec.preemptionPolicy}) must not be provided in pod spec; priority admission controller computed ${policy} from the given PriorityClass name`,
      );
    }
    spec.preemptionPolicy = policy;
  }

  validate(a: AdmissionAttributes): void {
    if (a.resource !== 'priorityclasses' || !a.object?.globalDefault) return;
    const existing = this.globalDefault();
    if (existing && existing.metadata?.name !== a.object.metadata?.name) {
      throw forbiddenFor(
        a,
        `PriorityClass ${existing.metadata.name} is already marked as default. Only one default can exist`,
      );
    }
  }
}
