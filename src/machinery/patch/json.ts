/**
 * RFC 6902 JSON Patch, applied with fast-json-patch.
 *
 * fast-json-patch reports failures as JsonPatchError codes; they are mapped to messages in the
 * style of upstream's json-patch library so clients see familiar text.
 */
import fastJsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { PatchError } from './errors.js';

export type JsonPatchOperation = Operation;

const VALID_OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/**
 * Applies `ops` to a copy of `obj` and returns the result. Neither input is modified, and the
 * result shares no objects with them. A failed `test` operation is an error.
 */
export function jsonPatch<T = unknown>(obj: T, ops: unknown): T {
  if (!Array.isArray(ops)) {
    throw new PatchError('json patch must be a JSON array of operations');
  }
  // Operation values are cloned too: fast-json-patch links `value` objects into the result.
  const operations = structuredClone(ops) as Operation[];
  operations.forEach(checkOperation);
  try {
    const result = fastJsonPatch.applyPatch(structuredClone(obj), operations, true, true, true);
    return result.newDocument as T;
  } catch (err) {
    throw mapError(err);
  }
}

function checkOperation(op: unknown, index: number): void {
  if (op === null || typeof op !== 'object' || Array.isArray(op)) {
    throw new PatchError(`json patch operation ${index} is not an object`);
  }
  const record = op as Record<string, unknown>;
  if (typeof record.op !== 'string' || !VALID_OPS.has(record.op)) {
    throw new PatchError(`Unexpected kind: ${String(record.op)}`);
  }
  if (typeof record.path !== 'string') {
    throw new PatchError(`json patch operation ${index} (${record.op}) is missing "path"`);
  }
  if ((record.op === 'move' || record.op === 'copy') && typeof record.from !== 'string') {
    throw new PatchError(`json patch operation ${index} (${record.op}) is missing "from"`);
  }
  if ((record.op === 'add' || record.op === 'replace' || record.op === 'test') && !('value' in record)) {
    throw new PatchError(`json patch operation ${index} (${record.op}) is missing "value"`);
  }
}

interface FastJsonPatchError {
  name: string;
  message: string;
  index?: number;
  operation?: { op?: string; path?: string; from?: string };
}

function isFastJsonPatchError(err: unknown): err is FastJsonPatchError {
  return err instanceof fastJsonPatch.JsonPatchError;
}

function mapError(err: unknown): PatchError {
  if (!isFastJsonPatchError(err)) {
    return new PatchError(`unable to apply json patch: ${err instanceof Error ? err.message : String(err)}`);
  }
  const op = err.operation?.op ?? 'unknown';
  const path = err.operation?.path ?? '';
  switch (err.name) {
    case 'TEST_OPERATION_FAILED':
      return new PatchError(`testing value ${path} failed: test failed`, 'Invalid');
    case 'OPERATION_PATH_UNRESOLVABLE':
      return new PatchError(`${op} operation does not apply: doc is missing path: "${path}": missing value`);
    case 'OPERATION_FROM_UNRESOLVABLE':
      return new PatchError(`${op} operation does not apply: doc is missing from path: "${err.operation?.from ?? ''}": missing value`);
    case 'OPERATION_PATH_CANNOT_ADD':
      return new PatchError(`add operation does not apply: doc is missing path: "${path}": missing value`);
    case 'OPERATION_PATH_ILLEGAL_ARRAY_INDEX':
    case 'OPERATION_VALUE_OUT_OF_BOUNDS':
      return new PatchError(`${op} operation does not apply: invalid index in path "${path}"`);
    case 'OPERATION_PATH_INVALID':
      return new PatchError(`${op} operation has an invalid path "${path}"`);
    default:
      return new PatchError(`unable to apply json patch operation ${op} at "${path}": ${err.message.split('\n')[0]}`);
  }
}
