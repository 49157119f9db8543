// managedFields bookkeeping for every write, as upstream's field manager: Update operations
// (create, update, non-apply patch) record what the manager changed; Apply operations computed
// their managedFields while merging (src/machinery/ssa) and keep them. Element keys are
// schema-aware: associative lists by their keys, sets by value, atomic values as leaves.
import { recordUpdateOperation, type ManagedFieldsEntry } from './ssa/manager.js';
import type { TypeRef } from './ssa/typed.js';

export type { ManagedFieldsEntry };
export { FieldSet } from './ssa/fieldset.js';

export interface ManageFieldsContext {
  fieldManager: string;
  subresource?: string;
  /** 'Apply' when the object was computed by server-side apply (its managedFields are final). */
  operation?: 'Apply' | 'Update';
}

/**
 * Record an Update by `manager` on obj (in place). `type` is the object's schema; without one
 * every object is a granular map and every list atomic.
 */
export function recordUpdate(obj: any, old: any | undefined, manager: string, apiVersion: string, subresource?: string, type: TypeRef = { schema: undefined }, statusSubresource = false): void {
  recordUpdateOperation(obj, old, { manager, apiVersion, subresource, type, statusSubresource });
}

/** The store's manageFields hook. */
export function manageFields(obj: any, old: any | undefined, ctx: ManageFieldsContext, apiVersion: string, type: TypeRef | undefined, statusSubresource: boolean): void {
  if (ctx.operation === 'Apply') return;
  recordUpdate(obj, old, ctx.fieldManager, apiVersion, ctx.subresource, type ?? { schema: undefined }, statusSubresource);
}
