// A mutating webhook's answer applied: its base64 JSONPatch against the object it was sent,
// worded failures as upstream's mutating dispatcher, and the result put back into the request's
// object in place (the store holds references to it and to its metadata).
import * as errors from '../../../machinery/errors.js';
import { isPlainObject } from '../../../machinery/objects.js';
import { jsonPatch } from '../../../machinery/patch/json.js';
import { CallingWebhookError } from './errors.js';

/** The patched object; the input itself when the patch is empty. */
export function applyWebhookPatch(
  webhook: string,
  patch: string,
  patchType: string | undefined,
  object: unknown,
): unknown {
  if (patchType !== 'JSONPatch')
    throw new CallingWebhookError(webhook, `unsupported patch type ${JSON.stringify(patchType)}`);
  let ops: unknown;
  try {
    ops = JSON.parse(Buffer.from(patch, 'base64').toString('utf8'));
    if (!Array.isArray(ops)) throw new Error('the patch is not a JSON array of operations');
  } catch (err) {
    throw new CallingWebhookError(webhook, `received undecodable patch in webhook response: ${(err as Error).message}`);
  }
  if (ops.length === 0) return object;
  if (object === undefined || object === null)
    throw errors.internalError(
      new Error(
        `admission webhook ${JSON.stringify(webhook)} attempted to modify the object, which is not supported for this operation`,
      ),
    );
  try {
    return jsonPatch(object, ops);
  } catch (err) {
    throw errors.internalError(err);
  }
}

/** Make `target` hold `source`'s fields, keeping `target` (and its metadata object) the same objects. */
export function replaceContents(target: Record<string, unknown>, source: Record<string, unknown>): void {
  const keepMeta = isPlainObject(target.metadata) && isPlainObject(source.metadata);
  const meta = target.metadata as Record<string, unknown>;
  for (const k of Object.keys(target)) delete target[k];
  Object.assign(target, source);
  if (keepMeta) {
    const fresh = source.metadata as Record<string, unknown>;
    for (const k of Object.keys(meta)) delete meta[k];
    Object.assign(meta, fresh);
    target.metadata = meta;
  }
}
