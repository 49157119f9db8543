// managedFields bookkeeping for every write, as upstream's field manager: Update operations
// (create, update, non-apply patch) record what the manager changed; Apply operations computed
// their managedFields while merging (src/machinery/ssa) and keep them. Element keys are
// schema-aware: associative lists by their keys, sets by value, atomic values as leaves.
import { recordUpdateOperation, type ManagedFieldsEntry } from './ssa/manager.js';
import type { TypeRef } from './ssa/typed.js';
import { recordUpdateOffThread } from './ssa/thread.js';
import { jsonLengthExceeds } from './jsonsize.js';

/**
 * Objects whose JSON is longer than this have their managedFields worked out off the event loop
 * (ssa/thread.ts): below it the work takes a few milliseconds, less than the trip to the thread.
 */
export const OFF_THREAD_BYTES = 128 * 1024;

export type { ManagedFieldsEntry };
export { FieldSet } from './ssa/fieldset.js';

export interface ManageFieldsContext {
  fieldManager: string;
  subresource?: string;
  /** 'Apply' when the object was computed by server-side apply (its managedFields are final). */
  operation?: 'Apply' | 'Update';
  /** Bytes of the request body, when there was one: a big one goes off the thread unmeasured. */
  bodyBytes?: number;
  /** The old object's JSON text, when known (it spares serialising it for the thread). */
  oldJson?: string;
  /** Sees the object's storage form when the thread made it, and may refuse it (throw). */
  checkStored?: (json: string) => void;
}

/**
 * Record an Update by `manager` on obj (in place). `type` is the object's schema; without one
 * every object is a granular map and every list atomic.
 */
export function recordUpdate(
  obj: any,
  old: any,
  manager: string,
  apiVersion: string,
  subresource?: string,
  type: TypeRef = { schema: undefined },
  statusSubresource = false,
): void {
  recordUpdateOperation(obj, old, { manager, apiVersion, subresource, type, statusSubresource });
}

/**
 * The store's manageFields hook: a Promise when the work went to the field-management thread,
 * of the object's storage form (encodeStored) as the thread made it.
 */
export function manageFields(
  obj: any,
  old: any,
  ctx: ManageFieldsContext,
  apiVersion: string,
  type: TypeRef | undefined,
  statusSubresource: boolean,
): void | Promise<string | undefined> {
  if (ctx.operation === 'Apply') return;
  const t = type ?? { schema: undefined };
  // The size test stops at the threshold, so a small object costs what its size costs; but just
  // listing the keys of a map with 100,000 entries takes tens of milliseconds, so a big body
  // is taken at its word.
  if (
    (ctx.bodyBytes ?? 0) >= OFF_THREAD_BYTES ||
    jsonLengthExceeds(obj, OFF_THREAD_BYTES) ||
    (old !== undefined &&
      (ctx.oldJson !== undefined ? ctx.oldJson.length > OFF_THREAD_BYTES : jsonLengthExceeds(old, OFF_THREAD_BYTES)))
  ) {
    return recordUpdateOffThread(
      obj,
      old,
      { manager: ctx.fieldManager, apiVersion, subresource: ctx.subresource, type: t, statusSubresource },
      { oldJson: ctx.oldJson, checkStored: ctx.checkStored },
    );
  }
  recordUpdate(obj, old, ctx.fieldManager, apiVersion, ctx.subresource, t, statusSubresource);
}
