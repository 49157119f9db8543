// Applies the four patch types to an object, turning patch failures into API errors.
import * as errors from '../machinery/errors.js';
import { jsonPatch, mergePatch, PatchError, strategicMergePatch } from '../machinery/patch/index.js';
import type { PatchFn } from './handlers/request.js';
import { applyOperation } from '../machinery/ssa/manager.js';
import { applyOffThread } from '../machinery/ssa/thread.js';
import { getDefinition } from '../machinery/openapi/definitions.js';
import { OFF_THREAD_BYTES } from '../machinery/managedfields.js';
import { jsonLengthExceeds } from '../machinery/jsonsize.js';
import { deepCopy } from '../machinery/objects.js';

export const applyPatch: PatchFn = (type, current, patch, definition, ctx) => {
  try {
    switch (type) {
      case 'json':
        return jsonPatch(current, patch);
      case 'merge':
        return mergePatch(current, patch);
      case 'strategic':
        return strategicMergePatch(current, patch, definition);
      case 'apply': {
        // Server-side apply: a typed merge with field ownership (src/machinery/ssa).
        const type = ctx.type ?? { schema: definition ? getDefinition(definition) : undefined };
        // A big object or configuration is applied off the event loop (a Promise comes back); the
        // sizes known from texts spare measuring the objects.
        const big =
          (ctx.patchBytes ?? 0) > OFF_THREAD_BYTES ||
          (ctx.liveJson ? ctx.liveJson.length > OFF_THREAD_BYTES : jsonLengthExceeds(current, OFF_THREAD_BYTES)) ||
          (ctx.patchBytes === undefined && jsonLengthExceeds(patch, OFF_THREAD_BYTES));
        const opts = {
          manager: ctx.fieldManager,
          force: ctx.force,
          apiVersion: typeof current?.apiVersion === 'string' ? current.apiVersion : String(patch?.apiVersion ?? ''),
          type,
          subresource: ctx.subresource,
          statusSubresource: ctx.statusSubresource,
        };
        // `current` is shared (PatchContext.liveJson): the thread gets its text, this thread a copy.
        return big
          ? applyOffThread(current, patch, opts, { liveJson: ctx.liveJson, configJson: ctx.patchText })
          : applyOperation(deepCopy(current), patch, opts);
      }
    }
  } catch (err) {
    if (err instanceof PatchError) {
      if (err.reason === 'Invalid') throw new errors.ApiError(422, 'Invalid', err.message);
      if (err.reason === 'Conflict') throw new errors.ApiError(409, 'Conflict', err.message);
      throw errors.badRequest(err.message);
    }
    throw err;
  }
};
