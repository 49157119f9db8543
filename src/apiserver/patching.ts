// Applies the four patch types to an object, turning patch failures into API errors.
import * as errors from '../machinery/errors.js';
import { jsonPatch, mergePatch, PatchError, strategicMergePatch } from '../machinery/patch/index.js';
import type { PatchFn } from './rest.js';
import { applyOperation } from '../machinery/ssa/manager.js';
import { getDefinition } from '../machinery/openapi/definitions.js';

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
        return applyOperation(current, patch, {
          manager: ctx.fieldManager,
          force: ctx.force,
          apiVersion: typeof current?.apiVersion === 'string' ? current.apiVersion : String(patch?.apiVersion ?? ''),
          type,
          subresource: ctx.subresource,
          statusSubresource: ctx.statusSubresource,
        });
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
