// The field-management thread (see thread.ts): records an Update operation or performs an Apply,
// one job at a time, and answers with JSON.
import { parentPort } from 'node:worker_threads';
import { ApiError } from '../errors.js';
import { applyOperation, recordUpdateOperation } from './manager.js';
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
export type FieldManagerResult =
  | { id: number; json: string }
  | { id: number; apiError: { code: number; reason: string; message: string; details?: ApiError['details'] } }
  | { id: number; error: string };

parentPort?.on('message', (job: FieldManagerJob) => {
  let result: FieldManagerResult;
  try {
    result = { id: job.id, json: run(job) };
  } catch (e) {
    result =
      e instanceof ApiError
        ? { id: job.id, apiError: { code: e.code, reason: e.reason, message: e.message, details: e.details } }
        : { id: job.id, error: (e as Error).message };
  }
  parentPort!.postMessage(result);
});

function run(job: FieldManagerJob): string {
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
    return JSON.stringify(obj.metadata?.managedFields ?? null);
  }
  return JSON.stringify(applyOperation(JSON.parse(job.live), JSON.parse(job.config), { ...common, force: job.force }));
}
