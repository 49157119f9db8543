// core/v1 Namespace: the kubernetes finalizer and Active phase on create, the metadata.name label,
// finalizer-name and status-phase validation.
import type { Namespace } from 'kubernetes-types/core/v1.js';
import type { ResourceDef, StrategyContext } from '../../types.js';
import { type FieldError, type FieldPath, invalid, path } from '../../../machinery/fielderrors.js';
import { isQualifiedName } from '../../../machinery/validation.js';
import { forbidden } from '../../../machinery/errors.js';
import { namespaceColumns } from './tables.js';

export const NAME_LABEL = 'kubernetes.io/metadata.name';
const STANDARD_FINALIZERS = new Set(['kubernetes']);
/** Namespaces upstream's NamespaceLifecycle admission refuses to delete. */
const IMMORTAL_NAMESPACES = new Set(['default', 'kube-system', 'kube-public']);

/** SetDefaults_Namespace (+ NamespaceStatus): the metadata.name label, phase Active. */
export function defaultNamespace(ns: Namespace): void {
  const n = ns as any;
  if (n.metadata?.name) {
    n.metadata.labels ??= {};
    n.metadata.labels[NAME_LABEL] = n.metadata.name;
  }
  n.status ??= {};
  if (!n.status.phase) n.status.phase = 'Active';
}

function validateFinalizerName(name: string, p: FieldPath): FieldError[] {
  const errs = isQualifiedName(name).map((m) => invalid(p, name, m));
  if (!name.includes('/') && !STANDARD_FINALIZERS.has(name)) {
    errs.push(invalid(p, name, 'name is neither a standard finalizer name nor is it fully qualified'));
  }
  return errs;
}

export const namespaces: ResourceDef = {
  group: '',
  versions: [{ name: 'v1' }],
  kind: 'Namespace',
  plural: 'namespaces',
  singular: 'namespace',
  shortNames: ['ns'],
  namespaced: false,
  nameRule: 'dns1123-label',
  verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: { status: true },
  generationTracksSpec: false,
  table: namespaceColumns,
  defaults: defaultNamespace,

  prepareForCreate(obj: any) {
    obj.status = { phase: 'Active' };
    obj.spec ??= {};
    const fins: string[] = obj.spec.finalizers ?? [];
    if (!fins.includes('kubernetes')) obj.spec.finalizers = [...fins, 'kubernetes'];
    // The name label is enforced (Canonicalize), whatever the client sent.
    if (obj.metadata?.name) {
      obj.metadata.labels ??= {};
      obj.metadata.labels[NAME_LABEL] = obj.metadata.name;
    }
  },

  prepareForUpdate(obj: any, old: any, ctx: StrategyContext) {
    if (ctx.subresource === 'status') {
      obj.spec = old.spec;
    } else if (ctx.subresource === 'finalize') {
      obj.status = old.status;
    } else {
      obj.spec = { ...(obj.spec ?? {}), finalizers: old.spec?.finalizers };
      if (obj.spec.finalizers === undefined) delete obj.spec.finalizers;
      obj.status = old.status;
    }
    if (obj.metadata?.name) {
      obj.metadata.labels ??= {};
      obj.metadata.labels[NAME_LABEL] = obj.metadata.name;
    }
  },

  validate(obj: any, ctx: StrategyContext) {
    const errs: FieldError[] = [];
    const fp = path('spec', 'finalizers');
    (obj.spec?.finalizers ?? []).forEach((f: string, i: number) => {
      errs.push(...validateFinalizerName(f, ctx.subresource === 'finalize' ? fp.index(i) : fp));
    });
    if (ctx.subresource === 'status') {
      const phase = obj.status?.phase;
      if (!obj.metadata?.deletionTimestamp) {
        if (phase !== 'Active')
          errs.push(
            invalid(path('status', 'Phase'), phase ?? '', "may only be 'Active' if `deletionTimestamp` is empty"),
          );
      } else if (phase !== 'Terminating') {
        errs.push(
          invalid(
            path('status', 'Phase'),
            phase ?? '',
            "may only be 'Terminating' if `deletionTimestamp` is not empty",
          ),
        );
      }
    }
    return errs;
  },

  fieldSelectors: {
    'status.phase': (o) => o.status?.phase ?? '',
  },

  // A namespace goes only once the namespace controller has emptied it and removed its
  // spec.finalizers (through namespaces/finalize).
  deletionHeld: (obj: any) => (obj.spec?.finalizers?.length ?? 0) > 0,

  onMarkedForDeletion(obj: any) {
    obj.status = { ...(obj.status ?? {}), phase: 'Terminating' };
  },

  admitDelete(obj: any) {
    const name = obj.metadata?.name;
    if (IMMORTAL_NAMESPACES.has(name))
      throw forbidden({ group: '', resource: 'namespaces' }, name, 'this namespace may not be deleted');
  },
};
