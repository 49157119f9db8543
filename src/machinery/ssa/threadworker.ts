// The field-management thread (see thread.ts): records an Update operation or performs an Apply,
// one job at a time, and answers with JSON.
import { parentPort } from 'node:worker_threads';
import { ApiError } from '../errors.js';
import { applyOperation, recordUpdateOperation } from './manager.js';
import { encodeStored } from '../objects.js';
import type { TypeRef } from './typed.js';

interface JobBase {
  id: number;
  manager: string;
  apiVersion: string;
  subresource?: string;
  statusSubresource: boolean;
  type: TypeRef;
  now: string;
}
/** Objects travel as JSON: a string crosses threads as one copy. */
export type FieldManagerJob =
  | (JobBase & { op: 'update'; obj: string; old?: string })
  | (JobBase & { op: 'apply'; live: string; config: string; force: boolean });
/**
 * An update answers with the managedFields' JSON and the object's storage form (encodeStored);
 * an apply with the applied object's JSON in pieces: the object without its managedFields, then
 * each entry, so that the event loop can parse them in turns of their own.
 */
export type FieldManagerResult =
  | { id: number; json: string; stored?: string; managedFields?: string[] }
  | { id: number; apiError: { code: number; reason: string; message: string; details?: ApiError['details'] } }
  | { id: number; error: string };

parentPort?.on('message', (job: FieldManagerJob) => {
  let result: FieldManagerResult;
  try {
    result = { id: job.id, ...run(job) };
  } catch (e) {
    result =
      e instanceof ApiError
        ? { id: job.id, apiError: { code: e.code, reason: e.reason, message: e.message, details: e.details } }
        : { id: job.id, error: (e as Error).message };
  }
  parentPort!.postMessage(result);
});

function run(job: FieldManagerJob): { json: string; stored?: string; managedFields?: string[] } {
  const now = () => job.now;
  const common = {
    manager: job.manager,
    apiVersion: job.apiVersion,
    subresource: job.subresource,
    statusSubresource: job.statusSubresource,
    type: job.type,
    now,
  };
  if (job.op === 'update') {
    const obj = JSON.parse(job.obj);
    recordUpdateOperation(obj, job.old === undefined ? undefined : JSON.parse(job.old), common);
    return { json: JSON.stringify(obj.metadata?.managedFields ?? null), stored: encodeStored(obj) };
  }
  const applied = applyOperation(JSON.parse(job.live), JSON.parse(job.config), { ...common, force: job.force });
  const entries: unknown = applied?.metadata?.managedFields;
  if (!Array.isArray(entries)) return { json: JSON.stringify(applied) };
  // null keeps the key's place in metadata for the entries parsed on their own.
  applied.metadata.managedFields = null;
  return { json: JSON.stringify(applied), managedFields: entries.map((e) => JSON.stringify(e)) };
}
