// NamespaceLifecycle (upstream plugin/pkg/admission/namespace/lifecycle): objects can only be
// written in a namespace that exists, and nothing new is created in one that is terminating.
// Deletes are always allowed (the immortal system namespaces are refused by the namespace
// strategy's admitDelete).
import * as errors from '../../machinery/errors.js';
import { type AdmissionAttributes, type MutatingPlugin, forbiddenFor } from './interfaces.js';

export class NamespaceLifecycle implements MutatingPlugin {
  readonly name = 'NamespaceLifecycle';

  /** `lookup` returns the namespace object (from the watch cache) or undefined. */
  constructor(private readonly lookup: (name: string) => any) {}

  handles(a: AdmissionAttributes): boolean {
    return a.operation !== 'DELETE' && !!a.namespace && a.def.namespaced;
  }

  admit(a: AdmissionAttributes): void {
    const ns = this.lookup(a.namespace);
    if (!ns) throw errors.notFound({ group: '', resource: 'namespaces' }, a.namespace);
    if (a.operation !== 'CREATE') return;
    if (ns.metadata?.deletionTimestamp || ns.status?.phase === 'Terminating') {
      const e = forbiddenFor(
        a,
        `unable to create new content in namespace ${a.namespace} because it is being terminated`,
      );
      e.details!.causes = [
        {
          reason: 'NamespaceTerminating',
          message: `namespace ${a.namespace} is being terminated`,
          field: 'metadata.namespace',
        },
      ];
      throw e;
    }
  }
}
