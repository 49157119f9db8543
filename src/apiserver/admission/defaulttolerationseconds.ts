// DefaultTolerationSeconds (upstream plugin/pkg/admission/defaulttolerationseconds): a new pod
// that does not tolerate the node.kubernetes.io/not-ready and node.kubernetes.io/unreachable
// NoExecute taints gets tolerations for them with tolerationSeconds 300, so it stays five
// minutes on a failed node before taint eviction deletes it.
import type { AdmissionAttributes, MutatingPlugin } from './interfaces.js';

export const DEFAULT_NOT_READY_TOLERATION_SECONDS = 300;
export const DEFAULT_UNREACHABLE_TOLERATION_SECONDS = 300;

function tolerates(tolerations: any[], key: string): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== 'NoExecute') return false;
    if (t.operator === 'Exists' && !t.key) return true;
    return t.key === key;
  });
}

export class DefaultTolerationSeconds implements MutatingPlugin {
  readonly name = 'DefaultTolerationSeconds';

  constructor(
    private readonly notReadySeconds = DEFAULT_NOT_READY_TOLERATION_SECONDS,
    private readonly unreachableSeconds = DEFAULT_UNREACHABLE_TOLERATION_SECONDS,
  ) {}

  handles(a: AdmissionAttributes): boolean {
    return a.operation === 'CREATE' && !a.subresource && a.group === '' && a.resource === 'pods';
  }

  admit(a: AdmissionAttributes): void {
    const spec = (a.object.spec ??= {});
    const tolerations: any[] = spec.tolerations ?? [];
    const add: any[] = [];
    if (!tolerates(tolerations, 'node.kubernetes.io/not-ready')) {
      add.push({
        key: 'node.kubernetes.io/not-ready',
        operator: 'Exists',
        effect: 'NoExecute',
        tolerationSeconds: this.notReadySeconds,
      });
    }
    if (!tolerates(tolerations, 'node.kubernetes.io/unreachable')) {
      add.push({
        key: 'node.kubernetes.io/unreachable',
        operator: 'Exists',
        effect: 'NoExecute',
        tolerationSeconds: this.unreachableSeconds,
      });
    }
    if (add.length) spec.tolerations = [...tolerations, ...add];
  }
}
